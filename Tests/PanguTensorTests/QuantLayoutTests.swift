import XCTest
@testable import PanguTensor

/// Bit-exact layout tests against golden bytes from the `gguf` Python package
/// (scripts/quant/make_quant_goldens.py).
final class QuantLayoutTests: XCTestCase {
    static let legacy: [DType] = [.f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1]

    func testQuantizeMatchesGGUFBytes() throws {
        let x = try QuantFixtures.floats("input.f32")
        XCTAssertEqual(x.count, 512)
        for t in Self.legacy {
            let golden = try QuantFixtures.bytes("\(t).bin")
            let ours = QuantReference.quantize(x, as: t)
            XCTAssertEqual(ours.count, golden.count, "\(t) size")
            let firstDiff = zip(ours, golden).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            XCTAssertNil(firstDiff, "\(t): first differing byte \(firstDiff ?? -1) (block \((firstDiff ?? 0) / t.bytesPerBlock))")
        }
    }

    func testDequantizeMatchesGGUF() throws {
        for t in Self.legacy {
            let golden = try QuantFixtures.floats("\(t).deq")
            let ours = QuantReference.dequantize(try QuantFixtures.bytes("\(t).bin"), dtype: t, k: golden.count)
            XCTAssertEqual(ours.map(\.bitPattern), golden.map(\.bitPattern), "\(t) dequantisation differs from gguf")
        }
    }

    func testKQuantDequantizeMatchesGGUF() throws {
        for t in [DType.q4_K, .q5_K, .q6_K] {
            let raw = try QuantFixtures.bytes("\(t).raw.bin")
            let golden = try QuantFixtures.floats("\(t).deq")
            XCTAssertEqual(raw.count, golden.count / 256 * t.bytesPerBlock)
            let ours = QuantReference.dequantize(raw, dtype: t, k: golden.count)
            for i in 0..<golden.count where ours[i].bitPattern != golden[i].bitPattern {
                XCTFail("\(t) element \(i): ours \(ours[i]) gguf \(golden[i])"); break
            }
        }
    }

    /// Our K-quant quantisers must produce blocks whose gguf-defined meaning (checked above) is close to the input.
    func testFastActivationQuantizerMatchesReference() {
        var rng = QuantTestRNG(7)
        for k in [32, 96, 4096] {
            var x = rng.normals(k, scale: 2)
            x[3] = 0.5 / 127 * 2 // near a rounding tie after scaling
            // Block 0 with amax 127 → d = 1: exact .5 ties must round away from zero (C roundf), like the reference.
            x[0] = 127
            for i in 1..<32 { x[i] = Float(i % 9) - 4.5 + (i % 5 == 0 ? 0.49999997 : 0) }
            for w in [DType.q4_0, .q4_1, .q4_K] {
                let fmt = QuantKernels.activationFormat(for: w)
                guard k % w.blockSize == 0 else { continue }
                var fast = [UInt8](repeating: 0, count: fmt.rowBytes(k))
                x.withUnsafeBufferPointer { xp in
                    fast.withUnsafeMutableBytes { QuantKernels.quantizeActivations(xp.baseAddress!, k: k, weights: w, into: $0.baseAddress!) }
                }
                XCTAssertEqual(fast, QuantReference.quantize(x, as: fmt), "\(fmt) k=\(k)")
            }
        }
    }
}
