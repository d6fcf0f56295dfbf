// AVX2 kernels for the row-interleaved q4_K / q6_K layouts (see RowInterleave.swift for the byte layout) against
// q8_K activations.
//
// As for q4_0 x8, level vector m holds 4 consecutive levels of each of the 8 rows (row r in 32-bit lane r), so
// `vpmaddubsw` against the activation quad broadcast to all lanes leaves row r's two pair sums in lane r, and one
// `vpmaddwd` with the sub-block's 8 row scales (each duplicated into its lane's two 16-bit halves) turns the i16
// sums into scaled i32 row sums. Levels stay unsigned; the offsets come from activation sums:
//   q4_K: row · a = d · Σ_c sc_c · Σ_{i∈c} q_i a_i − dmin · Σ_c m_c · A_c    (A_c = Σ a over 32-value sub-block c)
//         8 products of ≤ 2 · 15 · 128 fit the i16 sums, so one `vpmaddwd` per sub-block.
//   q6_K: row · a = d · (Σ_c sc_c · Σ_{i∈c} q_i a_i − 32 · Σ_c sc_c · B_c)      (B_c = q8_K bsums, 16 values)
//         levels 0…63: only 2 products (≤ 2 · 63 · 128 each) fit an i16 sum, so two `vpmaddwd` per sub-block.
// The A_c pairs of q4_K are precomputed per token (`QuantKernels.interleavedAux`), q6_K reads the bsums directly.
// Prefill tiles are 16 rows × 4 tokens for q4_K and 8 rows × 4 tokens for q6_K (whose 2-product i16 sums need
// more registers): each level vector is decoded once and used for 4 tokens; the last tile does exactly the tokens
// left (`AVX2Interleaved.tiles`).
#if arch(x86_64)
import _Builtin_intrinsics.intel

extension AVX2Interleaved {
    /// A `vpshufb` control that, in both 128-bit halves, gives each row's 32-bit lane (rows r and r + 4 share a
    /// position) the bytes `p` of that same lane: `p[i]` is a byte index 0…3 within the lane or 0x80 for zero.
    /// Two instructions (the kernels run per 32-row chunk, so per-call setup must stay tiny).
    @inline(__always) static func laneShuffle(_ p0: UInt8, _ p1: UInt8, _ p2: UInt8, _ p3: UInt8) -> __m256i {
        let p = UInt32(p0) | UInt32(p1) << 8 | UInt32(p2) << 16 | UInt32(p3) << 24
        // Adding 4r' to an index selects row r''s byte; 0x80 + 4r' keeps its top bit, so zeroes stay zeroes.
        let rowBase = _mm256_setr_epi32(0, 0x0404_0404, 0x0808_0808, 0x0c0c_0c0c, 0, 0x0404_0404, 0x0808_0808, 0x0c0c_0c0c)
        return _mm256_add_epi8(_mm256_set1_epi32(Int32(bitPattern: p)), rowBase)
    }

    /// q6_K `vpshufb` controls: [i] (i < 4) puts byte i of each row's lane into the high half of both i16s,
    /// [4 + p] bytes 2p and 2p + 1 into the high halves of the two i16s (an arithmetic shift then sign-extends).
    /// A table, so that loops the compiler leaves rolled index it instead of selecting a control at run time.
    nonisolated(unsafe) static let q6Controls: UnsafePointer<__m256i> = {
        let c = UnsafeMutablePointer<__m256i>.allocate(capacity: 6)
        for i in 0..<4 { c[i] = laneShuffle(0x80, UInt8(i), 0x80, UInt8(i)) }
        c[4] = laneShuffle(0x80, 0, 0x80, 1)
        c[5] = laneShuffle(0x80, 2, 0x80, 3)
        return UnsafePointer(c)
    }()

