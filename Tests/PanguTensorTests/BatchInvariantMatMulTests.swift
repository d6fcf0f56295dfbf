// Batch invariance of `Kernels.matmul`: each output row must be bit-identical whatever the number of token rows
// in the call (1 = decode kernel, a few = register tiles, ≥ 24 = prefill path), for every weight type and both
// weight layouts (row-major and the row-interleaved repack). The server relies on this so a request's logits do
// not depend on what else is batched with it (Docs/Serving.md).
import XCTest
@testable import PanguTensor

final class BatchInvariantMatMulTests: XCTestCase {
    static let types: [DType] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q5_K, .q6_K]

    func testEveryRowIsIndependentOfTheTokenCount() {
        Kernels.batchInvariant = true
        let k = 512, n = 72, tokens = 37  // n: a multiple of 8 (interleavable) plus an odd tail in the 32-row blocks
        var rng = QuantTestRNG(17)
        let wf = rng.normals(n * k, scale: 0.05), x = rng.normals(tokens * k)
        let arena = WeightArena()
        for t in Self.types {
            var bytes = [UInt8]()
            for r in 0..<n { bytes += QuantReference.quantize(Array(wf[(r * k)..<((r + 1) * k)]), as: t) }
            bytes.withUnsafeBytes { raw in
                let plain = WeightMatrix(rows: n, cols: k, dtype: t, data: raw.baseAddress!)
                let layouts = [("row-major", plain), ("prepared", arena.prepare(plain, releaseSource: false))]
                for (name, w) in layouts {
                    // Reference: every row alone (decode kernel).
                    var alone = [Float](repeating: 0, count: tokens * n)
                    x.withUnsafeBufferPointer { xp in
                        alone.withUnsafeMutableBufferPointer { y in
                            for r in 0..<tokens {
                                Kernels.matmul(xp.baseAddress! + r * k, tokens: 1, w, into: y.baseAddress! + r * n)
                            }
                        }
                    }
                    // The same rows in calls of 2, 3, 4, 5, 7, 24 and 37 tokens, starting at different offsets.
                    for chunk in [2, 3, 4, 5, 7, 24, 37] {
                        var got = [Float](repeating: .nan, count: tokens * n)
                        x.withUnsafeBufferPointer { xp in
                            got.withUnsafeMutableBufferPointer { y in
                                var r = 0
                                while r < tokens {
                                    let m = min(chunk, tokens - r)
                                    Kernels.matmul(xp.baseAddress! + r * k, tokens: m, w, into: y.baseAddress! + r * n)
                                    r += m
                                }
                            }
                        }
                        let differing = zip(alone, got).filter { $0.bitPattern != $1.bitPattern }.count
                        XCTAssertEqual(differing, 0, "\(t) \(name), \(chunk) tokens per call: \(differing) outputs differ")
                    }
                }
            }
        }
    }
}
