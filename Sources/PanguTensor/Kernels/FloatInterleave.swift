// Row-interleaved ("x8") layout for bf16 and f16 weights, built once at load time (see Docs/Performance.md).
//
// Why: the row-major float matvec needs a horizontal sum per row and one activation load per row and step. Here a
// group of 8 rows is stored column by column: one 16-byte load holds one column of 8 rows, widened to 8 floats it
// is multiplied by one activation, and the 8 row sums stay in the 8 lanes of a register. The prefill panels are
// then filled without a transposition.
//
// Group g (rows 8g..<8g+8) occupies bytes [16·k·g, 16·k·(g+1)) and column c of it is the 16 bytes at
// 16·k·g + 16·c, holding rows 8g … 8g+7 as 2-byte values in order (row 8g+r at byte 2r):
//
//   data + 16·k·g + 16·c + 2·r = W[8g + r][c]           (r < 8, c < k)
//
// i.e. each group is its 8×k block transposed to [k][8]. When rows is not a multiple of 8, the last group is padded
// with zero rows (the kernels never store their outputs), so the copy is `packedBytes` long, at most 14·k bytes
// more than the file's. Odd k needs no padding: the kernels read two columns (32 bytes) per step and the last
// lone column with a 16-byte load.

/// Packing and unpacking of the row-interleaved bf16/f16 layout (`WeightLayout.interleaved8` with a float dtype).
public enum FloatInterleave {
    /// Rows per group.
    public static let rows = 8

    /// Whether `dtype` weights of shape [rows, k] can be interleaved (bf16 and f16; any positive shape).
    public static func supports(_ dtype: DType, rows: Int, k: Int) -> Bool {
        (dtype == .bf16 || dtype == .f16) && rows > 0 && k > 0
    }

    /// Number of 8-row groups (the last may be partly padding).
    public static func groups(rows: Int) -> Int { (rows + Self.rows - 1) / Self.rows }

    /// Bytes of one group: k columns of 8 two-byte values.
    public static func groupBytes(k: Int) -> Int { 16 * k }

    /// Bytes of the interleaved copy of a [rows, k] matrix.
    public static func packedBytes(rows: Int, k: Int) -> Int { groups(rows: rows) * groupBytes(k: k) }

    /// Writes row-major `w` (groups `groups`, i.e. rows 8·lowerBound ..< min(rows, 8·upperBound)) into `out` in the
    /// interleaved layout; `out` points at the interleaved matrix's first byte (group 0).
    public static func pack(_ w: WeightMatrix, groups: Range<Int>, into out: UnsafeMutableRawPointer) {
        precondition(w.layout == .rowMajor && supports(w.dtype, rows: w.rows, k: w.cols))
        let k = w.cols, rb = w.rowBytes
        for g in groups {
            let dst = out + g * groupBytes(k: k)
            let valid = min(Self.rows, w.rows - 8 * g)
            if valid == Self.rows {
                transpose8(w.data + 8 * g * rb, rowBytes: rb, k: k, into: dst)
                continue
            }
            // Partial last group: the missing rows are zero.
            for c in 0..<k {
                for r in 0..<Self.rows {
                    let v: UInt16 = r < valid ? w.data.loadUnaligned(fromByteOffset: (8 * g + r) * rb + 2 * c, as: UInt16.self) : 0
                    dst.storeBytes(of: v, toByteOffset: 16 * c + 2 * r, as: UInt16.self)
                }
            }
        }
    }

    /// [8][k] two-byte values (rows `rowBytes` apart) → [k][8] at `dst`.
    static func transpose8(_ src: UnsafeRawPointer, rowBytes rb: Int, k: Int, into dst: UnsafeMutableRawPointer) {
        var c = 0
        #if arch(x86_64)
        // 8 columns at a time: eight 16-byte row loads, an 8×8 transpose of 16-bit values, eight 16-byte stores.
        while c + 8 <= k {
            AVX2FloatInterleaved.transpose8x8(src + 2 * c, rowBytes: rb, into: dst + 16 * c)
            c += 8
        }
        #endif
        while c < k {
            for r in 0..<Self.rows {
                dst.storeBytes(of: src.loadUnaligned(fromByteOffset: r * rb + 2 * c, as: UInt16.self),
                               toByteOffset: 16 * c + 2 * r, as: UInt16.self)
            }
            c += 1
        }
    }

    /// Copies row `r` of an interleaved matrix back into the file's row-major format (`out`: 2·cols bytes).
    public static func unpackRow(_ w: WeightMatrix, _ r: Int, into out: UnsafeMutableRawPointer) {
        precondition(w.layout == .interleaved8 && supports(w.dtype, rows: w.rows, k: w.cols) && r < w.rows)
        let base = w.data + (r / 8) * groupBytes(k: w.cols) + 2 * (r % 8)
        for c in 0..<w.cols {
            out.storeBytes(of: base.loadUnaligned(fromByteOffset: 16 * c, as: UInt16.self), toByteOffset: 2 * c, as: UInt16.self)
        }
    }

    /// Portable product over an interleaved matrix: out[t * outStride + (r − 8·groups.lowerBound)] = W[r]·x[t] for
    /// the rows of `groups` (padding rows are not stored). The fallback off x86-64 and a cross-check in tests.
    static func gemmPortable(_ w: WeightMatrix, groups: Range<Int>, x: UnsafePointer<Float>, tokens: Int,
                             out: UnsafeMutablePointer<Float>, outStride: Int) {
        let k = w.cols, r0 = 8 * groups.lowerBound
        for g in groups {
            let gp = w.data + g * groupBytes(k: k)
            for t in 0..<tokens {
                let xt = x + t * k
                var acc = SIMD8<Float>()
                for c in 0..<k {
                    let col = w.dtype == .bf16 ? HalfConversion.bf16x8(gp + 16 * c) : HalfConversion.f16x8(gp + 16 * c)
                    acc.addProduct(col, SIMD8<Float>(repeating: xt[c]))
                }
                for r in 0..<min(8, w.rows - 8 * g) { out[t * outStride + 8 * g + r - r0] = acc[r] }
            }
        }
    }
}
