import XCTest
@testable import PanguTensor

/// Row-interleaved q8_0/q4_0/q4_K/q6_K layouts: packing is a pure reordering, and the interleaved kernels (AVX2 on
/// x86-64 and the portable path) agree with the dequantise-and-dot f64 reference on the row-major file bytes.
final class RowInterleaveTests: XCTestCase {
    struct Case { let dtype: DType; let rows: Int; let k: Int; let tokens: Int }

    static let cases: [Case] = [
        Case(dtype: .q8_0, rows: 8, k: 32, tokens: 1), Case(dtype: .q4_0, rows: 8, k: 32, tokens: 1),
        Case(dtype: .q8_0, rows: 24, k: 96, tokens: 1), Case(dtype: .q4_0, rows: 24, k: 96, tokens: 1),
        Case(dtype: .q8_0, rows: 40, k: 256, tokens: 5), Case(dtype: .q4_0, rows: 40, k: 256, tokens: 5),
        Case(dtype: .q8_0, rows: 16, k: 320, tokens: 9), Case(dtype: .q4_0, rows: 16, k: 320, tokens: 9),
        Case(dtype: .q8_0, rows: 64, k: 4096, tokens: 3), Case(dtype: .q4_0, rows: 64, k: 4096, tokens: 4),
        Case(dtype: .q8_0, rows: 24, k: 64, tokens: 2), Case(dtype: .q4_0, rows: 24, k: 64, tokens: 6),
        Case(dtype: .q8_0, rows: 8, k: 128, tokens: 7), Case(dtype: .q4_0, rows: 8, k: 128, tokens: 2),
        Case(dtype: .q4_K, rows: 8, k: 256, tokens: 1), Case(dtype: .q6_K, rows: 8, k: 256, tokens: 1),
        Case(dtype: .q4_K, rows: 24, k: 512, tokens: 2), Case(dtype: .q6_K, rows: 24, k: 512, tokens: 3),
        Case(dtype: .q4_K, rows: 40, k: 256, tokens: 5), Case(dtype: .q6_K, rows: 40, k: 256, tokens: 6),
        Case(dtype: .q4_K, rows: 16, k: 768, tokens: 9), Case(dtype: .q6_K, rows: 16, k: 768, tokens: 9),
        Case(dtype: .q4_K, rows: 64, k: 4096, tokens: 1), Case(dtype: .q6_K, rows: 64, k: 4096, tokens: 1),
        Case(dtype: .q4_K, rows: 32, k: 4096, tokens: 4), Case(dtype: .q6_K, rows: 32, k: 4096, tokens: 7),
    ]

    func testSupport() {
        XCTAssertTrue(RowInterleave.supports(.q8_0, rows: 16, k: 64))
        XCTAssertTrue(RowInterleave.supports(.q4_0, rows: 8, k: 32))
        XCTAssertFalse(RowInterleave.supports(.q4_0, rows: 12, k: 64), "rows must be a multiple of 8")
        XCTAssertTrue(RowInterleave.supports(.q4_K, rows: 16, k: 256))
        XCTAssertTrue(RowInterleave.supports(.q6_K, rows: 8, k: 512))
        XCTAssertFalse(RowInterleave.supports(.q4_K, rows: 16, k: 128), "k must be a multiple of the super-block")
        XCTAssertFalse(RowInterleave.supports(.q5_K, rows: 16, k: 256))
        XCTAssertFalse(RowInterleave.supports(.bf16, rows: 16, k: 256))
    }

    /// pack then unpackRow gives back every row byte for byte, and packing keeps the size.
    func testPackIsAReordering() {
        for t in [DType.q8_0, .q4_0, .q4_K, .q6_K] {
            let rows = 24, k = 512
            var rng = QuantTestRNG(7)
            var w = [UInt8]()
            for _ in 0..<rows { w += QuantReference.quantize(rng.normals(k), as: t) }
            var packed = [UInt8](repeating: 0, count: w.count)
            w.withUnsafeBytes { src in
                packed.withUnsafeMutableBytes { dst in
                    RowInterleave.pack(WeightMatrix(rows: rows, cols: k, dtype: t, data: src.baseAddress!),
                                       groups: 0..<(rows / 8), into: dst.baseAddress!)
                }
            }
            XCTAssertEqual(packed.sorted(), w.sorted(), "\(t): packing must only reorder bytes")
            packed.withUnsafeBytes { p in
                let m = WeightMatrix(rows: rows, cols: k, dtype: t, data: p.baseAddress!, layout: .interleaved8)
                var row = [UInt8](repeating: 0, count: t.rowBytes(k))
                for r in 0..<rows {
                    row.withUnsafeMutableBytes { RowInterleave.unpackRow(m, r, into: $0.baseAddress!) }
                    XCTAssertEqual(row, Array(w[(r * t.rowBytes(k))..<((r + 1) * t.rowBytes(k))]), "\(t) row \(r)")
                }
            }
        }
    }

    /// |kernel − reference| ≤ 2e-5 · Σ|w·a| + 1e-6: block sums are exact integers, only their f32 accumulation
    /// order differs from the f64 reference.
    func testKernelsMatchReference() {
        for (n, c) in Self.cases.enumerated() {
            var rng = QuantTestRNG(UInt64(100 + n))
            let wf = rng.normals(c.rows * c.k, scale: 0.05), xf = rng.normals(c.tokens * c.k)
            var w = [UInt8]()
            for r in 0..<c.rows { w += QuantReference.quantize(Array(wf[(r * c.k)..<((r + 1) * c.k)]), as: c.dtype) }
            check(c, w, xf)
        }
    }

