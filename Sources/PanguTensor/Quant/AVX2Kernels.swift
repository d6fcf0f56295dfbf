// AVX2 integer dot-product kernels (x86-64 only; the module is compiled with -march=x86-64-v3).
//
// Every weight block is unpacked once into 32 int8/uint8 lanes and then multiplied against the matching block
// of each activation row with `vpmaddubsw` (u8 × i8 → i16 pairs) and `vpmaddwd` (→ i32), so one weight block
// read from memory serves all `tokens` activation rows while it is in registers.
#if arch(x86_64)
import _Builtin_intrinsics.intel

@inline(__always) func ld256(_ p: UnsafeRawPointer) -> __m256i {
    unsafeBitCast(p.loadUnaligned(as: SIMD32<UInt8>.self), to: __m256i.self)
}
@inline(__always) func ld128(_ p: UnsafeRawPointer) -> __m128i {
    unsafeBitCast(p.loadUnaligned(as: SIMD16<UInt8>.self), to: __m128i.self)
}
@inline(__always) func hsum(_ v: __m256) -> Float { v.sum() }
@inline(__always) func fabs8(_ v: SIMD8<Float>) -> SIMD8<Float> {
    unsafeBitCast(unsafeBitCast(v, to: SIMD8<UInt32>.self) & 0x7fff_ffff, to: SIMD8<Float>.self)
}
@inline(__always) func splat8(_ b: UInt8) -> __m256i { _mm256_set1_epi8(CChar(bitPattern: b)) }

/// A 32-value legacy block format as seen by the AVX2 driver.
protocol AVX2LegacyBlock {
    /// Weight block size in bytes.
    static var bytes: Int { get }
    /// True for symmetric formats (q8_0/q4_0/q5_0, paired with q8_0); false for d/m formats (paired with q8_1).
    static var symmetric: Bool { get }
    /// The 32 levels in element order: signed for symmetric formats, unsigned otherwise.
    static func levels(_ p: UnsafeRawPointer) -> __m256i
    /// Offset of the f16 min `m` (d/m formats only).
    static var minOffset: Int { get }
}

/// Expands bits 0..<32 of `qh` into 32 bytes equal to 0x10 where the bit is set, 0 otherwise.
@inline(__always) func fifthBits(_ qh: UInt32) -> __m256i {
    let x = _mm256_set1_epi32(Int32(bitPattern: qh))
    let shuf = unsafeBitCast(SIMD32<UInt8>(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                           2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3), to: __m256i.self)
    let bit = unsafeBitCast(SIMD4<UInt64>(repeating: 0x8040_2010_0804_0201), to: __m256i.self)
    let sel = _mm256_and_si256(_mm256_shuffle_epi8(x, shuf), bit)
    return _mm256_and_si256(_mm256_cmpeq_epi8(sel, bit), splat8(0x10))
}

/// Low nibbles of 16 bytes in lanes 0..15, high nibbles in lanes 16..31.
@inline(__always) func nibbles(_ p: UnsafeRawPointer) -> __m256i {
    let q = ld128(p)
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), splat8(0x0F))
}

enum AVXQ8_0: AVX2LegacyBlock {
    static var bytes: Int { 34 }
    static var symmetric: Bool { true }
    static var minOffset: Int { 0 }
    @inline(__always) static func levels(_ p: UnsafeRawPointer) -> __m256i { ld256(p + 2) }
}

enum AVXQ4_0: AVX2LegacyBlock {
    static var bytes: Int { 18 }
    static var symmetric: Bool { true }
    static var minOffset: Int { 0 }
    @inline(__always) static func levels(_ p: UnsafeRawPointer) -> __m256i {
        _mm256_sub_epi8(nibbles(p + 2), splat8(8))
    }
}

enum AVXQ5_0: AVX2LegacyBlock {
    static var bytes: Int { 22 }
    static var symmetric: Bool { true }
    static var minOffset: Int { 0 }
    @inline(__always) static func levels(_ p: UnsafeRawPointer) -> __m256i {
        let qh = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
        return _mm256_sub_epi8(_mm256_or_si256(nibbles(p + 6), fifthBits(qh)), splat8(16))
    }
}

enum AVXQ4_1: AVX2LegacyBlock {
    static var bytes: Int { 20 }
    static var symmetric: Bool { false }
    static var minOffset: Int { 2 }
    @inline(__always) static func levels(_ p: UnsafeRawPointer) -> __m256i { nibbles(p + 4) }
}

enum AVXQ5_1: AVX2LegacyBlock {
    static var bytes: Int { 24 }
    static var symmetric: Bool { false }
    static var minOffset: Int { 2 }
    @inline(__always) static func levels(_ p: UnsafeRawPointer) -> __m256i {
        let qh = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        return _mm256_or_si256(nibbles(p + 8), fifthBits(qh))
    }
}

