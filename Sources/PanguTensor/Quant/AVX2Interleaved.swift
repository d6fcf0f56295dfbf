// AVX2 kernels for the row-interleaved q8_0 / q4_0 layouts (see RowInterleave.swift for the byte layout;
// q4_K / q6_K are in AVX2InterleavedK.swift).
//
// One record holds 32 values of 8 rows; register j holds value quad j of all 8 rows (4 bytes per row), so
// `vpmaddubsw` against the activation quad broadcast to all lanes followed by `vpmaddwd` leaves row r's partial
// sum in 32-bit lane r. q4_0 levels stay unsigned (0…15): Σ (q − 8)·a = Σ q·a − 8·Σ a, with 8·Σ a per activation
// block precomputed (`QuantKernels.interleavedAux`), and 8 products of ≤ 2·15·127 fit the 16-bit sums. q8_0 levels are signed,
// so they use the |w| × sign(a, w) trick and widen to 32 bits after every quad.
#if arch(x86_64)
import _Builtin_intrinsics.intel

enum AVX2Interleaved {
    /// out[t * outStride + (r - 8·groups.lowerBound)] for rows r of `groups` (8 rows each), tokens t.
    /// qx: activation rows in `QuantKernels.activationFormat(for: w.dtype)`; aux: their side data
    /// (`QuantKernels.interleavedAux`; for q8_0/q4_0 per token and block d_a as Float and 8·Σa as Int32).
    static func gemm(_ w: WeightMatrix, groups: Range<Int>, qx: UnsafeRawPointer, aux: UnsafeRawPointer,
                     tokens: Int, out: UnsafeMutablePointer<Float>, outStride: Int) {
        switch w.dtype {
        case .q4_0: q4(w.data, nb: w.cols / 32, groups, qx, aux, tokens, out, outStride)
        case .q8_0: q8(w.data, nb: w.cols / 32, groups, qx, aux, tokens, out, outStride)
        case .q4_K: q4K(w.data, nb: w.cols / 256, groups, qx, aux, tokens, out, outStride)
        case .q6_K: q6K(w.data, nb: w.cols / 256, groups, qx, tokens, out, outStride)
        default: preconditionFailure("\(w.dtype) has no interleaved layout")
        }
    }

    /// Activation quad j of block b of a q8_0 row, broadcast to all 8 lanes.
    @inline(__always) static func quad(_ ap: UnsafeRawPointer, _ j: Int) -> __m256i {
        _mm256_set1_epi32(ap.loadUnaligned(fromByteOffset: 2 + 4 * j, as: Int32.self))
    }

    /// Row scales of a record (8 × f16) as floats.
    @inline(__always) static func scales(_ rec: UnsafeRawPointer) -> __m256 { _mm256_cvtph_ps(ld128(rec)) }

