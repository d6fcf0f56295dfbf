// bf16/f16 checkpoints: matrices repacked into the row-interleaved float layout at load compute the same logits as
// the file layout (PANGU_REPACK=0), for a prompt (panel prefill or few-token tiles) and a cached decode step.
import Foundation
import PanguEngine
import PanguModels
import PanguRuntime
import PanguTensor
import PanguTestSupport
import XCTest

final class FloatRepackTests: XCTestCase {
    func checkpoint(_ dtype: DType) throws -> URL {
        let dir = try makeTemporaryDirectory("pangu-repack-\(dtype)")
        var p = TestModelPreset.tiny
        p.hidden = 136; p.intermediate = 300; p.heads = 4; p.kvHeads = 2; p.layers = 2  // 300: not a multiple of 8 or 16
        try TestCheckpointWriter.write(p, dtype: dtype, seed: 33, to: dir)
        return dir
    }

    func testRepackedFloatLayoutMatchesFileLayout() throws {
        for dtype in [DType.bf16, .f16] {
            let dir = try checkpoint(dtype)
            defer { try? FileManager.default.removeItem(at: dir) }
            let repacked = try Engine(directory: dir, prefault: false)
            setenv("PANGU_REPACK", "0", 1)
            let plain = try Engine(directory: dir, prefault: false)
            unsetenv("PANGU_REPACK")
            XCTAssertGreaterThan(repacked.model.info.repackedBytes, 0, "\(dtype) matrices should be repacked")
            XCTAssertEqual(plain.model.info.repackedBytes, 0)
            // 30 prompt tokens take the panel GEMM (≥ 24), 5 the few-token tiles, then one cached decode step.
            let text = String(repeating: "Repacking must not change the numbers 42. ", count: 4)
            let ids = Array(repacked.tokenizer.encode(text, addSpecialTokens: true).prefix(30))
            XCTAssertEqual(ids.count, 30)
            for split in [29, 5] {
                func run(_ e: Engine) throws -> [Float] {
                    let cache = e.model.makeCache()
                    var out = try e.model.forward([SequenceStep(tokens: Array(ids[..<split]), cache: cache, allLogits: true)])[0]
                    out += try e.model.forward([SequenceStep(tokens: [ids[split]], cache: cache, allLogits: true)])[0]
                    return out
                }
                let a = try run(repacked), b = try run(plain)
                XCTAssertEqual(a.count, b.count)
                // Float weights, f32 activations: only the summation order differs (~1e-7 relative per product,
                // a few 1e-6 after two layers); a wrong row, column or padding would move logits by O(1).
                let scale = b.map { abs($0) }.max()!
                let diff = zip(a, b).map { abs($0 - $1) }.max()!
                print("\(dtype) split \(split): max |repacked − file| = \(diff) (max |logit| \(scale))")
                XCTAssertLessThanOrEqual(diff, 1e-5 * scale, "\(dtype) split \(split)")
            }
        }
    }
}
