import XCTest
@testable import PanguTensor

/// quantize → dequantize error bounds per format on Gaussian data (relative RMS error).
final class QuantRoundTripTests: XCTestCase {
    /// Relative RMS bounds: about 1.5x what each format achieves on N(0,1) data (4- and 5-bit formats are ~0.1 / ~0.05).
    static let bounds: [(DType, Double)] = [
        (.f32, 0), (.f16, 5e-4), (.bf16, 4e-3), (.q8_0, 0.006), (.q8_1, 0.006), (.q8_K, 0.01),
        (.q4_0, 0.13), (.q4_1, 0.11), (.q5_0, 0.065), (.q5_1, 0.055),
        (.q4_K, 0.10), (.q5_K, 0.05), (.q6_K, 0.025),
    ]

    func relRMS(_ a: [Float], _ b: [Float]) -> Double {
        var e = 0.0, s = 0.0
        for i in 0..<a.count { e += Double(a[i] - b[i]) * Double(a[i] - b[i]); s += Double(a[i]) * Double(a[i]) }
        return (e / max(s, 1e-30)).squareRoot()
    }

    func testRoundTripErrorBounds() {
        var rng = QuantTestRNG(42)
        let k = 4096
        let x = rng.normals(k)
        for (t, bound) in Self.bounds {
            let q = QuantReference.quantize(x, as: t)
            XCTAssertEqual(q.count, t.rowBytes(k))
            let y = QuantReference.dequantize(q, dtype: t, k: k)
            let err = relRMS(x, y)
            XCTAssertLessThanOrEqual(err, bound, "\(t) relative RMS error \(err)")
            if t.isQuantized { XCTAssertGreaterThan(err, 0, "\(t) cannot be lossless on Gaussian data") }
        }
    }

    func testScaledAndDegenerateBlocks() {
        var rng = QuantTestRNG(3)
        for t in DType.allCases where t.isQuantized {
            let k = 512
            var x = rng.normals(k, scale: 1e-3)
            for i in 0..<256 { x[i] = 0 }            // an all-zero super-block must stay exactly zero
            for i in 256..<288 { x[i] *= 1e6 }       // wide dynamic range inside the second super-block
            let y = QuantReference.dequantize(QuantReference.quantize(x, as: t), dtype: t, k: k)
            for i in 0..<256 { XCTAssertEqual(y[i], 0, "\(t) zero block element \(i) = \(y[i])"); if y[i] != 0 { break } }
            XCTAssertTrue(y.allSatisfy { $0.isFinite }, "\(t) produced non-finite values")
            let big = Array(x[256..<288]), bigY = Array(y[256..<288])
            XCTAssertLessThan(relRMS(big, bigY), 0.2, "\(t) large sub-block")
        }
    }

    func testHalfConversions() {
        for v: Float in [0, -0, 1, -2.5, 65504, 1e-8, 3.14159, -1e5] {
            XCTAssertEqual(HalfConversion.f16ToFloat(HalfConversion.floatToF16(v)), Float(Float16(v)))
        }
        XCTAssertEqual(HalfConversion.floatToBF16(1.0), 0x3F80)
        XCTAssertEqual(HalfConversion.floatToBF16(Float(bitPattern: 0x3F80_8000)), 0x3F80)   // tie → even
        XCTAssertEqual(HalfConversion.floatToBF16(Float(bitPattern: 0x3F81_8000)), 0x3F82)   // tie → even (up)
        XCTAssertTrue(HalfConversion.bf16ToFloat(HalfConversion.floatToBF16(.nan)).isNaN)
    }
}

/// Non-finite inputs (a diverged activation, a corrupt weight) must not trap in any quantiser or kernel.
final class QuantNonFiniteTests: XCTestCase {
    func testNonFiniteInputsDoNotTrap() {
        var x = (0..<512).map { Float($0 % 13) - 6 }
        x[5] = .nan; x[40] = .infinity; x[300] = -.infinity; x[301] = 1e38
        for t in DType.allCases {
            let q = QuantReference.quantize(x, as: t)
            XCTAssertEqual(q.count, t.rowBytes(512))
            _ = QuantReference.dequantize(q, dtype: t, k: 512)
        }
        for w in [DType.q8_0, .q4_1, .q4_K] {
            let fmt = QuantKernels.activationFormat(for: w)
            var out = [UInt8](repeating: 0, count: fmt.rowBytes(512))
            x.withUnsafeBufferPointer { xp in
                out.withUnsafeMutableBytes { QuantKernels.quantizeActivations(xp.baseAddress!, k: 512, weights: w, into: $0.baseAddress!) }
            }
            // 32-value blocks without non-finite values are unaffected (block 2 = x[64..<96]).
            let clean = Array(x[64..<96])
            if fmt != .q8_K {
                XCTAssertEqual(Array(out[(2 * fmt.bytesPerBlock)..<(3 * fmt.bytesPerBlock)]), QuantReference.quantize(clean, as: fmt))
            }
        }
    }
}
