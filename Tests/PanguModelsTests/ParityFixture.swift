// The checks every architecture's parity tests run on its tiny fixtures: prefill and cached decode logits against
// goldens written by an independent reference (transformers for the dense model, Huawei's modeling code for Pro
// MoE), greedy tokens, cached vs uncached, and batch vs separate sequences. Tolerance: max |Δ| ≤ 1e-4 × max(1,
// max |golden row|) against the references (f32 compute); 1e-5 between two computations of our own.
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

/// One fixture directory: the model loaded through the registry, its golden.json and reference logits.
struct ParityFixture {
    static let referenceTolerance: Float = 1e-4
    let variant: String
    let model: LanguageModel
    let golden: Golden
    let directory: URL
    var vocab: Int { model.info.vocabularySize }

    init(_ variant: String) throws {
        self.variant = variant
        directory = fixture(variant)
        model = try ModelRegistry.load(directory: directory)
        golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: directory.appendingPathComponent("golden.json")))
    }

    func row(_ a: [Float], _ r: Int) -> [Float] { Array(a[(r * vocab)..<((r + 1) * vocab)]) }

    /// Logits of the whole prompt in one uncached forward, row by row, against `prefill_logits.npy` ([T, V]).
    func checkPrefill(file: StaticString = #filePath, line: UInt = #line) throws {
        let (ref, shape) = try NPYFile.read(directory.appendingPathComponent("prefill_logits.npy").path)
        XCTAssertEqual(shape, [golden.prompt_ids.count, vocab], variant, file: file, line: line)
        let logits = try model.forward([SequenceStep(tokens: golden.prompt_ids, cache: model.makeCache(), allLogits: true)])[0]
        for t in 0..<golden.prompt_ids.count {
            let c = compare(row(logits, t), row(ref, t))
            XCTAssertTrue(c.within(relative: Self.referenceTolerance), "\(variant) prefill row \(t): \(c)", file: file, line: line)
        }
    }

    /// Every cached decode step after the prompt against `decode_logits.npy` (the reference's own cached decode).
    func checkCachedDecode(file: StaticString = #filePath, line: UInt = #line) throws {
        let (ref, _) = try NPYFile.read(directory.appendingPathComponent("decode_logits.npy").path)
        let cache = model.makeCache()
        _ = try model.forward([SequenceStep(tokens: golden.prompt_ids, cache: cache)])
        for (j, id) in golden.decode_input_ids.enumerated() {
            let logits = try model.forward([SequenceStep(tokens: [id], cache: cache)])[0]
            let c = compare(logits, row(ref, j))
            XCTAssertTrue(c.within(relative: Self.referenceTolerance), "\(variant) decode step \(j): \(c)", file: file, line: line)
        }
        XCTAssertEqual(cache.count, golden.prompt_ids.count + golden.decode_input_ids.count, variant, file: file, line: line)
    }

    /// Cached step-by-step decoding equals one uncached forward over prompt + decode tokens.
    func checkCachedEqualsUncached(file: StaticString = #filePath, line: UInt = #line) throws {
        let all = golden.prompt_ids + golden.decode_input_ids
        let full = try model.forward([SequenceStep(tokens: all, cache: model.makeCache(), allLogits: true)])[0]
        let cache = model.makeCache()
        _ = try model.forward([SequenceStep(tokens: golden.prompt_ids, cache: cache)])
        for (j, id) in golden.decode_input_ids.enumerated() {
            let step = try model.forward([SequenceStep(tokens: [id], cache: cache)])[0]
            let c = compare(step, row(full, golden.prompt_ids.count + j))
            XCTAssertTrue(c.within(relative: 1e-5), "\(variant) step \(j) cached vs uncached: \(c)", file: file, line: line)
        }
    }

    /// Greedy generation without an EOS stop reproduces the reference's fixed-length greedy tokens.
    func checkGreedy(file: StaticString = #filePath, line: UInt = #line) throws {
        let generator = TokenGenerator(model: model, eosTokenIds: [])
        let result = try generator.generate(prompt: golden.prompt_ids, cache: model.makeCache(), sampling: .greedy,
                                            maxTokens: golden.greedy_new_tokens.count)
        XCTAssertEqual(result.tokens, golden.greedy_new_tokens, variant, file: file, line: line)
    }

    /// Two sequences in one step (prefill, then one decode token each at different positions) equal separate runs.
    func checkBatchEqualsSeparateRuns(file: StaticString = #filePath, line: UInt = #line) throws {
        let a = golden.prompt_ids, b = Array(golden.decode_input_ids + golden.prompt_ids.prefix(3))
        let ca = model.makeCache(), cb = model.makeCache()
        let together = try model.forward([SequenceStep(tokens: a, cache: ca, allLogits: true),
                                          SequenceStep(tokens: b, cache: cb, allLogits: true)])
        let sa = try model.forward([SequenceStep(tokens: a, cache: model.makeCache(), allLogits: true)])[0]
        let sb = try model.forward([SequenceStep(tokens: b, cache: model.makeCache(), allLogits: true)])[0]
        XCTAssertTrue(compare(together[0], sa).within(relative: 1e-5), variant, file: file, line: line)
        XCTAssertTrue(compare(together[1], sb).within(relative: 1e-5), variant, file: file, line: line)
        let next = try model.forward([SequenceStep(tokens: [5], cache: ca), SequenceStep(tokens: [7], cache: cb)])
        let ra = try model.forward([SequenceStep(tokens: a + [5], cache: model.makeCache())])[0]
        let rb = try model.forward([SequenceStep(tokens: b + [7], cache: model.makeCache())])[0]
        XCTAssertTrue(compare(next[0], ra).within(relative: 1e-5), variant, file: file, line: line)
        XCTAssertTrue(compare(next[1], rb).within(relative: 1e-5), variant, file: file, line: line)
    }

    /// Prefill logits against the reference computing in bfloat16 (`bf16_reference_logits.npy`): information-level,
    /// max |Δ| below `bound`, because the reference rounds intermediate results to bf16 and we compute in f32.
    func checkCloseToBF16Reference(bound: Float, file: StaticString = #filePath, line: UInt = #line) throws {
        let (ref, _) = try NPYFile.read(directory.appendingPathComponent("bf16_reference_logits.npy").path)
        let logits = try model.forward([SequenceStep(tokens: golden.prompt_ids, cache: model.makeCache(), allLogits: true)])[0]
        let c = compare(logits, ref)
        XCTAssertLessThan(c.maxAbsDiff, bound, "\(variant): \(c)", file: file, line: line)
    }
}