enum AVX2Kernels {
    /// Fast q8_0 (`withSum == false`) / q8_1 activation quantiser; byte-identical to `QuantReference` for finite
    /// input (round half away from zero done exactly as trunc + |frac| ≥ 0.5). Non-finite input saturates.
    static func quantizeQ8Legacy(_ x: UnsafePointer<Float>, k: Int, withSum: Bool, into out: UnsafeMutableRawPointer) {
        let bb = withSum ? 36 : 34, qoff = withSum ? 4 : 2
        let absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff))
        let half = _mm256_set1_epi32(0x3EFF_FFFF)        // bits just below 0.5f
        let one = _mm256_set1_epi32(1)
        let lo127 = _mm256_set1_epi32(-127), hi127 = _mm256_set1_epi32(127)
        let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)
        for b in 0..<(k / 32) {
            let xp = UnsafeRawPointer(x + 32 * b)
            let v0 = xp.loadUnaligned(as: SIMD8<Float>.self)
            let v1 = xp.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
            let v2 = xp.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self)
            let v3 = xp.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
            let m = _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(v0, absMask), _mm256_and_ps(v1, absMask)),
                                  _mm256_max_ps(_mm256_and_ps(v2, absMask), _mm256_and_ps(v3, absMask)))
            let amax = m.max()
            let d = amax / 127, id: Float = d != 0 ? 1 / d : 0
            let idv = _mm256_set1_ps(id)
            @inline(__always) func q(_ v: __m256) -> __m256i {
                let y = _mm256_mul_ps(v, idv)
                let t = _mm256_cvttps_epi32(y)                                  // toward zero
                let frac = _mm256_and_ps(_mm256_sub_ps(y, _mm256_cvtepi32_ps(t)), absMask)
                let up = _mm256_cmpgt_epi32(_mm256_castps_si256(frac), half)    // |frac| >= 0.5
                let sign = _mm256_or_si256(_mm256_srai_epi32(_mm256_castps_si256(y), 31), one)   // ±1
                let r = _mm256_add_epi32(t, _mm256_and_si256(up, sign))
                return _mm256_min_epi32(_mm256_max_epi32(r, lo127), hi127)
            }
            let q0 = q(v0), q1 = q(v1), q2 = q(v2), q3 = q(v3)
            let packed = _mm256_packs_epi16(_mm256_packs_epi32(q0, q1), _mm256_packs_epi32(q2, q3))
            let o = out + bb * b
            o.storeBytes(of: unsafeBitCast(_mm256_permutevar8x32_epi32(packed, order), to: SIMD32<Int8>.self),
                         toByteOffset: qoff, as: SIMD32<Int8>.self)
            HalfConversion.storeF16(d, o)
            if withSum {
                let s = unsafeBitCast(_mm256_add_epi32(_mm256_add_epi32(q0, q1), _mm256_add_epi32(q2, q3)), to: SIMD8<Int32>.self)
                HalfConversion.storeF16(Float(s.wrappedSum()) * d, o, 2)
            }
        }
    }

    static func gemm(weights: UnsafeRawPointer, dtype: DType, k: Int, rows: Range<Int>, qx: UnsafeRawPointer,
                     tokens: Int, out: UnsafeMutablePointer<Float>, outStride: Int) {
        switch dtype {
        case .q8_0: legacy(AVXQ8_0.self, weights, k, rows, qx, tokens, out, outStride)
        case .q4_0: legacy(AVXQ4_0.self, weights, k, rows, qx, tokens, out, outStride)
        case .q5_0: legacy(AVXQ5_0.self, weights, k, rows, qx, tokens, out, outStride)
        case .q4_1: legacy(AVXQ4_1.self, weights, k, rows, qx, tokens, out, outStride)
        case .q5_1: legacy(AVXQ5_1.self, weights, k, rows, qx, tokens, out, outStride)
        case .q4_K, .q5_K, .q6_K: kquant(dtype, weights, k, rows, qx, tokens, out, outStride)
        default: preconditionFailure("no AVX2 kernel for \(dtype)")
        }
    }

    /// i32 lanes of Σ w·a over one 32-value block (`w` already unpacked; `aw` = |w| for symmetric formats).
    @inline(__always)
    static func blockDot<F: AVX2LegacyBlock>(_: F.Type, _ w: __m256i, _ aw: __m256i, _ a: __m256i) -> __m256 {
        let p = F.symmetric ? _mm256_maddubs_epi16(aw, _mm256_sign_epi8(a, w)) : _mm256_maddubs_epi16(w, a)
        return _mm256_cvtepi32_ps(_mm256_madd_epi16(p, _mm256_set1_epi16(1)))
    }

    @inline(__always)
    static func legacy<F: AVX2LegacyBlock>(_ f: F.Type, _ weights: UnsafeRawPointer, _ k: Int, _ rows: Range<Int>,
                                           _ qx: UnsafeRawPointer, _ tokens: Int,
                                           _ out: UnsafeMutablePointer<Float>, _ outStride: Int) {
        let nb = k / 32, wrb = nb * F.bytes
        let ab = F.symmetric ? 34 : 36, aoff = F.symmetric ? 2 : 4, arb = nb * ab
        if tokens == 1 {
            for r in rows {
                let w = weights + r * wrb
                // One accumulator, blocks in order, as in the prefill tile (batch invariance).
                var acc = _mm256_setzero_ps()
                var mins: Float = 0
                @inline(__always) func block(_ b: Int, _ acc: inout __m256) {
                    let wp = w + b * F.bytes, ap = qx + b * ab
                    let wv = F.levels(wp)
                    let s = blockDot(f, wv, F.symmetric ? _mm256_sign_epi8(wv, wv) : wv, ld256(ap + aoff))
                    acc = _mm256_fmadd_ps(s, _mm256_set1_ps(HalfConversion.loadF16(wp) * HalfConversion.loadF16(ap)), acc)
                    if !F.symmetric { mins += HalfConversion.loadF16(wp, F.minOffset) * HalfConversion.loadF16(ap, 2) }
                }
                for b in 0..<nb { block(b, &acc) }
                out[r - rows.lowerBound] = hsum(acc) + mins
            }
            return
        }
        // Prefill: 2 weight rows × 4 activation rows register tile; each unpacked weight block serves 4 tokens and
        // each activation block 2 rows. Tail rows/tokens reuse the last valid one and their results are dropped.
        let lo = rows.lowerBound
        for r in stride(from: lo, to: rows.upperBound, by: 2) {
            let r1 = min(r + 1, rows.upperBound - 1)
            let w0 = weights + r * wrb, w1 = weights + r1 * wrb
            for t0 in stride(from: 0, to: tokens, by: 4) {
                let a0 = qx + t0 * arb, a1 = qx + min(t0 + 1, tokens - 1) * arb
                let a2 = qx + min(t0 + 2, tokens - 1) * arb, a3 = qx + min(t0 + 3, tokens - 1) * arb
                var c00 = _mm256_setzero_ps(), c01 = c00, c02 = c00, c03 = c00
                var c10 = c00, c11 = c00, c12 = c00, c13 = c00
                var m00: Float = 0, m01: Float = 0, m02: Float = 0, m03: Float = 0
                var m10: Float = 0, m11: Float = 0, m12: Float = 0, m13: Float = 0
                for b in 0..<nb {
                    let p0 = w0 + b * F.bytes, p1 = w1 + b * F.bytes, ao = b * ab
                    let v0 = F.levels(p0), v1 = F.levels(p1)
                    let u0 = F.symmetric ? _mm256_sign_epi8(v0, v0) : v0, u1 = F.symmetric ? _mm256_sign_epi8(v1, v1) : v1
                    let d0 = HalfConversion.loadF16(p0), d1 = HalfConversion.loadF16(p1)
                    @inline(__always) func step(_ a: UnsafeRawPointer, _ c0: inout __m256, _ c1: inout __m256,
                                                _ n0: inout Float, _ n1: inout Float) {
                        let ap = a + ao
                        let av = ld256(ap + aoff), da = HalfConversion.loadF16(ap)
                        c0 = _mm256_fmadd_ps(blockDot(f, v0, u0, av), _mm256_set1_ps(d0 * da), c0)
                        c1 = _mm256_fmadd_ps(blockDot(f, v1, u1, av), _mm256_set1_ps(d1 * da), c1)
                        if !F.symmetric {
                            let sa = HalfConversion.loadF16(ap, 2)
                            n0 += HalfConversion.loadF16(p0, F.minOffset) * sa
                            n1 += HalfConversion.loadF16(p1, F.minOffset) * sa
                        }
                    }
                    step(a0, &c00, &c10, &m00, &m10)
                    step(a1, &c01, &c11, &m01, &m11)
                    step(a2, &c02, &c12, &m02, &m12)
                    step(a3, &c03, &c13, &m03, &m13)
                }
                let n = min(4, tokens - t0), second = r + 1 < rows.upperBound
                @inline(__always) func put(_ j: Int, _ v0: Float, _ v1: Float) {
                    guard j < n else { return }
                    out[(t0 + j) * outStride + (r - lo)] = v0
                    if second { out[(t0 + j) * outStride + (r + 1 - lo)] = v1 }
                }
                put(0, hsum(c00) + m00, hsum(c10) + m10); put(1, hsum(c01) + m01, hsum(c11) + m11)
                put(2, hsum(c02) + m02, hsum(c12) + m12); put(3, hsum(c03) + m03, hsum(c13) + m13)
            }
        }
    }
}
#endif
