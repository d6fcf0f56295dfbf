import XCTest
@testable import PanguTensor

/// Fast (AVX2 on x86-64) and portable GEMM kernels against the dequantise-and-dot f64 reference.
final class QuantGemmTests: XCTestCase {
    static let weightTypes: [DType] = [.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q5_K, .q6_K, .f32, .f16, .bf16]

    struct Problem {
        let dtype: DType, k: Int, rows: Int, tokens: Int
        var w: [UInt8], qx: [UInt8], wf: [Float], xf: [Float]
    }

    func makeProblem(_ t: DType, k: Int, rows: Int, tokens: Int, seed: UInt64) -> Problem {
        var rng = QuantTestRNG(seed)
        let wf = rng.normals(rows * k, scale: 0.05)
        let xf = rng.normals(tokens * k)
        var w = [UInt8]()
        for r in 0..<rows { w += QuantReference.quantize(Array(wf[(r * k)..<((r + 1) * k)]), as: t) }
        let fmt = QuantKernels.activationFormat(for: t)
        var qx = [UInt8](repeating: 0, count: tokens * fmt.rowBytes(k))
        xf.withUnsafeBufferPointer { xp in
            qx.withUnsafeMutableBytes { q in
                for i in 0..<tokens {
                    QuantKernels.quantizeActivations(xp.baseAddress! + i * k, k: k, weights: t,
                                                     into: q.baseAddress! + i * fmt.rowBytes(k))
                }
            }
        }
        return Problem(dtype: t, k: k, rows: rows, tokens: tokens, w: w, qx: qx, wf: wf, xf: xf)
    }

    typealias Kernel = (UnsafeRawPointer, DType, Int, Range<Int>, UnsafeRawPointer, Int, UnsafeMutablePointer<Float>, Int) -> Void

    func run(_ p: Problem, rows: Range<Int>, outStride: Int, _ kernel: Kernel) -> [Float] {
        var out = [Float](repeating: .nan, count: p.tokens * outStride)
        p.w.withUnsafeBytes { w in
            p.qx.withUnsafeBytes { q in
                out.withUnsafeMutableBufferPointer {
                    kernel(w.baseAddress!, p.dtype, p.k, rows, q.baseAddress!, p.tokens, $0.baseAddress!, outStride)
                }
            }
        }
        return out
    }

    static var fast: Kernel { { QuantKernels.gemm(weights: $0, dtype: $1, k: $2, rows: $3, qx: $4, tokens: $5, out: $6, outStride: $7) } }
    static var portable: Kernel { { QuantKernels.gemmPortable(weights: $0, dtype: $1, k: $2, rows: $3, qx: $4, tokens: $5, out: $6, outStride: $7) } }
    static var reference: Kernel { { QuantKernels.gemmReference(weights: $0, dtype: $1, k: $2, rows: $3, qx: $4, tokens: $5, out: $6, outStride: $7) } }