    static func q4(_ w: UnsafeRawPointer, nb: Int, _ groups: Range<Int>, _ qx: UnsafeRawPointer,
                   _ aux: UnsafeRawPointer, _ tokens: Int, _ out: UnsafeMutablePointer<Float>, _ outStride: Int) {
        let low4 = splat8(0x0F), ones = _mm256_set1_epi16(1), pf = Prefetch.distance
        let arb = nb * 34, xrb = nb * 8
        @inline(__always) func levels(_ rec: UnsafeRawPointer, _ m: Int) -> (__m256i, __m256i) {
            let l = ld256(rec + 16 + 32 * m)
            return (_mm256_and_si256(l, low4), _mm256_and_si256(_mm256_srli_epi16(l, 4), low4))
        }
        @inline(__always) func blockSum(_ lv: (__m256i, __m256i, __m256i, __m256i, __m256i, __m256i, __m256i, __m256i),
                                        _ ap: UnsafeRawPointer, _ corr: Int32) -> __m256 {
            var s = _mm256_maddubs_epi16(lv.0, quad(ap, 0))
            s = _mm256_add_epi16(s, _mm256_maddubs_epi16(lv.1, quad(ap, 1)))
            s = _mm256_add_epi16(s, _mm256_maddubs_epi16(lv.2, quad(ap, 2)))
            s = _mm256_add_epi16(s, _mm256_maddubs_epi16(lv.3, quad(ap, 3)))
            s = _mm256_add_epi16(s, _mm256_maddubs_epi16(lv.4, quad(ap, 4)))
            s = _mm256_add_epi16(s, _mm256_maddubs_epi16(lv.5, quad(ap, 5)))
            s = _mm256_add_epi16(s, _mm256_maddubs_epi16(lv.6, quad(ap, 6)))
            s = _mm256_add_epi16(s, _mm256_maddubs_epi16(lv.7, quad(ap, 7)))
            return _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_madd_epi16(s, ones), _mm256_set1_epi32(corr)))
        }
        @inline(__always) func unpack(_ rec: UnsafeRawPointer)
            -> (__m256i, __m256i, __m256i, __m256i, __m256i, __m256i, __m256i, __m256i) {
            let (a0, a4) = levels(rec, 0), (a1, a5) = levels(rec, 1)
            let (a2, a6) = levels(rec, 2), (a3, a7) = levels(rec, 3)
            return (a0, a1, a2, a3, a4, a5, a6, a7)
        }
        let g0 = groups.lowerBound
        /// Group g × `n` tokens from t0 (n a literal 1…4): each record is unpacked once for the n tokens, and each
        /// token has one accumulator fed block by block, so its result does not depend on n (batch invariance).
        @inline(__always) func tile(_ g: Int, _ t0: Int, _ n: Int) {
            var c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0
            var rec = w + g * nb * 144
            for b in 0..<nb {
                Prefetch.ahead(rec, bytes: 144, distance: pf)
                let lv = unpack(rec), dw = scales(rec)
                @inline(__always) func tok(_ t: Int, _ c: inout __m256) {
                    let x = aux + t * xrb + 8 * b
                    let d = _mm256_mul_ps(dw, _mm256_set1_ps(x.load(as: Float.self)))
                    c = _mm256_fmadd_ps(blockSum(lv, qx + t * arb + 34 * b, x.load(fromByteOffset: 4, as: Int32.self)), d, c)
                }
                tok(t0, &c0)
                if n > 1 { tok(t0 + 1, &c1) }
                if n > 2 { tok(t0 + 2, &c2) }
                if n > 3 { tok(t0 + 3, &c3) }
                rec += 144
            }
            store4(out, outStride, t0, t0 + n, 8 * (g - g0), c0, c1, c2, c3)
        }
        for g in groups { tiles(tokens) { t0, n in tile(g, t0, n) } }
    }

    static func q8(_ w: UnsafeRawPointer, nb: Int, _ groups: Range<Int>, _ qx: UnsafeRawPointer,
                   _ aux: UnsafeRawPointer, _ tokens: Int, _ out: UnsafeMutablePointer<Float>, _ outStride: Int) {
        let ones = _mm256_set1_epi16(1), pf = Prefetch.distance
        let arb = nb * 34, xrb = nb * 8
        @inline(__always) func prod(_ wv: __m256i, _ aw: __m256i, _ a: __m256i) -> __m256i {
            _mm256_madd_epi16(_mm256_maddubs_epi16(aw, _mm256_sign_epi8(a, wv)), ones)
        }
        let g0 = groups.lowerBound
        /// Group g × `n` tokens from t0 (n a literal 1…4), each weight vector and its |w| shared by the n tokens.
        @inline(__always) func tile(_ g: Int, _ t0: Int, _ n: Int) {
            let a0 = qx + t0 * arb, a1 = a0 + arb, a2 = a1 + arb, a3 = a2 + arb
            var c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0
            var rec = w + g * nb * 272
            for b in 0..<nb {
                Prefetch.ahead(rec, bytes: 272, distance: pf)
                var s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0
                let o = 34 * b
                for j in 0..<8 {
                    let wv = ld256(rec + 16 + 32 * j), aw = _mm256_abs_epi8(wv)
                    s0 = _mm256_add_epi32(s0, prod(wv, aw, quad(a0 + o, j)))
                    if n > 1 { s1 = _mm256_add_epi32(s1, prod(wv, aw, quad(a1 + o, j))) }
                    if n > 2 { s2 = _mm256_add_epi32(s2, prod(wv, aw, quad(a2 + o, j))) }
                    if n > 3 { s3 = _mm256_add_epi32(s3, prod(wv, aw, quad(a3 + o, j))) }
                }
                // i32 sums are exact in any order; the float steps are the same for every n (batch invariance).
                let dw = scales(rec)
                @inline(__always) func fin(_ t: Int, _ s: __m256i, _ c: inout __m256) {
                    let d = _mm256_mul_ps(dw, _mm256_set1_ps((aux + t * xrb + 8 * b).load(as: Float.self)))
                    c = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), d, c)
                }
                fin(t0, s0, &c0)
                if n > 1 { fin(t0 + 1, s1, &c1) }
                if n > 2 { fin(t0 + 2, s2, &c2) }
                if n > 3 { fin(t0 + 3, s3, &c3) }
                rec += 272
            }
            store4(out, outStride, t0, t0 + n, 8 * (g - g0), c0, c1, c2, c3)
        }
        for g in groups { tiles(tokens) { t0, n in tile(g, t0, n) } }
    }

    /// Calls `body(t0, n)` over `tokens` in tiles of 4 and a last tile of exactly the tokens left, each with a
    /// literal n so the inlined tile keeps only its n tokens' work (a clamped 4-token tile would make a 2-token
    /// verification pass cost as much as 4 tokens).
    @inline(__always) static func tiles(_ tokens: Int, _ body: (Int, Int) -> Void) {
        var t0 = 0
        while t0 + 4 <= tokens { body(t0, 4); t0 += 4 }
        switch tokens - t0 {
        case 3: body(t0, 3)
        case 2: body(t0, 2)
        case 1: body(t0, 1)
        default: break
        }
    }

    /// Stores up to 4 token rows of 8 outputs each (tokens past the end were computed on a clamped copy: dropped).
    @inline(__always)
    static func store4(_ out: UnsafeMutablePointer<Float>, _ outStride: Int, _ t0: Int, _ tokens: Int, _ col: Int,
                       _ c0: __m256, _ c1: __m256, _ c2: __m256, _ c3: __m256) {
        @inline(__always) func put(_ j: Int, _ c: __m256) {
            if j < tokens - t0 { store8(c, out + (t0 + j) * outStride + col) }
        }
        put(0, c0); put(1, c1); put(2, c2); put(3, c3)
    }

    /// Stores one group's 8 row results.
    @inline(__always) static func store8(_ v: __m256, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }
}
#endif
