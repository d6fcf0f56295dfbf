// Row-interleaved ("x8") layouts for q8_0, q4_0, q4_K and q6_K weights, built once at load time.
//
// Why: in the file's row-major layout a dot product handles one row at a time, so every block costs a horizontal
// reduction and scalar scale multiplies per row, which makes the kernels compute-bound on two cores.
// Interleaving 8 rows block by block lets one 256-bit register hold 4 consecutive level bytes of each of 8 rows:
// `vpmaddubsw` + `vpmaddwd` then leave the 8 rows' partial sums in the 8 lanes of one register, the 8 row scales
// are one `vcvtph2ps`, and 8 outputs are one store. Same bytes as the file, only reordered, so the repacked copy
// is exactly as large as the file's.
//
// Group g (rows 8g..<8g+8), block b (values bs·b..<bs·b+bs, bs = 32 or 256) is one record at
// `data + (g * nb + b) * recordBytes`, recordBytes = 8 × the format's block bytes. A record is a sequence of units,
// each one 2- or 4-byte piece of the file block for all 8 rows (row r at 2r or 4r): 16 bytes of f16 row scales,
// or a 32-byte vector holding 4 bytes of each row (`units` lists them):
//
//   q8_0 (272 bytes = 8 × 34): [0, 16)    d[8]
//                              16 + 32j + 4r + i = qs[r][4j + i]           (j < 8: level quad j)
//   q4_0 (144 bytes = 8 × 18): [0, 16)    d[8]
//                              16 + 32m + 4r + i = qs[r][4m + i]           (m < 4)
//     A q4_0 file byte qs[i] holds level i in its low nibble and level i + 16 in its high nibble, so the low
//     nibbles of vector m are value quad m and the high nibbles value quad m + 4.
//   q4_K (1152 bytes = 8 × 144): [0, 16) d[8], [16, 32) dmin[8]
//                              32 + 32w + 4r + i = scales[r][4w + i]       (w < 3: the 12 packed 6-bit bytes)
//                              128 + 32m + 4r + i = qs[r][4m + i]          (m < 32)
//     Vectors 8j..<8j+8 of qs hold sub-block 2j (values 64j + 4q + i) in their low nibbles and sub-block 2j + 1
//     (values 64j + 32 + 4q + i) in their high nibbles, q = m − 8j. Scale vector w = 0 has each row's scales
//     0…3 (low 6 bits), w = 1 its mins 0…3, w = 2 the low 4 bits of scales/mins 4…7: a few masks give the
//     8 rows' scales or mins of a sub-block as bytes 4r + c, ready for one `vpshufb` each.
//   q6_K (1680 bytes = 8 × 210): [0, 16) d[8]
//                              16 + 32w + 4r + i = scales[r][4w + i]       (w < 4: i8 sub-block scales)
//                              144 + 96t + 4r + i      = ql[r][64n + 4q + i]        (t = 8n + q; n < 2, q < 8)
//                              144 + 96t + 32 + 4r + i = ql[r][64n + 32 + 4q + i]
//                              144 + 96t + 64 + 4r + i = qh[r][32n + 4q + i]
//     The three vectors of triple t hold the 4 bits and 2 high bits of the levels 128n + 32k + 4q + i, k < 4:
//     k = 0 / 1 low nibbles of the first / second ql vector, k = 2 / 3 their high nibbles; qh bits 2k, 2k + 1.
//     The kernels decode triple after triple, so the record is read front to back (interleaving ql with qh
//     this way made decode from DRAM 3× faster than keeping the file's ql-then-qh order).

/// Packing and unpacking of the row-interleaved weight layouts (`WeightLayout.interleaved8`).
public enum RowInterleave {
    /// Rows per group.
    public static let rows = 8

    /// Whether `dtype` weights of shape [rows, k] can be interleaved.
    public static func supports(_ dtype: DType, rows: Int, k: Int) -> Bool {
        units(dtype) != nil && rows % Self.rows == 0 && rows > 0 && k % dtype.blockSize == 0 && k > 0
    }