    /// |kernel - reference| ≤ 2e-5 · Σ|w·a| + 1e-6 (f32 accumulation of exact integer block sums).
    func check(_ t: DType, k: Int, rows: Int, tokens: Int, sub: Range<Int>, seed: UInt64) {
        let p = makeProblem(t, k: k, rows: rows, tokens: tokens, seed: seed)
        let stride = sub.count + 3
        let ref = run(p, rows: sub, outStride: stride, Self.reference)
        // Scale for the tolerance: Σ|w|·|a| from the dequantised operands.
        let fmt = QuantKernels.activationFormat(for: t)
        for (name, kern) in [("fast", Self.fast), ("portable", Self.portable)] {
            let got = run(p, rows: sub, outStride: stride, kern)
            for tok in 0..<tokens {
                let a = QuantReference.dequantize(Array(p.qx[(tok * fmt.rowBytes(k))...]), dtype: fmt, k: k)
                for (j, r) in sub.enumerated() {
                    let wr = QuantReference.dequantize(Array(p.w[(r * t.rowBytes(k))...]), dtype: t, k: k)
                    var mag: Float = 0
                    for i in 0..<k { mag += abs(wr[i] * a[i]) }
                    if fmt == .q8_1 {
                        // q8_1 stores s = d·Σq rounded to f16; kernels use it for the min term m·s (as ggml does).
                        let wb = Array(p.w[(r * t.rowBytes(k))...]), ab = Array(p.qx[(tok * fmt.rowBytes(k))...])
                        for b in 0..<(k / 32) {
                            let m = Float(Float16(bitPattern: UInt16(wb[b * t.bytesPerBlock + 2]) | UInt16(wb[b * t.bytesPerBlock + 3]) << 8))
                            let sa = Float(Float16(bitPattern: UInt16(ab[b * 36 + 2]) | UInt16(ab[b * 36 + 3]) << 8))
                            mag += abs(m * sa) * 25   // 2e-5 · 25 = 5e-4 ≥ f16 rounding of s (2^-11 relative)
                        }
                    }
                    let g = got[tok * stride + j], e = ref[tok * stride + j]
                    XCTAssertLessThanOrEqual(abs(g - e), 2e-5 * mag + 1e-6,
                                             "\(name) \(t) k=\(k) tokens=\(tokens) row \(r) token \(tok): \(g) vs \(e)")
                }
                for j in sub.count..<stride { XCTAssertTrue(got[tok * stride + j].isNaN, "\(name) wrote outside rows") }
            }
        }
    }

    func testGemmMatchesReferenceAllTypes() {
        for (i, t) in Self.weightTypes.enumerated() {
            let ks = t.blockSize == 256 ? [256, 768] : [96, 256, 1280]
            for k in ks {
                for tokens in [1, 2, 5] {
                    check(t, k: k, rows: 7, tokens: tokens, sub: 0..<7, seed: UInt64(100 + i * 10 + tokens))
                }
            }
            check(t, k: t.blockSize == 256 ? 512 : 160, rows: 9, tokens: 3, sub: 2..<7, seed: UInt64(7 + i))
            check(t, k: 256, rows: 13, tokens: 9, sub: 1..<12, seed: UInt64(300 + i))   // several 4-token tiles + tail
            if !t.isQuantized { check(t, k: 45, rows: 5, tokens: 6, sub: 0..<5, seed: UInt64(400 + i)) }   // k % 8 != 0
        }
    }

    /// The quantised product stays close to the exact f32 product (activation + weight quantisation error).
    func testGemmApproximatesFloatProduct() {
        for t in Self.weightTypes {
            let k = 1024, rows = 5, tokens = 2
            let p = makeProblem(t, k: k, rows: rows, tokens: tokens, seed: 99)
            let got = run(p, rows: 0..<rows, outStride: rows, Self.fast)
            var errSum = 0.0, refSum = 0.0
            for tok in 0..<tokens {
                for r in 0..<rows {
                    var s = 0.0
                    for i in 0..<k { s += Double(p.wf[r * k + i]) * Double(p.xf[tok * k + i]) }
                    errSum += (Double(got[tok * rows + r]) - s) * (Double(got[tok * rows + r]) - s); refSum += s * s
                }
            }
            let rel = (errSum / refSum).squareRoot()
            let bound: Double = [.q4_0, .q4_1, .q4_K].contains(t) ? 0.2 : (t.isQuantized ? 0.1 : (t == .f32 ? 1e-5 : 5e-3))
            XCTAssertLessThan(rel, bound, "\(t) relative error vs f32 product \(rel)")
        }
    }

    func testActivationFormats() {
        XCTAssertEqual([DType.q8_0, .q4_0, .q5_0].map(QuantKernels.activationFormat(for:)), [.q8_0, .q8_0, .q8_0])
        XCTAssertEqual([DType.q4_1, .q5_1].map(QuantKernels.activationFormat(for:)), [.q8_1, .q8_1])
        XCTAssertEqual([DType.q4_K, .q5_K, .q6_K].map(QuantKernels.activationFormat(for:)), [.q8_K, .q8_K, .q8_K])
        XCTAssertEqual([DType.f32, .f16, .bf16].map(QuantKernels.activationFormat(for:)), [.f32, .f32, .f32])
    }
}
