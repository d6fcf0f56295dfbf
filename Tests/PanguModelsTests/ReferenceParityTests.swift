// Logits of our engine against Hugging Face transformers (LlamaForCausalLM with attention_bias=True,
// mlp_bias=False = the openPangu-Embedded graph) on tiny checkpoints in the official layout.
// Goldens: scripts/make_model_fixtures.py. Tolerance: max |Δ| ≤ 1e-4 × max(1, max |golden|) (f32 compute).
import Foundation
import PanguModels
import PanguRuntime
import PanguTestSupport
import PanguWeights
import XCTest

struct Golden: Decodable {
    let prompt_ids: [Int]
    let decode_input_ids: [Int]
    let greedy_new_tokens: [Int]
}

func fixture(_ name: String) -> URL {
    Bundle.module.resourceURL!.appendingPathComponent("Fixtures").appendingPathComponent(name)
}

final class ReferenceParityTests: XCTestCase {
    static let variants = ["tiny-f32", "tiny-f32-tied", "tiny-bf16", "tiny-f16"]
    let tolerance: Float = 1e-4

    func load(_ variant: String) throws -> (LanguageModel, Golden, URL) {
        let dir = fixture(variant)
        let model = try ModelRegistry.load(directory: dir)
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: dir.appendingPathComponent("golden.json")))
        return (model, golden, dir)
    }

    func testPrefillLogitsMatchTransformers() throws {
        for variant in Self.variants {
            let (model, golden, dir) = try load(variant)
            let (ref, shape) = try NPYFile.read(dir.appendingPathComponent("prefill_logits.npy").path)
            XCTAssertEqual(shape, [golden.prompt_ids.count, model.info.vocabularySize])
            let logits = try model.forward([SequenceStep(tokens: golden.prompt_ids, cache: model.makeCache(),
                                                         allLogits: true)])[0]
            let vocab = model.info.vocabularySize
            for t in 0..<golden.prompt_ids.count {
                let c = compare(Array(logits[(t * vocab)..<((t + 1) * vocab)]), Array(ref[(t * vocab)..<((t + 1) * vocab)]))
                XCTAssertTrue(c.within(relative: tolerance), "\(variant) prefill row \(t): \(c)")
            }
        }
    }

    func testIncrementalDecodeMatchesTransformersCachedDecode() throws {
        for variant in Self.variants {
            let (model, golden, dir) = try load(variant)
            let (ref, _) = try NPYFile.read(dir.appendingPathComponent("decode_logits.npy").path)
            let vocab = model.info.vocabularySize
            let cache = model.makeCache()
            _ = try model.forward([SequenceStep(tokens: golden.prompt_ids, cache: cache)])
            for (j, id) in golden.decode_input_ids.enumerated() {
                let logits = try model.forward([SequenceStep(tokens: [id], cache: cache)])[0]
                let c = compare(logits, Array(ref[(j * vocab)..<((j + 1) * vocab)]))
                XCTAssertTrue(c.within(relative: tolerance), "\(variant) decode step \(j): \(c)")
            }
            XCTAssertEqual(cache.count, golden.prompt_ids.count + golden.decode_input_ids.count)
        }
    }

    func testCachedDecodeEqualsUncachedRecomputation() throws {
        for variant in Self.variants {
            let (model, golden, _) = try load(variant)
            let all = golden.prompt_ids + golden.decode_input_ids
            let full = try model.forward([SequenceStep(tokens: all, cache: model.makeCache(), allLogits: true)])[0]
            let cache = model.makeCache()
            _ = try model.forward([SequenceStep(tokens: golden.prompt_ids, cache: cache)])
            let vocab = model.info.vocabularySize
            for (j, id) in golden.decode_input_ids.enumerated() {
                let step = try model.forward([SequenceStep(tokens: [id], cache: cache)])[0]
                let row = golden.prompt_ids.count + j
                let c = compare(step, Array(full[(row * vocab)..<((row + 1) * vocab)]))
                XCTAssertTrue(c.within(relative: 1e-5), "\(variant) step \(j) cached vs uncached: \(c)")
            }
        }
    }

    func testGreedyGenerationReproducesTransformers() throws {
        for variant in Self.variants {
            let (model, golden, _) = try load(variant)
            // No EOS stop: the reference generated a fixed 16 tokens with eos_token_id=None.
            let generator = TokenGenerator(model: model, eosTokenIds: [])
            let result = try generator.generate(prompt: golden.prompt_ids, cache: model.makeCache(), sampling: .greedy,
                                                maxTokens: golden.greedy_new_tokens.count)
            XCTAssertEqual(result.tokens, golden.greedy_new_tokens, variant)
        }
    }

    func testBatchOfSequencesEqualsSeparateRuns() throws {
        let (model, golden, _) = try load("tiny-f32")
        let a = golden.prompt_ids, b = Array(golden.decode_input_ids + golden.prompt_ids.prefix(3))
        let ca = model.makeCache(), cb = model.makeCache()
        let together = try model.forward([SequenceStep(tokens: a, cache: ca, allLogits: true),
                                          SequenceStep(tokens: b, cache: cb, allLogits: true)])
        let sa = try model.forward([SequenceStep(tokens: a, cache: model.makeCache(), allLogits: true)])[0]
        let sb = try model.forward([SequenceStep(tokens: b, cache: model.makeCache(), allLogits: true)])[0]
        XCTAssertTrue(compare(together[0], sa).within(relative: 1e-5))
        XCTAssertTrue(compare(together[1], sb).within(relative: 1e-5))
        // Then one decode step for both at different positions.
        let next = try model.forward([SequenceStep(tokens: [5], cache: ca), SequenceStep(tokens: [7], cache: cb)])
        let ra = try model.forward([SequenceStep(tokens: a + [5], cache: model.makeCache())])[0]
        let rb = try model.forward([SequenceStep(tokens: b + [7], cache: model.makeCache())])[0]
        XCTAssertTrue(compare(next[0], ra).within(relative: 1e-5))
        XCTAssertTrue(compare(next[1], rb).within(relative: 1e-5))
    }

    func testBF16CheckpointIsCloseToTransformersBF16Compute() throws {
        // Information-level check against transformers computing in bfloat16 (looser: bf16 rounding differs).
        let (model, golden, dir) = try load("tiny-bf16")
        let (ref, _) = try NPYFile.read(dir.appendingPathComponent("bf16_reference_logits.npy").path)
        let logits = try model.forward([SequenceStep(tokens: golden.prompt_ids, cache: model.makeCache(), allLogits: true)])[0]
        let c = compare(logits, ref)
        XCTAssertLessThan(c.maxAbsDiff, 0.15, "\(c)")
    }
}
