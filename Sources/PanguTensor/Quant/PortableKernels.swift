// Portable (architecture-independent) integer dot products between one quantised weight row and one quantised
// activation row. Scalar code: the fallback on non-x86 targets and an independent cross-check of the AVX2 path.

enum PortableKernels {
    /// Dot product of `k` values: weight row `w` (format `dtype`) with activation row `a`
    /// (format `QuantKernels.activationFormat(for: dtype)`).
    static func dot(_ w: UnsafeRawPointer, _ dtype: DType, _ a: UnsafeRawPointer, _ k: Int) -> Float {
        let nb = k / dtype.blockSize, wb = dtype.bytesPerBlock
        var levels = [Int32](repeating: 0, count: 256)
        return levels.withUnsafeMutableBufferPointer { lvBuf -> Float in
            let lv = lvBuf.baseAddress!
            var sum: Float = 0
            switch dtype {
            case .q8_0, .q4_0, .q5_0:
                for b in 0..<nb {
                    let wp = w + b * wb, ap = a + b * 34
                    let d = unpackLegacy(wp, dtype, lv)
                    var s: Int32 = 0
                    for j in 0..<32 { s &+= lv[j] &* Int32(ap.load(fromByteOffset: 2 + j, as: Int8.self)) }
                    sum += d.0 * HalfConversion.loadF16(ap) * Float(s)
                }
            case .q4_1, .q5_1:
                for b in 0..<nb {
                    let wp = w + b * wb, ap = a + b * 36
                    let d = unpackLegacy(wp, dtype, lv)
                    var s: Int32 = 0
                    for j in 0..<32 { s &+= lv[j] &* Int32(ap.load(fromByteOffset: 4 + j, as: Int8.self)) }
                    sum += d.0 * HalfConversion.loadF16(ap) * Float(s) + d.1 * HalfConversion.loadF16(ap, 2)
                }
            case .q4_K, .q5_K:
                for b in 0..<nb {
                    let wp = w + b * wb, ap = a + b * 292
                    let da = Float(bitPattern: UInt32(littleEndian: ap.loadUnaligned(as: UInt32.self)))
                    let d = HalfConversion.loadF16(wp) * da, dmin = HalfConversion.loadF16(wp, 2) * da
                    unpackK45(wp, dtype, lv)
                    var si: Int32 = 0, smin: Int32 = 0
                    for j in 0..<8 {
                        let (sc, m) = QuantReference.scaleMinK4(j, wp + 4)
                        var s: Int32 = 0
                        for l in 0..<32 { s &+= lv[32 * j + l] &* Int32(ap.load(fromByteOffset: 4 + 32 * j + l, as: Int8.self)) }
                        si &+= Int32(sc) &* s
                        let bs = Int32(ap.loadUnaligned(fromByteOffset: 260 + 4 * j, as: Int16.self))
                            + Int32(ap.loadUnaligned(fromByteOffset: 262 + 4 * j, as: Int16.self))
                        smin &+= Int32(m) &* bs
                    }
                    sum += d * Float(si) - dmin * Float(smin)
                }
            case .q6_K:
                for b in 0..<nb {
                    let wp = w + b * wb, ap = a + b * 292
                    let da = Float(bitPattern: UInt32(littleEndian: ap.loadUnaligned(as: UInt32.self)))
                    let d = HalfConversion.loadF16(wp, 208) * da
                    unpackQ6K(wp, lv)
                    var si: Int32 = 0
                    for g in 0..<16 {
                        var s: Int32 = 0
                        for l in 0..<16 { s &+= (lv[16 * g + l] - 32) &* Int32(ap.load(fromByteOffset: 4 + 16 * g + l, as: Int8.self)) }
                        si &+= Int32(wp.load(fromByteOffset: 192 + g, as: Int8.self)) &* s
                    }
                    sum += d * Float(si)
                }
            default:
                preconditionFailure("no portable quantised kernel for \(dtype)")
            }
            return sum
        }
    }

    /// Integer levels of one 32-value legacy block (signed for *_0 formats, unsigned for *_1); returns (d, m).
    static func unpackLegacy(_ p: UnsafeRawPointer, _ dtype: DType, _ lv: UnsafeMutablePointer<Int32>) -> (Float, Float) {
        let d = HalfConversion.loadF16(p)
        switch dtype {
        case .q8_0:
            for j in 0..<32 { lv[j] = Int32(p.load(fromByteOffset: 2 + j, as: Int8.self)) }
            return (d, 0)
        case .q4_0, .q4_1:
            let off = dtype == .q4_0 ? 2 : 4, bias: Int32 = dtype == .q4_0 ? 8 : 0
            for j in 0..<16 {
                let q = p.load(fromByteOffset: off + j, as: UInt8.self)
                lv[j] = Int32(q & 0xF) - bias; lv[j + 16] = Int32(q >> 4) - bias
            }
            return (d, dtype == .q4_1 ? HalfConversion.loadF16(p, 2) : 0)
        default: // q5_0, q5_1
            let hOff = dtype == .q5_0 ? 2 : 4, bias: Int32 = dtype == .q5_0 ? 16 : 0
            let qh = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: hOff, as: UInt32.self))
            for j in 0..<16 {
                let q = UInt32(p.load(fromByteOffset: hOff + 4 + j, as: UInt8.self))
                lv[j] = Int32((q & 0xF) | (((qh >> UInt32(j)) & 1) << 4)) - bias
                lv[j + 16] = Int32((q >> 4) | (((qh >> UInt32(j + 16)) & 1) << 4)) - bias
            }
            return (d, dtype == .q5_1 ? HalfConversion.loadF16(p, 2) : 0)
        }
    }

    /// Unsigned levels (0...15 or 0...31) of a q4_K / q5_K super-block, in element order.
    static func unpackK45(_ p: UnsafeRawPointer, _ dtype: DType, _ lv: UnsafeMutablePointer<Int32>) {
        let q5 = dtype == .q5_K
        let qs = p + (q5 ? 48 : 16), qh = p + 16
        for j in 0..<4 {
            for l in 0..<32 {
                let q = qs.load(fromByteOffset: 32 * j + l, as: UInt8.self)
                var lo = Int32(q & 0xF), hi = Int32(q >> 4)
                if q5 {
                    let h = qh.load(fromByteOffset: l, as: UInt8.self)
                    lo += Int32((h >> UInt8(2 * j)) & 1) << 4
                    hi += Int32((h >> UInt8(2 * j + 1)) & 1) << 4
                }
                lv[64 * j + l] = lo; lv[64 * j + 32 + l] = hi
            }
        }
    }

    /// Unsigned 6-bit levels (0...63, value = level - 32) of a q6_K super-block, in element order.
    static func unpackQ6K(_ p: UnsafeRawPointer, _ lv: UnsafeMutablePointer<Int32>) {
        for n in 0..<2 {
            for l in 0..<32 {
                let h = Int32(p.load(fromByteOffset: 128 + 32 * n + l, as: UInt8.self))
                let lo = Int32(p.load(fromByteOffset: 64 * n + l, as: UInt8.self))
                let hi = Int32(p.load(fromByteOffset: 64 * n + 32 + l, as: UInt8.self))
                lv[128 * n + l] = (lo & 0xF) | ((h & 3) << 4)
                lv[128 * n + 32 + l] = (hi & 0xF) | (((h >> 2) & 3) << 4)
                lv[128 * n + 64 + l] = (lo >> 4) | (((h >> 4) & 3) << 4)
                lv[128 * n + 96 + l] = (hi >> 4) | (((h >> 6) & 3) << 4)
            }
        }
    }
}