    /// A record in order, one unit per entry: `size` bytes (2 or 4) from byte `block` of each row's file block,
    /// stored as 8 consecutive chunks (row r at r · size), so a unit is 16 or 32 bytes of the record.
    static func units(_ dtype: DType) -> [(block: Int, size: Int)]? {
        @inline(__always) func vectors(_ offsets: some Sequence<Int>) -> [(block: Int, size: Int)] { offsets.map { ($0, 4) } }
        switch dtype {
        case .q8_0: return [(0, 2)] + vectors(stride(from: 2, to: 34, by: 4))
        case .q4_0: return [(0, 2)] + vectors(stride(from: 2, to: 18, by: 4))
        case .q4_K: return [(0, 2), (2, 2)] + vectors(stride(from: 4, to: 144, by: 4))
        case .q6_K:
            // ql/qh triples in the order the kernel reads them: every record is one forward stream.
            var u = [(208, 2)] + vectors(stride(from: 192, to: 208, by: 4))
            for n in 0..<2 { for q in 0..<8 { u += vectors([64 * n + 4 * q, 64 * n + 32 + 4 * q, 128 + 32 * n + 4 * q]) } }
            return u
        default: return nil
        }
    }

    /// Bytes of one 8-row × one-block record.
    static func recordBytes(_ dtype: DType) -> Int { 8 * dtype.bytesPerBlock }

    /// Every unit's file-block offset, record offset (for row 0; row r adds r · size) and chunk size.
    static func chunks(_ dtype: DType) -> [(block: Int, record: Int, size: Int)] {
        var out = [(block: Int, record: Int, size: Int)](), dst = 0
        for u in units(dtype)! {
            out.append((u.block, dst, u.size))
            dst += 8 * u.size
        }
        precondition(dst == recordBytes(dtype))
        return out
    }

    /// Writes row-major `w` (rows 8·groups.lowerBound ..< 8·groups.upperBound) into `out` in the interleaved layout;
    /// `out` points at the interleaved matrix's first byte (group 0). Same total size as the source.
    public static func pack(_ w: WeightMatrix, groups: Range<Int>, into out: UnsafeMutableRawPointer) {
        precondition(w.layout == .rowMajor && supports(w.dtype, rows: w.rows, k: w.cols))
        let map = chunks(w.dtype)
        let nb = w.cols / w.dtype.blockSize, bb = w.dtype.bytesPerBlock, rb = recordBytes(w.dtype)
        for g in groups {
            for b in 0..<nb {
                let rec = out + (g * nb + b) * rb
                for r in 0..<8 {
                    let src = w.data + (8 * g + r) * nb * bb + b * bb
                    for c in map {
                        let dst = rec + c.record + c.size * r
                        if c.size == 2 {
                            dst.storeBytes(of: src.loadUnaligned(fromByteOffset: c.block, as: UInt16.self), as: UInt16.self)
                        } else {
                            dst.storeBytes(of: src.loadUnaligned(fromByteOffset: c.block, as: UInt32.self), as: UInt32.self)
                        }
                    }
                }
            }
        }
    }

    /// Copies row `r` of an interleaved matrix back into the file's row-major block format (`out`: rowBytes bytes).
    public static func unpackRow(_ w: WeightMatrix, _ r: Int, into out: UnsafeMutableRawPointer) {
        precondition(w.layout == .interleaved8)
        let map = chunks(w.dtype)
        let nb = w.cols / w.dtype.blockSize, bb = w.dtype.bytesPerBlock, rb = recordBytes(w.dtype)
        let lane = r % 8
        for b in 0..<nb {
            let rec = w.data + ((r / 8) * nb + b) * rb, dst = out + b * bb
            for c in map {
                let src = rec + c.record + c.size * lane
                if c.size == 2 {
                    dst.storeBytes(of: src.loadUnaligned(as: UInt16.self), toByteOffset: c.block, as: UInt16.self)
                } else {
                    dst.storeBytes(of: src.loadUnaligned(as: UInt32.self), toByteOffset: c.block, as: UInt32.self)
                }
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