    /// Row scales and mins of a q4_K record, one byte per row and sub-block: byte 4r + c of `.sLo` / `.sHi` is
    /// row r's scale of sub-block c / c + 4, same for the mins.
    @inline(__always)
    static func q4KScalesMins(_ rec: UnsafeRawPointer) -> (sLo: __m256i, sHi: __m256i, mLo: __m256i, mHi: __m256i) {
        let m3f = splat8(0x3F), m0f = splat8(0x0F), m30 = splat8(0x30)
        let v0 = ld256(rec + 32), v1 = ld256(rec + 64), v2 = ld256(rec + 96)
        // Sub-blocks 4…7: low 4 bits from word 2 (scales low nibble, mins high nibble), top 2 bits from bits 6…7
        // of words 0 (scales) and 1 (mins). 16-bit shifts are fine: the bits crossing bytes are masked off.
        let sHi = _mm256_or_si256(_mm256_and_si256(v2, m0f), _mm256_and_si256(_mm256_srli_epi16(v0, 2), m30))
        let mHi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v2, 4), m0f),
                                  _mm256_and_si256(_mm256_srli_epi16(v1, 2), m30))
        return (_mm256_and_si256(v0, m3f), sHi, _mm256_and_si256(v1, m3f), mHi)
    }

    /// q4_K: i16 lane pairs × the 4 min pairs of a record against aux pairs (A_2p, A_2p+1) = Σ_c m_c · A_c per row.
    @inline(__always)
    static func q4KMinCorrection(_ mp: (__m256i, __m256i, __m256i, __m256i), _ x: UnsafeRawPointer) -> __m256i {
        @inline(__always) func pair(_ p: Int) -> __m256i { _mm256_set1_epi32(x.loadUnaligned(fromByteOffset: 4 * p, as: Int32.self)) }
        return _mm256_add_epi32(_mm256_add_epi32(_mm256_madd_epi16(mp.0, pair(0)), _mm256_madd_epi16(mp.1, pair(1))),
                                _mm256_add_epi32(_mm256_madd_epi16(mp.2, pair(2)), _mm256_madd_epi16(mp.3, pair(3))))
    }

    /// out[t * outStride + (r - 8·groups.lowerBound)] for the q4_K rows of `groups`. qx: q8_K activation rows;
    /// aux: per token and super-block the 8 sub-block sums A_c as Int16 (`QuantKernels.interleavedAux`).
    static func q4K(_ w: UnsafeRawPointer, nb: Int, _ groups: Range<Int>, _ qx: UnsafeRawPointer,
                    _ aux: UnsafeRawPointer, _ tokens: Int, _ out: UnsafeMutablePointer<Float>, _ outStride: Int) {
        let m0f = splat8(0x0F)
        // Scale of sub-block c (c mod 4) zero-extended into both i16 halves; min pairs (m_2p, m_2p+1) as i16.
        // Every use below names its control explicitly, so no loop has to select one at run time.
        let dup0 = laneShuffle(0, 0x80, 0, 0x80), dup1 = laneShuffle(1, 0x80, 1, 0x80)
        let dup2 = laneShuffle(2, 0x80, 2, 0x80), dup3 = laneShuffle(3, 0x80, 3, 0x80)
        let pair0 = laneShuffle(0, 0x80, 1, 0x80), pair1 = laneShuffle(2, 0x80, 3, 0x80)
        let rb = 1152, arb = nb * 292, xrb = nb * 16, pf = Prefetch.distance
        @inline(__always) func bq(_ p: UnsafeRawPointer) -> __m256i { _mm256_set1_epi32(p.loadUnaligned(as: Int32.self)) }
        @inline(__always) func minPairs(_ sm: (sLo: __m256i, sHi: __m256i, mLo: __m256i, mHi: __m256i))
            -> (__m256i, __m256i, __m256i, __m256i) {
            (_mm256_shuffle_epi8(sm.mLo, pair0), _mm256_shuffle_epi8(sm.mLo, pair1),
             _mm256_shuffle_epi8(sm.mHi, pair0), _mm256_shuffle_epi8(sm.mHi, pair1))
        }
        /// Adds d_a · (d · isum − dmin · corr) for one record and one token to `acc`.
        @inline(__always) func finish(_ rec: UnsafeRawPointer, _ a: UnsafeRawPointer, _ isum: __m256i, _ corr: __m256i,
                                      _ acc: __m256) -> __m256 {
            let da = _mm256_set1_ps(a.loadUnaligned(as: Float.self))
            let d = _mm256_mul_ps(scales(rec), da), dmin = _mm256_mul_ps(scales(rec + 16), da)
            return _mm256_fnmadd_ps(_mm256_cvtepi32_ps(corr), dmin, _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), d, acc))
        }
        let g0 = groups.lowerBound
        if tokens == 1 {
            for g in groups {
                var acc = _mm256_setzero_ps()
                var rec = w + g * nb * rb
                for b in 0..<nb {
                    Prefetch.ahead(rec, bytes: 1152, distance: pf)
                    let a = qx + 292 * b
                    let sm = q4KScalesMins(rec)
                    /// Sub-blocks 2j (low nibbles of vectors 8j…8j+7) and 2j + 1 (high nibbles), scaled.
                    @inline(__always) func pairSum(_ j: Int, _ sc: __m256i, _ ctrlLo: __m256i, _ ctrlHi: __m256i) -> __m256i {
                        var lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256()
                        for q in 0..<8 {
                            let l = ld256(rec + 128 + 32 * (8 * j + q))
                            lo = _mm256_add_epi16(lo, _mm256_maddubs_epi16(_mm256_and_si256(l, m0f), bq(a + 4 + 64 * j + 4 * q)))
                            hi = _mm256_add_epi16(hi, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(l, 4), m0f),
                                                                           bq(a + 36 + 64 * j + 4 * q)))
                        }
                        return _mm256_add_epi32(_mm256_madd_epi16(lo, _mm256_shuffle_epi8(sc, ctrlLo)),
                                                _mm256_madd_epi16(hi, _mm256_shuffle_epi8(sc, ctrlHi)))
                    }
                    let isum = _mm256_add_epi32(_mm256_add_epi32(pairSum(0, sm.sLo, dup0, dup1), pairSum(1, sm.sLo, dup2, dup3)),
                                                _mm256_add_epi32(pairSum(2, sm.sHi, dup0, dup1), pairSum(3, sm.sHi, dup2, dup3)))
                    acc = finish(rec, a, isum, q4KMinCorrection(minPairs(sm), aux + 16 * b), acc)
                    rec += rb
                }
                store8(acc, out + 8 * (g - g0))
            }
            return
        }
        // Prefill: 16 rows (groups g, g + 1) × 4 tokens, sub-block by sub-block: each activation broadcast feeds
        // both groups and each level vector 4 tokens, with the 8 i16 sums in registers (fewer loads per multiply
        // than 8 × 4 tiles). A lone last group is paired with itself and stored once. The sums go to `sums` and
        // are scaled after all 8 sub-blocks: with the scales and i32 totals live across the loops instead, the
        // compiler spilled an i16 accumulator inside them (a store-to-load chain on every iteration).
        let sums = UnsafeMutablePointer<__m256i>.allocate(capacity: 64)
        defer { sums.deallocate() }
        var g = groups.lowerBound
        while g < groups.upperBound {
            let gB = min(g + 1, groups.upperBound - 1)
            /// Tokens t0 ..< t0 + n (n a literal 1…4); the pointers of absent tokens repeat the last one and their
            /// work is skipped.
            @inline(__always) func tile(_ t0: Int, _ n: Int) {
                let t1 = t0 + min(1, n - 1), t2 = t0 + min(2, n - 1), t3 = t0 + min(3, n - 1)
                var cA0 = _mm256_setzero_ps(), cA1 = cA0, cA2 = cA0, cA3 = cA0
                var cB0 = cA0, cB1 = cA0, cB2 = cA0, cB3 = cA0
                var recA = w + g * nb * rb, recB = w + gB * nb * rb
                for b in 0..<nb {
                    Prefetch.ahead(recA, bytes: 1152, distance: pf); Prefetch.ahead(recB, bytes: 1152, distance: pf)
                    let a0 = qx + t0 * arb + 292 * b, a1 = qx + t1 * arb + 292 * b
                    let a2 = qx + t2 * arb + 292 * b, a3 = qx + t3 * arb + 292 * b
                    /// Sub-block c: i16 sums of the low (`high` false) or high nibbles of vectors 8(c/2)… into
                    /// sums[8c…]: group A tokens 0…3, then group B.
                    @inline(__always) func sub(_ c: Int, _ high: Bool) {
                        var sA0 = _mm256_setzero_si256(), sA1 = sA0, sA2 = sA0, sA3 = sA0
                        var sB0 = sA0, sB1 = sA0, sB2 = sA0, sB3 = sA0
                        let off = 128 + 32 * 8 * (c / 2), o = 4 + 32 * c
                        for q in 0..<8 {
                            let lA = ld256(recA + off + 32 * q), lB = ld256(recB + off + 32 * q)
                            let vA = _mm256_and_si256(high ? _mm256_srli_epi16(lA, 4) : lA, m0f)
                            let vB = _mm256_and_si256(high ? _mm256_srli_epi16(lB, 4) : lB, m0f)
                            /// One token's activation quad q against both groups' levels.
                            @inline(__always) func token(_ a: UnsafeRawPointer, _ sA: inout __m256i, _ sB: inout __m256i) {
                                let x = bq(a + o + 4 * q)
                                sA = _mm256_add_epi16(sA, _mm256_maddubs_epi16(vA, x))
                                sB = _mm256_add_epi16(sB, _mm256_maddubs_epi16(vB, x))
                            }
                            token(a0, &sA0, &sB0)
                            if n > 1 { token(a1, &sA1, &sB1) }
                            if n > 2 { token(a2, &sA2, &sB2) }
                            if n > 3 { token(a3, &sA3, &sB3) }
                        }
                        let s = sums + 8 * c
                        s[0] = sA0; s[1] = sA1; s[2] = sA2; s[3] = sA3
                        s[4] = sB0; s[5] = sB1; s[6] = sB2; s[7] = sB3
                    }
                    sub(0, false); sub(1, true); sub(2, false); sub(3, true)
                    sub(4, false); sub(5, true); sub(6, false); sub(7, true)
                    /// One group's 4 tokens: Σ_c sums · scale_c, min correction, scaled into the float sums.
                    @inline(__always) func scaleGroup(_ rec: UnsafeRawPointer, _ k: Int,
                                                      _ c0: inout __m256, _ c1: inout __m256, _ c2: inout __m256, _ c3: inout __m256) {
                        let sm = q4KScalesMins(rec)
                        var i0 = _mm256_setzero_si256(), i1 = i0, i2 = i0, i3 = i0
                        @inline(__always) func add(_ c: Int, _ sc: __m256i) {
                            let s = sums + 8 * c + k
                            i0 = _mm256_add_epi32(i0, _mm256_madd_epi16(s[0], sc))
                            if n > 1 { i1 = _mm256_add_epi32(i1, _mm256_madd_epi16(s[1], sc)) }
                            if n > 2 { i2 = _mm256_add_epi32(i2, _mm256_madd_epi16(s[2], sc)) }
                            if n > 3 { i3 = _mm256_add_epi32(i3, _mm256_madd_epi16(s[3], sc)) }
                        }
                        add(0, _mm256_shuffle_epi8(sm.sLo, dup0)); add(1, _mm256_shuffle_epi8(sm.sLo, dup1))
                        add(2, _mm256_shuffle_epi8(sm.sLo, dup2)); add(3, _mm256_shuffle_epi8(sm.sLo, dup3))
                        add(4, _mm256_shuffle_epi8(sm.sHi, dup0)); add(5, _mm256_shuffle_epi8(sm.sHi, dup1))
                        add(6, _mm256_shuffle_epi8(sm.sHi, dup2)); add(7, _mm256_shuffle_epi8(sm.sHi, dup3))
                        let mp = minPairs(sm)
                        c0 = finish(rec, a0, i0, q4KMinCorrection(mp, aux + t0 * xrb + 16 * b), c0)
                        if n > 1 { c1 = finish(rec, a1, i1, q4KMinCorrection(mp, aux + t1 * xrb + 16 * b), c1) }
                        if n > 2 { c2 = finish(rec, a2, i2, q4KMinCorrection(mp, aux + t2 * xrb + 16 * b), c2) }
                        if n > 3 { c3 = finish(rec, a3, i3, q4KMinCorrection(mp, aux + t3 * xrb + 16 * b), c3) }
                    }
                    scaleGroup(recA, 0, &cA0, &cA1, &cA2, &cA3)
                    scaleGroup(recB, 4, &cB0, &cB1, &cB2, &cB3)
                    recA += rb; recB += rb
                }
                store4(out, outStride, t0, t0 + n, 8 * (g - g0), cA0, cA1, cA2, cA3)
                if gB != g { store4(out, outStride, t0, t0 + n, 8 * (gB - g0), cB0, cB1, cB2, cB3) }
            }
            tiles(tokens) { t0, n in tile(t0, n) }
            g += 2
        }
    }

    /// out[t * outStride + (r - 8·groups.lowerBound)] for the q6_K rows of `groups`. qx: q8_K activation rows.
    static func q6K(_ w: UnsafeRawPointer, nb: Int, _ groups: Range<Int>, _ qx: UnsafeRawPointer,
                    _ tokens: Int, _ out: UnsafeMutablePointer<Float>, _ outStride: Int) {
        let m0f = splat8(0x0F), m30 = splat8(0x30)
        let ctrl = q6Controls
        let rb = 1680, arb = nb * 292, pf = Prefetch.distance
        @inline(__always) func bq(_ p: UnsafeRawPointer) -> __m256i { _mm256_set1_epi32(p.loadUnaligned(as: Int32.self)) }
        /// The 8 rows' scales of sub-block c, each sign-extended into both i16 halves of its lane.
        @inline(__always) func scale(_ rec: UnsafeRawPointer, _ c: Int) -> __m256i {
            _mm256_srai_epi16(_mm256_shuffle_epi8(ld256(rec + 16 + 32 * (c >> 2)), ctrl[c & 3]), 8)
        }
        /// The 8 rows' scale pair (sc_2p, sc_2p+1) as sign-extended i16s per lane.
        @inline(__always) func scalePair(_ rec: UnsafeRawPointer, _ p: Int) -> __m256i {
            _mm256_srai_epi16(_mm256_shuffle_epi8(ld256(rec + 16 + 32 * (p >> 1)), ctrl[4 + (p & 1)]), 8)
        }
        /// Σ_c sc_c · B_c per row: scale pairs against the bsum pairs of activation block `a`.
        @inline(__always) func bsumCorrection(_ rec: UnsafeRawPointer, _ a: UnsafeRawPointer) -> __m256i {
            var corr = _mm256_setzero_si256()
            for p in 0..<8 { corr = _mm256_add_epi32(corr, _mm256_madd_epi16(scalePair(rec, p), bq(a + 260 + 4 * p))) }
            return corr
        }
        /// Levels of kind `k` (values 128n + 32k + 4q + i) from the record's ql/qh vectors for quad q of half n;
        /// only ever called with a literal `k`, so the switch folds away.
        @inline(__always) func levels(_ rec: UnsafeRawPointer, _ n: Int, _ q: Int, _ k: Int) -> __m256i {
            let t = rec + 144 + 96 * (8 * n + q)
            let ql = ld256(t + 32 * (k & 1)), qh = ld256(t + 64)
            let low = k < 2 ? _mm256_and_si256(ql, m0f) : _mm256_and_si256(_mm256_srli_epi16(ql, 4), m0f)
            let high: __m256i
            switch k {
            case 0: high = _mm256_slli_epi16(qh, 4)
            case 1: high = _mm256_slli_epi16(qh, 2)
            case 2: high = qh
            default: high = _mm256_srli_epi16(qh, 2)
            }
            return _mm256_or_si256(low, _mm256_and_si256(high, m30))
        }
        /// Adds d_a · d · (isum − 32 · corr) for one record and one token to `acc`.
        @inline(__always) func finish(_ rec: UnsafeRawPointer, _ a: UnsafeRawPointer, _ isum: __m256i, _ corr: __m256i,
                                      _ acc: __m256) -> __m256 {
            let d = _mm256_mul_ps(scales(rec), _mm256_set1_ps(a.loadUnaligned(as: Float.self)))
            let s = _mm256_sub_epi32(isum, _mm256_slli_epi32(corr, 5))
            return _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), d, acc)
        }
        let g0 = groups.lowerBound
        if tokens == 1 {
            for g in groups {
                var acc = _mm256_setzero_ps()
                var rec = w + g * nb * rb
                for b in 0..<nb {
                    Prefetch.ahead(rec, bytes: 1680, distance: pf)
                    let a = qx + 292 * b
                    var isum = _mm256_setzero_si256()
                    for n in 0..<2 {
                        for h in 0..<2 {
                            // Quads 4h…4h+3 of half n: sub-blocks 8n + 2k + h for the 4 level kinds k.
                            let sc0 = scale(rec, 8 * n + h), sc1 = scale(rec, 8 * n + 2 + h)
                            let sc2 = scale(rec, 8 * n + 4 + h), sc3 = scale(rec, 8 * n + 6 + h)
                            for qq in 0..<2 {
                                var p0 = _mm256_setzero_si256(), p1 = p0, p2 = p0, p3 = p0
                                for qi in 0..<2 {
                                    let q = 4 * h + 2 * qq + qi, ab = a + 4 + 128 * n + 4 * q
                                    p0 = _mm256_add_epi16(p0, _mm256_maddubs_epi16(levels(rec, n, q, 0), bq(ab)))
                                    p1 = _mm256_add_epi16(p1, _mm256_maddubs_epi16(levels(rec, n, q, 1), bq(ab + 32)))
                                    p2 = _mm256_add_epi16(p2, _mm256_maddubs_epi16(levels(rec, n, q, 2), bq(ab + 64)))
                                    p3 = _mm256_add_epi16(p3, _mm256_maddubs_epi16(levels(rec, n, q, 3), bq(ab + 96)))
                                }
                                isum = _mm256_add_epi32(isum, _mm256_add_epi32(
                                    _mm256_add_epi32(_mm256_madd_epi16(p0, sc0), _mm256_madd_epi16(p1, sc1)),
                                    _mm256_add_epi32(_mm256_madd_epi16(p2, sc2), _mm256_madd_epi16(p3, sc3))))
                            }
                        }
                    }
                    acc = finish(rec, a, isum, bsumCorrection(rec, a), acc)
                    rec += rb
                }
                store8(acc, out + 8 * (g - g0))
            }
            return
        }
        // Prefill: 8 rows × 4 tokens, one sub-block (4 quads) at a time.
        /// Group g × tokens t0 ..< t0 + m (m a literal 1…4; absent tokens' pointers repeat the last one, their
        /// work is skipped).
        @inline(__always) func tile(_ g: Int, _ t0: Int, _ m: Int) {
            let t1 = t0 + min(1, m - 1), t2 = t0 + min(2, m - 1), t3 = t0 + min(3, m - 1)
            var c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0
            var rec = w + g * nb * rb
            for b in 0..<nb {
                Prefetch.ahead(rec, bytes: 1680, distance: pf)
                let a0 = qx + t0 * arb + 292 * b, a1 = qx + t1 * arb + 292 * b
                let a2 = qx + t2 * arb + 292 * b, a3 = qx + t3 * arb + 292 * b
                var i0 = _mm256_setzero_si256(), i1 = i0, i2 = i0, i3 = i0
                /// The two sub-blocks 8n + 2k + h (h = 0, 1) of level kind k (a literal) in half n.
                @inline(__always) func kind(_ n: Int, _ k: Int) {
                    for h in 0..<2 {
                        let sc = scale(rec, 8 * n + 2 * k + h)
                        for qq in 0..<2 {
                            var s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0
                            for qi in 0..<2 {
                                let q = 4 * h + 2 * qq + qi, o = 4 + 128 * n + 32 * k + 4 * q
                                let lv = levels(rec, n, q, k)
                                s0 = _mm256_add_epi16(s0, _mm256_maddubs_epi16(lv, bq(a0 + o)))
                                if m > 1 { s1 = _mm256_add_epi16(s1, _mm256_maddubs_epi16(lv, bq(a1 + o))) }
                                if m > 2 { s2 = _mm256_add_epi16(s2, _mm256_maddubs_epi16(lv, bq(a2 + o))) }
                                if m > 3 { s3 = _mm256_add_epi16(s3, _mm256_maddubs_epi16(lv, bq(a3 + o))) }
                            }
                            i0 = _mm256_add_epi32(i0, _mm256_madd_epi16(s0, sc))
                            if m > 1 { i1 = _mm256_add_epi32(i1, _mm256_madd_epi16(s1, sc)) }
                            if m > 2 { i2 = _mm256_add_epi32(i2, _mm256_madd_epi16(s2, sc)) }
                            if m > 3 { i3 = _mm256_add_epi32(i3, _mm256_madd_epi16(s3, sc)) }
                        }
                    }
                }
                for n in 0..<2 { kind(n, 0); kind(n, 1); kind(n, 2); kind(n, 3) }
                // Each scale pair once for the 4 tokens' bsum corrections.
                var k0 = _mm256_setzero_si256(), k1 = k0, k2 = k0, k3 = k0
                for p in 0..<8 {
                    let sp = scalePair(rec, p), o = 260 + 4 * p
                    k0 = _mm256_add_epi32(k0, _mm256_madd_epi16(sp, bq(a0 + o)))
                    if m > 1 { k1 = _mm256_add_epi32(k1, _mm256_madd_epi16(sp, bq(a1 + o))) }
                    if m > 2 { k2 = _mm256_add_epi32(k2, _mm256_madd_epi16(sp, bq(a2 + o))) }
                    if m > 3 { k3 = _mm256_add_epi32(k3, _mm256_madd_epi16(sp, bq(a3 + o))) }
                }
                c0 = finish(rec, a0, i0, k0, c0)
                if m > 1 { c1 = finish(rec, a1, i1, k1, c1) }
                if m > 2 { c2 = finish(rec, a2, i2, k2, c2) }
                if m > 3 { c3 = finish(rec, a3, i3, k3, c3) }
                rec += rb
            }
            store4(out, outStride, t0, t0 + m, 8 * (g - g0), c0, c1, c2, c3)
        }
        for g in groups { tiles(tokens) { t0, m in tile(g, t0, m) } }
    }
}
#endif
