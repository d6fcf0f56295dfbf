// Load-time speed of the quantised repack: `RowInterleave.pack` moves every 2- or 4-byte unit on its own (about
// 40 moves per q4_K block and row). Most units are runs of consecutive 4-byte pieces of the file block stored as
// consecutive 32-byte vectors of the record (q8_0: 8 of them, q4_0: 4, q4_K: 35, q6_K: its 4 scale vectors), and 4
// units × 4 rows of such a run are a 4 × 4 transposition of 32-bit values: four 16-byte loads, four unpacks, four
// 16-byte stores. `packFast` does those runs that way and the rest unit by unit; the bytes are `pack`'s.

extension RowInterleave {
    /// Units of `chunks(dtype)` split into runs of 4 consecutive 4-byte units (file offset +4, record offset +32
    /// each) and the remaining single units.
    static func packPlan(_ dtype: DType) -> (quads: [(block: Int, record: Int)], singles: [(block: Int, record: Int, size: Int)]) {
        let map = chunks(dtype)
        var quads = [(block: Int, record: Int)](), singles = [(block: Int, record: Int, size: Int)]()
        var i = 0
        while i < map.count {
            var run = 1
            while i + run < map.count, run < 4, map[i].size == 4, map[i + run].size == 4,
                  map[i + run].block == map[i].block + 4 * run, map[i + run].record == map[i].record + 32 * run { run += 1 }
            if run == 4 {
                quads.append((map[i].block, map[i].record))
                i += 4
            } else {
                singles.append(map[i])
                i += 1
            }
        }
        return (quads, singles)
    }

    /// Same bytes as `pack(w, groups:into:)`, faster (see above).
    public static func packFast(_ w: WeightMatrix, groups: Range<Int>, into out: UnsafeMutableRawPointer) {
        precondition(w.layout == .rowMajor && supports(w.dtype, rows: w.rows, k: w.cols))
        #if arch(x86_64)
        let plan = packPlan(w.dtype)
        let nb = w.cols / w.dtype.blockSize, bb = w.dtype.bytesPerBlock, rb = recordBytes(w.dtype), rowBytes = nb * bb
        plan.quads.withUnsafeBufferPointer { quads in
            plan.singles.withUnsafeBufferPointer { singles in
                for g in groups {
                    let rows = w.data + 8 * g * rowBytes
                    for b in 0..<nb {
                        let rec = out + (g * nb + b) * rb, src = rows + b * bb
                        for q in quads {
                            AVX2FloatInterleaved.transpose4x4x32(src + q.block, rowBytes: rowBytes, into: rec + q.record)
                            AVX2FloatInterleaved.transpose4x4x32(src + 4 * rowBytes + q.block, rowBytes: rowBytes,
                                                                 into: rec + q.record + 16)
                        }
                        for c in singles {
                            for r in 0..<8 {
                                let s = src + r * rowBytes + c.block, d = rec + c.record + c.size * r
                                if c.size == 2 {
                                    d.storeBytes(of: s.loadUnaligned(as: UInt16.self), as: UInt16.self)
                                } else {
                                    d.storeBytes(of: s.loadUnaligned(as: UInt32.self), as: UInt32.self)
                                }
                            }
                        }
                    }
                }
            }
        }
        #else
        pack(w, groups: groups, into: out)
        #endif
    }
}

#if arch(x86_64)
import _Builtin_intrinsics.intel

extension AVX2FloatInterleaved {
    /// 4 × 4 transpose of 32-bit values: 16 bytes of each of 4 rows `rowBytes` apart → four 16-byte pieces 32 bytes
    /// apart at `dst` (piece j holds value j of rows 0…3).
    @inline(__always)
    static func transpose4x4x32(_ src: UnsafeRawPointer, rowBytes rb: Int, into dst: UnsafeMutableRawPointer) {
        let r0 = ld128(src), r1 = ld128(src + rb), r2 = ld128(src + 2 * rb), r3 = ld128(src + 3 * rb)
        let a0 = _mm_unpacklo_epi32(r0, r1), a1 = _mm_unpackhi_epi32(r0, r1)   // v0r0 v0r1 v1r0 v1r1 / v2.. v3..
        let a2 = _mm_unpacklo_epi32(r2, r3), a3 = _mm_unpackhi_epi32(r2, r3)
        dst.storeBytes(of: _mm_unpacklo_epi64(a0, a2), toByteOffset: 0, as: __m128i.self)
        dst.storeBytes(of: _mm_unpackhi_epi64(a0, a2), toByteOffset: 32, as: __m128i.self)
        dst.storeBytes(of: _mm_unpacklo_epi64(a1, a3), toByteOffset: 64, as: __m128i.self)
        dst.storeBytes(of: _mm_unpackhi_epi64(a1, a3), toByteOffset: 96, as: __m128i.self)
    }
}
#endif
