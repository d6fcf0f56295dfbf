// Row-interleaved ("x8") layouts for q8_0 and q4_0 weights, built once at load time.
//
// Why: in the file's row-major layout a dot product handles one row at a time, so every 32-value block costs a
// horizontal reduction and a scalar scale multiply per row, which makes q4_0 decode compute-bound on two cores.
// Interleaving 8 rows block by block lets one 256-bit register hold 4 consecutive values of each of 8 rows:
// `vpmaddubsw` + `vpmaddwd` then leave the 8 rows' partial sums in the 8 lanes of one register, the 8 row scales
// are one `vcvtph2ps`, and 8 outputs are one store. Same bytes as the file, only reordered.
//
// Group g (rows 8g..<8g+8), block b (values 32b..<32b+32) is one record at `data + (g * nb + b) * recordBytes`:
//
//   q8_0 (272 bytes = 8 × 34): [0, 16)  8 × f16 scale d, row r at 2r
//                              16 + 32j + 4r + i = level q[r][4j + i]            (j < 8 value quads, i < 4)
//   q4_0 (144 bytes = 8 × 18): [0, 16)  8 × f16 scale d
//                              16 + 32m + 4r + i = file byte qs[r][4m + i]       (m < 4)
//     A q4_0 file byte qs[i] holds level i in its low nibble and level i + 16 in its high nibble, so the low
//     nibbles of bytes 16 + 32m + … are value quad m and the high nibbles value quad m + 4.

/// Packing and unpacking of the row-interleaved weight layouts (`WeightLayout.interleaved8`).
public enum RowInterleave {
    /// Rows per group.
    public static let rows = 8

    /// Whether `dtype` weights of shape [rows, k] can be interleaved.
    public static func supports(_ dtype: DType, rows: Int, k: Int) -> Bool {
        (dtype == .q8_0 || dtype == .q4_0) && rows % Self.rows == 0 && rows > 0 && k % 32 == 0 && k > 0
    }

    /// Bytes of one 8-row × 32-value record.
    static func recordBytes(_ dtype: DType) -> Int { 8 * dtype.bytesPerBlock }

    /// Writes row-major `w` (rows 8·groups.lowerBound ..< 8·groups.upperBound) into `out` in the interleaved layout;
    /// `out` points at the interleaved matrix's first byte (group 0). Same total size as the source.
    public static func pack(_ w: WeightMatrix, groups: Range<Int>, into out: UnsafeMutableRawPointer) {
        precondition(w.layout == .rowMajor && supports(w.dtype, rows: w.rows, k: w.cols))
        let nb = w.cols / 32, bb = w.dtype.bytesPerBlock, rb = recordBytes(w.dtype)
        let levelBytes = bb - 2, quads = levelBytes / 4
        for g in groups {
            for b in 0..<nb {
                let rec = out + (g * nb + b) * rb
                for r in 0..<8 {
                    let src = w.data + (8 * g + r) * nb * bb + b * bb
                    rec.storeBytes(of: src.loadUnaligned(as: UInt16.self), toByteOffset: 2 * r, as: UInt16.self)
                    for j in 0..<quads {
                        rec.storeBytes(of: src.loadUnaligned(fromByteOffset: 2 + 4 * j, as: UInt32.self),
                                       toByteOffset: 16 + 32 * j + 4 * r, as: UInt32.self)
                    }
                }
            }
        }
    }

    /// Copies row `r` of an interleaved matrix back into the file's row-major block format (`out`: rowBytes bytes).
    public static func unpackRow(_ w: WeightMatrix, _ r: Int, into out: UnsafeMutableRawPointer) {
        precondition(w.layout == .interleaved8)
        let nb = w.cols / 32, bb = w.dtype.bytesPerBlock, rb = recordBytes(w.dtype), quads = (bb - 2) / 4
        let g = r / 8, lane = r % 8
        for b in 0..<nb {
            let rec = w.data + (g * nb + b) * rb, dst = out + b * bb
            dst.storeBytes(of: rec.loadUnaligned(fromByteOffset: 2 * lane, as: UInt16.self), as: UInt16.self)
            for j in 0..<quads {
                dst.storeBytes(of: rec.loadUnaligned(fromByteOffset: 16 + 32 * j + 4 * lane, as: UInt32.self),
                               toByteOffset: 2 + 4 * j, as: UInt32.self)
            }
        }
    }

    /// Portable product over an interleaved matrix (same contract as `QuantKernels.gemm`, rows a multiple of 8):
    /// each row is copied back to the file format and dotted with `PortableKernels`. The fallback off x86-64.
    static func gemmPortable(_ w: WeightMatrix, rows: Range<Int>, qx: UnsafeRawPointer, tokens: Int,
                             out: UnsafeMutablePointer<Float>, outStride: Int) {
        let k = w.cols, arb = QuantKernels.activationFormat(for: w.dtype).rowBytes(k)
        let row = UnsafeMutableRawPointer.allocate(byteCount: w.dtype.rowBytes(k), alignment: 64)
        defer { row.deallocate() }
        for r in rows {
            unpackRow(w, r, into: row)
            for t in 0..<tokens {
                out[t * outStride + (r - rows.lowerBound)] = PortableKernels.dot(row, w.dtype, qx + t * arb, k)
            }
        }
    }
}
