// Batch invariance at the model level: a sequence's logits must be bit-identical whether its steps run alone or
// inside a batch with other sequences that join at different steps (prompts of different lengths mixed with
// single-token decode steps), for float weights and for every quantised kernel family (row-interleaved q8_0, q4_0,
// q4_K, q6_K; plain-layout q4_1 and q5_K).
import Foundation
import PanguEngine
import PanguModels
import PanguRuntime
import PanguTensor
import PanguTestSupport
import XCTest

final class BatchInvarianceTests: XCTestCase {
    static let source: URL = {
        let dir = try! makeTemporaryDirectory("pangu-invariance-src")
        // hidden 256 so the K-quants apply without fallback.
        var p = TestModelPreset.tiny
        p.hidden = 256; p.intermediate = 512; p.heads = 4; p.kvHeads = 2; p.layers = 2
        try! TestCheckpointWriter.write(p, dtype: .bf16, seed: 5, to: dir)
        return dir
    }()

    /// Prompt lengths: one long enough (with the others) for the prefill GEMM path, one single token.
    static let promptLengths = [5, 30, 1, 12]
    static let decodeSteps = 3

    /// Per sequence, the logits of each of its steps (prompt, then decode tokens).
    func run(_ m: LanguageModel, together: Bool) throws -> [[[Float]]] {
        let vocab = m.info.vocabularySize
        let seqs = Self.promptLengths.enumerated().map { i, n in (0..<n).map { ($0 * 31 + i * 97 + 7) % vocab } }
        // Fixed decode inputs (not sampled), so a difference cannot come from a different token choice.
        func decodeToken(_ i: Int, _ j: Int) -> Int { (i * 13 + j * 101 + 3) % vocab }
        var out = Array(repeating: [[Float]](), count: seqs.count)
        if !together {
            for (i, prompt) in seqs.enumerated() {
                let cache = m.makeCache()
                out[i].append(try m.forward([SequenceStep(tokens: prompt, cache: cache)])[0])
                for j in 1...Self.decodeSteps {
                    out[i].append(try m.forward([SequenceStep(tokens: [decodeToken(i, j)], cache: cache)])[0])
                }
            }
            return out
        }
        // Sequence i joins at step i: its prompt runs next to the others' decode steps.
        let caches = seqs.map { _ in m.makeCache() }
        for step in 0..<(seqs.count + Self.decodeSteps) {
            var batch: [SequenceStep] = [], members: [Int] = []
            for i in seqs.indices where step >= i && step - i <= Self.decodeSteps {
                let j = step - i
                batch.append(SequenceStep(tokens: j == 0 ? seqs[i] : [decodeToken(i, j)], cache: caches[i]))
                members.append(i)
            }
            for (i, logits) in zip(members, try m.forward(batch)) { out[i].append(logits) }
        }
        return out
    }

    func check(_ m: LanguageModel, _ label: String) throws {
        let alone = try run(m, together: false), together = try run(m, together: true)
        for i in alone.indices {
            for j in alone[i].indices {
                let differing = zip(alone[i][j], together[i][j]).filter { $0.bitPattern != $1.bitPattern }.count
                XCTAssertEqual(differing, 0, "\(label): sequence \(i) step \(j): \(differing) logits differ when batched")
            }
        }
    }

    override func setUp() { Kernels.batchInvariant = true }

    func testFloatWeightsAreBatchInvariant() throws {
        try check(try Engine(directory: Self.source, prefault: false).model, "bf16")
        let dir = try makeTemporaryDirectory("pangu-invariance-f32")
        var p = TestModelPreset.tiny
        p.layers = 2
        try TestCheckpointWriter.write(p, dtype: .f32, seed: 6, to: dir)
        try check(try Engine(directory: dir, prefault: false).model, "f32")
    }

    func testQuantisedWeightsAreBatchInvariant() throws {
        for type in ["q8_0", "q4_0", "q4_1", "q4_k_m", "q5_k_m"] {
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("pangu-inv-\(type)-\(UUID()).gguf")
            try Quantizer.quantize(directory: Self.source, recipe: QuantizationRecipe.all[type]!, output: url.path)
            defer { try? FileManager.default.removeItem(at: url) }
            try check(try Engine(directory: url, prefault: false).model, type)
        }
    }
}
