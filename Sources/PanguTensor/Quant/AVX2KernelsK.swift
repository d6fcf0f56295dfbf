// AVX2 kernels for the K-quants (q4_K, q5_K, q6_K) against q8_K activations.
//
// Each 256-value weight super-block is unpacked once into 8 vectors of 32 unsigned levels plus 8 vectors of
// 16-bit sub-block scales; every activation row then costs 8 × (vpmaddubsw + vpmaddwd + vpaddd) plus the
// min / -32 correction computed from q8_K's per-16 sums (`bsums`).
#if arch(x86_64)
import _Builtin_intrinsics.intel

extension AVX2Kernels {
    /// Fast q8_K activation quantiser; byte-identical to `QuantReference` for finite input
    /// (`vcvtps2dq` rounds half to even like ggml's `nearest_int`; packs saturate like the clamp).
    static func quantizeQ8K(_ x: UnsafePointer<Float>, k: Int, into out: UnsafeMutableRawPointer) {
        let absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff))
        let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)
        let hi127 = _mm256_set1_epi32(127)
        for b in 0..<(k / 256) {
            let xb = x + 256 * b, o = out + 292 * b
            var m = _mm256_setzero_ps()
            for i in stride(from: 0, to: 256, by: 8) {
                m = _mm256_max_ps(m, _mm256_and_ps(UnsafeRawPointer(xb + i).loadUnaligned(as: SIMD8<Float>.self), absMask))
            }
            let amax = m.max()
            var maxv: Float = 0
            for j in 0..<256 where abs(xb[j]) == amax { maxv = xb[j]; break }
            if maxv == 0 || !amax.isFinite {
                QuantReference.quantize(xb, k: 256, as: .q8_K, into: o)   // zero / non-finite blocks: reference path
                continue
            }
            let iscale = -127 / maxv, sv = _mm256_set1_ps(iscale)
            for g in 0..<8 {
                let p = UnsafeRawPointer(xb + 32 * g)
                @inline(__always) func q(_ off: Int) -> __m256i {
                    let v: __m256 = p.loadUnaligned(fromByteOffset: off, as: SIMD8<Float>.self)
                    return _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(sv, v)), hi127)
                }
                let q0 = q(0), q1 = q(32), q2 = q(64), q3 = q(96)
                let packed = _mm256_packs_epi16(_mm256_packs_epi32(q0, q1), _mm256_packs_epi32(q2, q3))
                o.storeBytes(of: unsafeBitCast(_mm256_permutevar8x32_epi32(packed, order), to: SIMD32<Int8>.self),
                             toByteOffset: 4 + 32 * g, as: SIMD32<Int8>.self)
                // Sums of the stored (saturated) bytes per 16 values.
                let bytes = o.loadUnaligned(fromByteOffset: 4 + 32 * g, as: SIMD32<Int8>.self)
                var s0: Int16 = 0, s1: Int16 = 0
                for i in 0..<16 { s0 &+= Int16(bytes[i]); s1 &+= Int16(bytes[16 + i]) }
                o.storeBytes(of: s0.littleEndian, toByteOffset: 260 + 4 * g, as: Int16.self)
                o.storeBytes(of: s1.littleEndian, toByteOffset: 262 + 4 * g, as: Int16.self)
            }
            o.storeBytes(of: (1 / iscale).bitPattern.littleEndian, as: UInt32.self)
        }
    }

    /// q6_K: the four level vectors of half `n` (0 or 1) of a super-block: 4 low bits from `ql`, 2 high bits from `qh`.
    @inline(__always)
    static func q6Levels(_ p: UnsafeRawPointer, _ n: Int) -> (__m256i, __m256i, __m256i, __m256i) {
        let low4 = splat8(0x0F), m30 = splat8(0x30)
        let qa = ld256(p + 64 * n), qb = ld256(p + 64 * n + 32), h = ld256(p + 128 + 32 * n)
        return (_mm256_or_si256(_mm256_and_si256(qa, low4), _mm256_and_si256(_mm256_slli_epi16(h, 4), m30)),
                _mm256_or_si256(_mm256_and_si256(qb, low4), _mm256_and_si256(_mm256_slli_epi16(h, 2), m30)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qa, 4), low4), _mm256_and_si256(h, m30)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qb, 4), low4),
                                _mm256_and_si256(_mm256_srli_epi16(h, 2), m30)))
    }

    /// q4_K/q5_K: the eight 6-bit sub-block scales and mins, one byte each, from the 12 packed scale bytes.
    @inline(__always)
    static func k45ScalesMins(_ p: UnsafeRawPointer) -> (scales: UInt64, mins: UInt64) {
        let w0 = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        let w1 = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        let w2 = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
        let scales = UInt64(w0 & 0x3f3f_3f3f) | (UInt64((w2 & 0x0f0f_0f0f) | (((w0 >> 6) & 0x0303_0303) << 4)) << 32)
        let mins = UInt64(w1 & 0x3f3f_3f3f) | (UInt64(((w2 >> 4) & 0x0f0f_0f0f) | (((w1 >> 6) & 0x0303_0303) << 4)) << 32)
        return (scales, mins)
    }

    /// q4_K/q5_K: levels of sub-blocks 2j (low nibbles) and 2j+1 (high nibbles), plus the fifth bit for q5_K.
    @inline(__always)
    static func k45Levels(_ p: UnsafeRawPointer, _ q5: Bool, _ j: Int) -> (__m256i, __m256i) {
        let low4 = splat8(0x0F), one = splat8(1)
        let q = ld256(p + (q5 ? 48 : 16) + 32 * j)
        var lo = _mm256_and_si256(q, low4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4)
        if q5 {
            let qh = ld256(p + 16)
            lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, Int32(2 * j)), one), 4))
            hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, Int32(2 * j + 1)), one), 4))
        }
        return (lo, hi)
    }

    /// Unpacked super-block: levels[0..<8], scales[8..<16], and the correction vector at [16]
    /// (q4_K/q5_K: per-lane pair-duplicated mins; q6_K: 16 signed scales, each as i16).
    @inline(__always)
    static func decodeK(_ dtype: DType, _ p: UnsafeRawPointer, _ v: UnsafeMutablePointer<__m256i>) -> (Float, Float) {
        if dtype == .q6_K {
            for n in 0..<2 {
                (v[4 * n], v[4 * n + 1], v[4 * n + 2], v[4 * n + 3]) = q6Levels(p, n)
            }
            let sc = p + 192
            for c in 0..<8 {
                let s0 = Int16(sc.load(fromByteOffset: 2 * c, as: Int8.self))
                let s1 = Int16(sc.load(fromByteOffset: 2 * c + 1, as: Int8.self))
                v[8 + c] = _mm256_set_m128i(_mm_set1_epi16(s1), _mm_set1_epi16(s0))
            }
            v[16] = _mm256_cvtepi8_epi16(ld128(sc))
            return (HalfConversion.loadF16(p, 208), 0)
        }
        let (scales, mins) = k45ScalesMins(p)
        for c in 0..<8 { v[8 + c] = _mm256_set1_epi16(Int16(truncatingIfNeeded: (scales >> UInt64(8 * c)) & 0xFF)) }
        let dup = unsafeBitCast(SIMD16<UInt8>(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7), to: __m128i.self)
        v[16] = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(_mm_cvtsi64_si128(Int64(bitPattern: mins)), dup))
        let q5 = dtype == .q5_K
        for j in 0..<4 { (v[2 * j], v[2 * j + 1]) = k45Levels(p, q5, j) }
        return (HalfConversion.loadF16(p), HalfConversion.loadF16(p, 2))
    }

    /// Adds one super-block's contribution (weights unpacked in `v`, activation block at `a`) to `acc`.
    @inline(__always)
    static func superDot(_ q6: Bool, _ v: UnsafePointer<__m256i>, _ d: Float, _ dmin: Float, _ a: UnsafeRawPointer,
                         _ acc: __m256) -> __m256 {
        var s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256()
        for c in stride(from: 0, to: 8, by: 2) {
            s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(_mm256_maddubs_epi16(v[c], ld256(a + 4 + 32 * c)), v[8 + c]))
            s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(_mm256_maddubs_epi16(v[c + 1], ld256(a + 36 + 32 * c)), v[9 + c]))
        }
        var sumi = _mm256_add_epi32(s0, s1)
        let da = Float(bitPattern: UInt32(littleEndian: a.loadUnaligned(as: UInt32.self)))
        let corr = _mm256_madd_epi16(v[16], ld256(a + 260))
        if q6 {
            sumi = _mm256_sub_epi32(sumi, _mm256_slli_epi32(corr, 5))
            return _mm256_fmadd_ps(_mm256_set1_ps(d * da), _mm256_cvtepi32_ps(sumi), acc)
        }
        let r = _mm256_fmadd_ps(_mm256_set1_ps(d * da), _mm256_cvtepi32_ps(sumi), acc)
        return _mm256_fnmadd_ps(_mm256_set1_ps(dmin * da), _mm256_cvtepi32_ps(corr), r)
    }

    /// Single-token super-block dot without the unpack scratch: levels go straight from the weight bytes into
    /// `vpmaddubsw` (decode is memory/compute bound, so this saves the 17 vector stores and reloads).
    @inline(__always)
    static func superDotFused(_ dtype: DType, _ p: UnsafeRawPointer, _ a: UnsafeRawPointer, _ acc: __m256) -> __m256 {
        let da = Float(bitPattern: UInt32(littleEndian: a.loadUnaligned(as: UInt32.self)))
        var s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256()
        if dtype == .q6_K {
            let sc = p + 192
            @inline(__always) func pair(_ c: Int) -> __m256i {
                _mm256_set_m128i(_mm_set1_epi16(Int16(sc.load(fromByteOffset: 2 * c + 1, as: Int8.self))),
                                 _mm_set1_epi16(Int16(sc.load(fromByteOffset: 2 * c, as: Int8.self))))
            }
            for n in 0..<2 {
                let (l0, l1, l2, l3) = q6Levels(p, n)
                let ab = a + 4 + 128 * n, c = 4 * n
                s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(_mm256_maddubs_epi16(l0, ld256(ab)), pair(c)))
                s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(_mm256_maddubs_epi16(l1, ld256(ab + 32)), pair(c + 1)))
                s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(_mm256_maddubs_epi16(l2, ld256(ab + 64)), pair(c + 2)))
                s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(_mm256_maddubs_epi16(l3, ld256(ab + 96)), pair(c + 3)))
            }
            let corr = _mm256_madd_epi16(_mm256_cvtepi8_epi16(ld128(sc)), ld256(a + 260))
            let sumi = _mm256_sub_epi32(_mm256_add_epi32(s0, s1), _mm256_slli_epi32(corr, 5))
            return _mm256_fmadd_ps(_mm256_set1_ps(HalfConversion.loadF16(p, 208) * da), _mm256_cvtepi32_ps(sumi), acc)
        }
        let (scales, mins) = k45ScalesMins(p)
        let q5 = dtype == .q5_K
        for j in 0..<4 {
            let (lo, hi) = k45Levels(p, q5, j)
            let sl = _mm256_set1_epi16(Int16(truncatingIfNeeded: (scales >> UInt64(16 * j)) & 0xFF))
            let sh = _mm256_set1_epi16(Int16(truncatingIfNeeded: (scales >> UInt64(16 * j + 8)) & 0xFF))
            s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(_mm256_maddubs_epi16(lo, ld256(a + 4 + 64 * j)), sl))
            s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(_mm256_maddubs_epi16(hi, ld256(a + 36 + 64 * j)), sh))
        }
        let dup = unsafeBitCast(SIMD16<UInt8>(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7), to: __m128i.self)
        let mv = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(_mm_cvtsi64_si128(Int64(bitPattern: mins)), dup))
        let corr = _mm256_madd_epi16(mv, ld256(a + 260))
        let r = _mm256_fmadd_ps(_mm256_set1_ps(HalfConversion.loadF16(p) * da), _mm256_cvtepi32_ps(_mm256_add_epi32(s0, s1)), acc)
        return _mm256_fnmadd_ps(_mm256_set1_ps(HalfConversion.loadF16(p, 2) * da), _mm256_cvtepi32_ps(corr), r)
    }

    static func kquant(_ dtype: DType, _ weights: UnsafeRawPointer, _ k: Int, _ rows: Range<Int>,
                       _ qx: UnsafeRawPointer, _ tokens: Int, _ out: UnsafeMutablePointer<Float>, _ outStride: Int) {
        switch dtype {
        case .q6_K: kquantTyped(.q6_K, weights, k, rows, qx, tokens, out, outStride)
        case .q5_K: kquantTyped(.q5_K, weights, k, rows, qx, tokens, out, outStride)
        default: kquantTyped(.q4_K, weights, k, rows, qx, tokens, out, outStride)
        }
    }

    @inline(__always)
    static func kquantTyped(_ dtype: DType, _ weights: UnsafeRawPointer, _ k: Int, _ rows: Range<Int>,
                            _ qx: UnsafeRawPointer, _ tokens: Int, _ out: UnsafeMutablePointer<Float>, _ outStride: Int) {
        let nb = k / 256, wb = dtype.bytesPerBlock, wrb = nb * wb, arb = nb * 292
        let q6 = dtype == .q6_K
        let v = UnsafeMutablePointer<__m256i>.allocate(capacity: 17)
        let acc = UnsafeMutablePointer<__m256>.allocate(capacity: tokens)
        defer { v.deallocate(); acc.deallocate() }
        for r in rows {
            let w = weights + r * wrb
            if tokens == 1 {
                // One accumulator, super-blocks in order, as in the prefill path (batch invariance).
                var a0 = _mm256_setzero_ps()
                for b in 0..<nb { a0 = superDotFused(dtype, w + b * wb, qx + b * 292, a0) }
                out[r - rows.lowerBound] = hsum(a0)
                continue
            }
            for t in 0..<tokens { acc[t] = _mm256_setzero_ps() }
            for b in 0..<nb {
                let (d, dmin) = decodeK(dtype, w + b * wb, v)
                var a = qx + b * 292
                for t in 0..<tokens {
                    acc[t] = superDot(q6, v, d, dmin, a, acc[t])
                    a += arb
                }
            }
            for t in 0..<tokens { out[t * outStride + (r - rows.lowerBound)] = hsum(acc[t]) }
        }
    }
}
#endif
