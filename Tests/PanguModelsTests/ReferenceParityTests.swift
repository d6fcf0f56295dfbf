// Logits of our engine against Hugging Face transformers (LlamaForCausalLM with attention_bias=True,
// mlp_bias=False = the openPangu-Embedded graph) on tiny checkpoints in the official layout.
// Goldens: scripts/make_model_fixtures.py. Checks and tolerances: ParityFixture.swift.
import PanguModels
import XCTest

final class ReferenceParityTests: XCTestCase {
    static let variants = ["tiny-f32", "tiny-f32-tied", "tiny-bf16", "tiny-f16"]

    func testPrefillLogitsMatchTransformers() throws {
        for v in Self.variants {
            let f = try ParityFixture(v)
            XCTAssertTrue(f.model is PanguEmbedded, v)
            try f.checkPrefill()
        }
    }

    func testIncrementalDecodeMatchesTransformersCachedDecode() throws {
        for v in Self.variants { try ParityFixture(v).checkCachedDecode() }
    }

    func testCachedDecodeEqualsUncachedRecomputation() throws {
        for v in Self.variants { try ParityFixture(v).checkCachedEqualsUncached() }
    }

    func testGreedyGenerationReproducesTransformers() throws {
        // No EOS stop: the reference generated a fixed 16 tokens with eos_token_id=None.
        for v in Self.variants { try ParityFixture(v).checkGreedy() }
    }

    func testBatchOfSequencesEqualsSeparateRuns() throws {
        try ParityFixture("tiny-f32").checkBatchEqualsSeparateRuns()
    }

    func testBF16CheckpointIsCloseToTransformersBF16Compute() throws {
        // Information-level check against transformers computing in bfloat16 (looser: bf16 rounding differs).
        try ParityFixture("tiny-bf16").checkCloseToBF16Reference(bound: 0.15)
    }
}
