import XCTest
@testable import PanguTensor

/// Row-interleaved bf16/f16 layout: packing is a transposition of 8-row blocks (round trip, zero padding), and the
/// interleaved kernels (AVX2 decode/few-token tiles, panel prefill, portable fallback) agree with an f64 dot product
/// of the file's values, for row counts with and without a partial last group, odd k and 1…9 (and ≥ 24) tokens.
final class FloatInterleaveTests: XCTestCase {
    struct Case { let rows: Int; let k: Int; let tokens: Int }

    static let cases: [Case] = [
        Case(rows: 8, k: 1, tokens: 1), Case(rows: 5, k: 3, tokens: 2), Case(rows: 13, k: 7, tokens: 3),
        Case(rows: 16, k: 8, tokens: 1), Case(rows: 24, k: 33, tokens: 4), Case(rows: 17, k: 64, tokens: 5),
        Case(rows: 40, k: 255, tokens: 6), Case(rows: 31, k: 256, tokens: 7), Case(rows: 64, k: 4096, tokens: 1),
        Case(rows: 9, k: 1023, tokens: 8), Case(rows: 48, k: 129, tokens: 9),
        // Panel GEMM path (≥ 24 tokens), including a second K pass (k > 2048) and an odd group count.
        Case(rows: 40, k: 97, tokens: 24), Case(rows: 21, k: 2101, tokens: 31), Case(rows: 8, k: 16, tokens: 25),
    ]

    /// Row-major file bytes of random values, and the values themselves as the file stores them.
    func matrix(_ dtype: DType, rows: Int, k: Int, seed: UInt64) -> (bytes: [UInt8], values: [Float]) {
        var rng = QuantTestRNG(seed)
        var bytes = [UInt8](), values = [Float]()
        for v in rng.normals(rows * k, scale: 0.05) {
            let bits = dtype == .bf16 ? HalfConversion.floatToBF16(v) : Float16(v).bitPattern
            bytes += [UInt8(bits & 0xFF), UInt8(bits >> 8)]
            values.append(dtype == .bf16 ? Float(bitPattern: UInt32(bits) << 16) : Float(Float16(bitPattern: bits)))
        }
        return (bytes, values)
    }