    /// The i16 partial sums at their bounds: K-quant blocks with every level and scale (or min) at its maximum,
    /// against activations of ±127 with one sign per token (all positive, all negative), plus random bytes.
    func testKernelsOnExtremeBlocks() {
        for dtype in [DType.q4_K, .q6_K] {
            let rows = 24, k = 512, bb = dtype.bytesPerBlock
            var rng = QuantTestRNG(99)
            var w = [UInt8]()
            for r in 0..<rows {
                for _ in 0..<(k / 256) {
                    // Rows 8…15 (the checked sub-range starts at row 8): all bits set (levels 15 / 63, scales and
                    // mins 63, q6_K scales −1); rows 16/17: q6_K scales +127/−128; other rows random bytes. The f16 scale
                    // fields are then set to small finite values.
                    var blk = (0..<bb).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                    if (8...16).contains(r) { blk = [UInt8](repeating: 0xFF, count: bb) }
                    if r == 16 && dtype == .q6_K { for i in 192..<208 { blk[i] = 127 } }
                    if r == 17 && dtype == .q6_K { blk = [UInt8](repeating: 0xFF, count: bb); for i in 192..<208 { blk[i] = 0x80 } }
                    for o in (dtype == .q6_K ? [208] : [0, 2]) {
                        let h = Float16(0.001 * Float(1 + r)).bitPattern
                        blk[o] = UInt8(h & 0xFF); blk[o + 1] = UInt8(h >> 8)
                    }
                    w += blk
                }
            }
            let x = (0..<(4 * k)).map { i -> Float in i / k == 1 ? -1 : (i / k == 3 ? rng.normal() : 1) }
            check(Case(dtype: dtype, rows: rows, k: k, tokens: 4), w, x)
            check(Case(dtype: dtype, rows: rows, k: k, tokens: 1), w, Array(x[k..<(2 * k)]))
        }
    }

    /// Packs row-major `w`, runs the fast and portable interleaved kernels on a sub-range and compares with the
    /// reference on the file layout.
    func check(_ c: Case, _ w: [UInt8], _ xf: [Float]) {
        do {
            let afmt = QuantKernels.activationFormat(for: c.dtype)
            let arb = afmt.rowBytes(c.k), xrb = QuantKernels.interleavedAuxBytes(c.dtype, k: c.k)
            var qx = [UInt8](repeating: 0, count: c.tokens * arb), aux = [UInt8](repeating: 0, count: max(1, c.tokens * xrb))
            xf.withUnsafeBufferPointer { xp in
                qx.withUnsafeMutableBytes { q in
                    aux.withUnsafeMutableBytes { a in
                        for t in 0..<c.tokens {
                            QuantKernels.quantizeActivations(xp.baseAddress! + t * c.k, k: c.k, weights: c.dtype,
                                                             into: q.baseAddress! + t * arb)
                            QuantKernels.interleavedAux(q.baseAddress! + t * arb, dtype: c.dtype, k: c.k, into: a.baseAddress! + t * xrb)
                        }
                    }
                }
            }
            var packed = w
            var ref = [Float](repeating: 0, count: c.tokens * c.rows)
            w.withUnsafeBytes { src in
                packed.withUnsafeMutableBytes { dst in
                    RowInterleave.pack(WeightMatrix(rows: c.rows, cols: c.k, dtype: c.dtype, data: src.baseAddress!),
                                       groups: 0..<(c.rows / 8), into: dst.baseAddress!)
                }
                qx.withUnsafeBytes { q in
                    ref.withUnsafeMutableBufferPointer {
                        QuantKernels.gemmReference(weights: src.baseAddress!, dtype: c.dtype, k: c.k, rows: 0..<c.rows,
                                                   qx: q.baseAddress!, tokens: c.tokens, out: $0.baseAddress!, outStride: c.rows)
                    }
                }
            }
            // A sub-range of whole groups, written with a wider stride, checks the output addressing too.
            let sub = c.rows > 8 ? 8..<c.rows : 0..<8
            let stride = sub.count + 3
            for portable in [false, true] {
                var got = [Float](repeating: .nan, count: c.tokens * stride)
                packed.withUnsafeBytes { p in
                    let m = WeightMatrix(rows: c.rows, cols: c.k, dtype: c.dtype, data: p.baseAddress!, layout: .interleaved8)
                    qx.withUnsafeBytes { q in
                        aux.withUnsafeBytes { a in
                            got.withUnsafeMutableBufferPointer { o in
                                if portable {
                                    RowInterleave.gemmPortable(m, rows: sub, qx: q.baseAddress!, tokens: c.tokens,
                                                               out: o.baseAddress!, outStride: stride)
                                } else {
                                    QuantKernels.gemmInterleaved(m, rows: sub, qx: q.baseAddress!, aux: a.baseAddress!,
                                                                 tokens: c.tokens, out: o.baseAddress!, outStride: stride)
                                }
                            }
                        }
                    }
                }
                for t in 0..<c.tokens {
                    let a = QuantReference.dequantize(Array(qx[(t * arb)...]), dtype: afmt, k: c.k)
                    for (j, r) in sub.enumerated() {
                        let wr = QuantReference.dequantize(Array(w[(r * c.dtype.rowBytes(c.k))...]), dtype: c.dtype, k: c.k)
                        var mag: Float = 0
                        for i in 0..<c.k { mag += abs(wr[i] * a[i]) }
                        let g = got[t * stride + j], e = ref[t * c.rows + r]
                        XCTAssertLessThanOrEqual(abs(g - e), 2e-5 * mag + 1e-6,
                                                 "\(portable ? "portable" : "fast") \(c.dtype) rows=\(c.rows) k=\(c.k) row \(r) token \(t): \(g) vs \(e)")
                    }
                    for j in sub.count..<stride { XCTAssertTrue(got[t * stride + j].isNaN, "wrote outside the rows") }
                }
            }
        }
    }
}