    func packed(_ dtype: DType, _ bytes: [UInt8], rows: Int, k: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0xEE, count: FloatInterleave.packedBytes(rows: rows, k: k))
        bytes.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                let w = WeightMatrix(rows: rows, cols: k, dtype: dtype, data: src.baseAddress!)
                let groups = FloatInterleave.groups(rows: rows)
                // In two calls, as the arena packs chunk by chunk.
                FloatInterleave.pack(w, groups: 0..<(groups / 2), into: dst.baseAddress!)
                FloatInterleave.pack(w, groups: (groups / 2)..<groups, into: dst.baseAddress!)
            }
        }
        return out
    }

    func testSupport() {
        XCTAssertTrue(FloatInterleave.supports(.bf16, rows: 13, k: 7))
        XCTAssertTrue(FloatInterleave.supports(.f16, rows: 8, k: 1))
        XCTAssertFalse(FloatInterleave.supports(.f32, rows: 8, k: 8))
        XCTAssertFalse(FloatInterleave.supports(.q8_0, rows: 8, k: 32))
        XCTAssertEqual(FloatInterleave.packedBytes(rows: 13, k: 7), 2 * 16 * 7)
    }

    /// pack then unpackRow gives back every row byte for byte; element (r, c) sits at 16·k·(r/8) + 16·c + 2·(r%8),
    /// and padding rows of a partial last group are zero.
    func testPackIsATranspositionOfEightRowBlocks() {
        for dtype in [DType.bf16, .f16] {
            for (rows, k) in [(24, 64), (13, 37), (8, 9), (5, 1)] {
                let (w, _) = matrix(dtype, rows: rows, k: k, seed: UInt64(rows * 1000 + k))
                let p = packed(dtype, w, rows: rows, k: k)
                for r in 0..<FloatInterleave.groups(rows: rows) * 8 {
                    for c in 0..<k {
                        let at = 16 * k * (r / 8) + 16 * c + 2 * (r % 8)
                        let want: [UInt8] = r < rows ? [w[2 * (r * k + c)], w[2 * (r * k + c) + 1]] : [0, 0]
                        XCTAssertEqual([p[at], p[at + 1]], want, "\(dtype) \(rows)×\(k) element (\(r), \(c))")
                    }
                }
                p.withUnsafeBytes { buf in
                    let m = WeightMatrix(rows: rows, cols: k, dtype: dtype, data: buf.baseAddress!, layout: .interleaved8)
                    var row = [UInt8](repeating: 0, count: 2 * k)
                    for r in 0..<rows {
                        row.withUnsafeMutableBytes { FloatInterleave.unpackRow(m, r, into: $0.baseAddress!) }
                        XCTAssertEqual(row, Array(w[(2 * r * k)..<(2 * (r + 1) * k)]), "\(dtype) row \(r)")
                    }
                }
            }
        }
    }

    /// |kernel − f64 reference| ≤ 2e-5 · Σ|w·x| + 1e-6 (only the f32 summation order differs), through
    /// `Kernels.matmul` (AVX2 tiles below 24 tokens, panel GEMM from 24) and the portable fallback.
    func testKernelsMatchReference() {
        let pool = ThreadPool(threads: 2)
        for dtype in [DType.bf16, .f16] {
            for (n, c) in Self.cases.enumerated() {
                let (w, wv) = matrix(dtype, rows: c.rows, k: c.k, seed: UInt64(300 + n))
                var rng = QuantTestRNG(UInt64(900 + n))
                let x = rng.normals(c.tokens * c.k)
                let p = packed(dtype, w, rows: c.rows, k: c.k)
                var got = [Float](repeating: .nan, count: c.tokens * c.rows)
                var portable = got
                p.withUnsafeBytes { buf in
                    let m = WeightMatrix(rows: c.rows, cols: c.k, dtype: dtype, data: buf.baseAddress!, layout: .interleaved8)
                    x.withUnsafeBufferPointer { xb in
                        got.withUnsafeMutableBufferPointer {
                            Kernels.matmul(xb.baseAddress!, tokens: c.tokens, m, into: $0.baseAddress!, pool: pool)
                        }
                        portable.withUnsafeMutableBufferPointer {
                            FloatInterleave.gemmPortable(m, groups: 0..<FloatInterleave.groups(rows: c.rows), x: xb.baseAddress!,
                                                         tokens: c.tokens, out: $0.baseAddress!, outStride: c.rows)
                        }
                    }
                }
                for t in 0..<c.tokens {
                    for r in 0..<c.rows {
                        var s = 0.0, mag = 0.0
                        for i in 0..<c.k {
                            let prod = Double(wv[r * c.k + i]) * Double(x[t * c.k + i])
                            s += prod; mag += abs(prod)
                        }
                        let tol = 2e-5 * mag + 1e-6
                        XCTAssertEqual(Double(got[t * c.rows + r]), s, accuracy: tol, "\(dtype) \(c) token \(t) row \(r)")
                        XCTAssertEqual(Double(portable[t * c.rows + r]), s, accuracy: tol, "portable \(dtype) \(c) token \(t) row \(r)")
                    }
                }
            }
        }
    }

    /// Below the panel threshold every token's outputs are bit-identical to computing that token alone.
    func testFewTokenResultsAreBatchInvariant() {
        let pool = ThreadPool(threads: 2)
        for dtype in [DType.bf16, .f16] {
            let rows = 29, k = 203, tokens = 7
            let (w, _) = matrix(dtype, rows: rows, k: k, seed: 5)
            var rng = QuantTestRNG(6)
            let x = rng.normals(tokens * k)
            let p = packed(dtype, w, rows: rows, k: k)
            p.withUnsafeBytes { buf in
                let m = WeightMatrix(rows: rows, cols: k, dtype: dtype, data: buf.baseAddress!, layout: .interleaved8)
                var all = [Float](repeating: 0, count: tokens * rows)
                x.withUnsafeBufferPointer { xb in
                    all.withUnsafeMutableBufferPointer { Kernels.matmul(xb.baseAddress!, tokens: tokens, m, into: $0.baseAddress!, pool: pool) }
                    for t in 0..<tokens {
                        var one = [Float](repeating: 0, count: rows)
                        one.withUnsafeMutableBufferPointer { Kernels.matmul(xb.baseAddress! + t * k, tokens: 1, m, into: $0.baseAddress!, pool: pool) }
                        XCTAssertEqual(one, Array(all[(t * rows)..<((t + 1) * rows)]), "\(dtype) token \(t)")
                    }
                }
            }
        }
    }

    /// `WeightArena.prepare` repacks bf16/f16 (any shape) and the product through it equals the row-major one up to
    /// f32 summation order; `PANGU_REPACK=0` (and `PANGU_REPACK_FLOAT=0` for float types) keeps the file layout.
    func testArenaRepacksFloatMatrices() {
        for dtype in [DType.bf16, .f16] {
            let rows = 19, k = 45
            let (w, _) = matrix(dtype, rows: rows, k: k, seed: 11)
            var rng = QuantTestRNG(12)
            let x = rng.normals(k)
            w.withUnsafeBytes { buf in
                let m = WeightMatrix(rows: rows, cols: k, dtype: dtype, data: buf.baseAddress!)
                let arena = WeightArena()
                let prepared = arena.prepare(m, releaseSource: false)
                XCTAssertEqual(prepared.layout, .interleaved8)
                XCTAssertEqual(arena.repackedBytes, FloatInterleave.packedBytes(rows: rows, k: k))
                var a = [Float](repeating: 0, count: rows), b = a
                x.withUnsafeBufferPointer { xb in
                    a.withUnsafeMutableBufferPointer { Kernels.matmul(xb.baseAddress!, tokens: 1, prepared, into: $0.baseAddress!) }
                    b.withUnsafeMutableBufferPointer { Kernels.matmul(xb.baseAddress!, tokens: 1, m, into: $0.baseAddress!) }
                }
                for r in 0..<rows { XCTAssertEqual(a[r], b[r], accuracy: 1e-5 * max(1, abs(b[r])), "\(dtype) row \(r)") }
                setenv("PANGU_REPACK_FLOAT", "0", 1)
                XCTAssertEqual(WeightArena().prepare(m, releaseSource: false).layout, .rowMajor)
                XCTAssertFalse(WeightArena.willRepack(dtype, shape: [rows, k]))
                unsetenv("PANGU_REPACK_FLOAT")
                XCTAssertTrue(WeightArena.willRepack(dtype, shape: [rows, k]))
                setenv("PANGU_REPACK", "0", 1)
                defer { unsetenv("PANGU_REPACK") }
                XCTAssertEqual(WeightArena().prepare(m, releaseSource: false).layout, .rowMajor)
            }
        }
    }
}
