// AVX2 kernels for the row-interleaved bf16/f16 layout (byte layout in FloatInterleave.swift).
//
// A step is 32 bytes: two columns c = 2s, 2s+1 of the group's 8 rows. It is widened to two f32 vectors A, B and
// multiplied by two activation vectors into two accumulators per group and token; several groups (or tokens) per
// loop keep 8 independent FMA chains in flight.
//   bf16: one 32-byte load; A = v << 16 holds rows 0,2,4,6 of column 2s (lanes 0-3) and of column 2s+1 (lanes
//         4-7), B = v & 0xFFFF0000 rows 1,3,5,7. Both are multiplied by [x[2s] ×4, x[2s+1] ×4] (one token: one
//         8-byte broadcast + one `vpermps`; more: one load of a spread-out copy); the 8 row sums are untangled
//         once per group.
//   f16:  `vcvtph2ps` of each 16-byte half: A = column 2s, B = column 2s+1, times broadcasts of x[2s], x[2s+1].
// Every token's sums are formed in the same order whatever the number of tokens in the call, so one token gives
// bit-identical results alone or in a batch (speculative verification and batched decoding rely on this).
#if arch(x86_64)
import _Builtin_intrinsics.intel

/// How one float storage type widens a step and which activation factors go with it.
protocol InterleavedFloatWiden {
    /// Floats of prepared activation per step.
    static var preparedPerStep: Int { get }
    /// Writes the prepared activation row for `x[0..<k]` (`steps(k) · preparedPerStep` floats).
    static func prepare(_ x: UnsafePointer<Float>, k: Int, into out: UnsafeMutablePointer<Float>)
    /// The step at `p` (32 bytes) as two f32 vectors.
    static func widen(_ p: UnsafeRawPointer) -> (__m256, __m256)
    /// A lone last column at `p` (16 bytes, odd k) as the same two vectors with the missing column zero.
    static func widenLone(_ p: UnsafeRawPointer) -> (__m256, __m256)
    /// Whether 2-group × 3-token tiles fit the registers (the factors are FMA memory operands).
    static var threeTokenTiles: Bool { get }
    /// Activation factors of step `s`.
    static func factors(_ xp: UnsafePointer<Float>, _ s: Int) -> (__m256, __m256)
    /// The 8 row sums, row order, from the summed A and B accumulators.
    static func finish(_ a: __m256, _ b: __m256) -> __m256
}

enum BF16Widen: InterleavedFloatWiden {
    static var preparedPerStep: Int { 2 }
    static var threeTokenTiles: Bool { false }
    static func prepare(_ x: UnsafePointer<Float>, k: Int, into out: UnsafeMutablePointer<Float>) {
        F16Widen.prepare(x, k: k, into: out)
    }
    @inline(__always) static func widen(_ p: UnsafeRawPointer) -> (__m256, __m256) {
        split(ld256(p))
    }
    @inline(__always) static func widenLone(_ p: UnsafeRawPointer) -> (__m256, __m256) {
        let lo = ld128(p)
        return split(SIMD4<Int64>(lo[0], lo[1], 0, 0))
    }
    @inline(__always) static func split(_ v: __m256i) -> (__m256, __m256) {
        (_mm256_castsi256_ps(_mm256_slli_epi32(v, 16)),
         _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32(Int32(bitPattern: 0xFFFF_0000)))))
    }
    /// [x[2s] ×4, x[2s+1] ×4]: one 8-byte broadcast load and one lane permutation (the activation row stays
    /// L1-sized, 4 bytes per column, which decode's 4 read streams prefer; see `BF16SpreadWiden` for more tokens).
    @inline(__always) static func factors(_ xp: UnsafePointer<Float>, _ s: Int) -> (__m256, __m256) {
        let pair = _mm256_castsi256_ps(_mm256_set1_epi64x(UnsafeRawPointer(xp + 2 * s).loadUnaligned(as: Int64.self)))
        let v = _mm256_permutevar8x32_ps(pair, _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1))
        return (v, v)
    }
    @inline(__always) static func finish(_ a: __m256, _ b: __m256) -> __m256 {
        let e = a.lowHalf + a.highHalf, o = b.lowHalf + b.highHalf  // rows 0,2,4,6 and 1,3,5,7
        return SIMD8<Float>(e[0], o[0], e[1], o[1], e[2], o[2], e[3], o[3])
    }
}

/// bf16 for several tokens: the activation rows are prepared with each step's factor spelled out,
/// [x[2s] ×4, x[2s+1] ×4] (16 bytes per column), so a factor is one plain load that an FMA takes as its memory
/// operand and a 2-group × 3-token tile needs no factor registers.
enum BF16SpreadWiden: InterleavedFloatWiden {
    static var preparedPerStep: Int { 8 }
    static var threeTokenTiles: Bool { true }
    static func prepare(_ x: UnsafePointer<Float>, k: Int, into out: UnsafeMutablePointer<Float>) {
        for s in 0..<((k + 1) / 2) {
            let x0 = x[2 * s], x1 = 2 * s + 1 < k ? x[2 * s + 1] : 0
            for i in 0..<4 { out[8 * s + i] = x0; out[8 * s + 4 + i] = x1 }
        }
    }
    @inline(__always) static func widen(_ p: UnsafeRawPointer) -> (__m256, __m256) { BF16Widen.widen(p) }
    @inline(__always) static func widenLone(_ p: UnsafeRawPointer) -> (__m256, __m256) { BF16Widen.widenLone(p) }
    @inline(__always) static func factors(_ xp: UnsafePointer<Float>, _ s: Int) -> (__m256, __m256) {
        let v = UnsafeRawPointer(xp + 8 * s).loadUnaligned(as: SIMD8<Float>.self)
        return (v, v)
    }
    @inline(__always) static func finish(_ a: __m256, _ b: __m256) -> __m256 { BF16Widen.finish(a, b) }
}

enum F16Widen: InterleavedFloatWiden {
    static var preparedPerStep: Int { 2 }
    static var threeTokenTiles: Bool { false }
    static func prepare(_ x: UnsafePointer<Float>, k: Int, into out: UnsafeMutablePointer<Float>) {
        for i in 0..<k { out[i] = x[i] }
        if k % 2 == 1 { out[k] = 0 }
    }
    @inline(__always) static func widen(_ p: UnsafeRawPointer) -> (__m256, __m256) {
        (_mm256_cvtph_ps(ld128(p)), _mm256_cvtph_ps(ld128(p + 16)))
    }
    @inline(__always) static func widenLone(_ p: UnsafeRawPointer) -> (__m256, __m256) {
        (_mm256_cvtph_ps(ld128(p)), SIMD8<Float>())
    }
    @inline(__always) static func factors(_ xp: UnsafePointer<Float>, _ s: Int) -> (__m256, __m256) {
        (SIMD8<Float>(repeating: xp[2 * s]), SIMD8<Float>(repeating: xp[2 * s + 1]))
    }
    @inline(__always) static func finish(_ a: __m256, _ b: __m256) -> __m256 { a + b }
}

/// Groups × tokens of one `AVX2FloatInterleaved.tile`: 1 × 1, 2 × 1, 2 × 2 or 2 × 3.
protocol TileShape { static var groups: Int { get }; static var tokens: Int { get } }
enum Tile1x1: TileShape { static var groups: Int { 1 }; static var tokens: Int { 1 } }
enum Tile2x1: TileShape { static var groups: Int { 2 }; static var tokens: Int { 1 } }
enum Tile2x2: TileShape { static var groups: Int { 2 }; static var tokens: Int { 2 } }
/// 12 accumulators: only for widenings whose factors are one plain load each (`threeTokenTiles`), which the FMAs
/// take as memory operands.
enum Tile2x3: TileShape { static var groups: Int { 2 }; static var tokens: Int { 3 } }

enum AVX2FloatInterleaved {
    /// out[t * outStride + (r − 8·groups.lowerBound)] = W[r]·x[t] for the rows of `groups` (padding rows are not
    /// stored); `xp` holds `tokens` prepared activation rows of `preparedStride` floats (`W.prepare`).
    /// One token: 4 groups at a time (4 read streams per thread, like the row-major kernel, and each activation
    /// factor serves 4 groups). More tokens: group pairs (two read streams; one group × 4 tokens was 1.5× slower
    /// from DRAM) × 3 tokens where the factors fit in memory operands (bf16), then × 2, then × 1 — so a 2- or
    /// 3-token verification pass reads its weights from DRAM once, with 8–12 FMA chains. Every (group, token)
    /// pair has its own two accumulators fed in the same order in every variant, so results do not depend on the
    /// number of tokens (batch invariance).
    static func gemm<W: InterleavedFloatWiden>(_: W.Type, _ w: WeightMatrix, groups: Range<Int>,
                                               xp: UnsafePointer<Float>, preparedStride: Int, tokens: Int,
                                               out: UnsafeMutablePointer<Float>, outStride: Int) {
        let k = w.cols, gb = FloatInterleave.groupBytes(k: k), r0 = 8 * groups.lowerBound
        @inline(__always) func put(_ v: __m256, _ g: Int, _ t: Int) {
            store(v, out + 8 * g - r0 + t * outStride, min(8, w.rows - 8 * g))
        }
        var g = groups.lowerBound
        if tokens == 1 {
            while g + 4 <= groups.upperBound {
                let p = w.data + g * gb
                let y = four(W.self, p, p + gb, p + 2 * gb, p + 3 * gb, k, xp)
                put(y.0, g, 0); put(y.1, g + 1, 0); put(y.2, g + 2, 0); put(y.3, g + 3, 0)
                g += 4
            }
        }
        /// Shape `S` at group g, token t; results as `tile` orders them.
        @inline(__always) func run<S: TileShape>(_: S.Type, _ g: Int, _ t: Int) {
            let p = w.data + g * gb
            let y = tile(W.self, S.self, p, p + gb, k, xp + t * preparedStride, preparedStride)
            put(y.0, g, t)
            if S.groups == 2 { put(y.1, g + 1, t) }
            if S.tokens >= 2 { put(y.2, g, t + 1); put(y.3, g + 1, t + 1) }
            if S.tokens == 3 { put(y.4, g, t + 2); put(y.5, g + 1, t + 2) }
        }
        while g < groups.upperBound {
            if g + 2 <= groups.upperBound {
                var t = 0
                if W.threeTokenTiles {
                    while t + 3 <= tokens { run(Tile2x3.self, g, t); t += 3 }
                }
                while t + 2 <= tokens { run(Tile2x2.self, g, t); t += 2 }
                if t < tokens { run(Tile2x1.self, g, t) }
                g += 2
            } else {
                for t in 0..<tokens { run(Tile1x1.self, g, t) }
                g += 1
            }
        }
    }

    @inline(__always) static func store(_ v: __m256, _ p: UnsafeMutablePointer<Float>, _ count: Int) {
        if count == 8 {
            UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
        } else {
            for i in 0..<count { p[i] = v[i] }
        }
    }

    /// Four groups × one token (same per-group operations as `tile`).
    @inline(__always)
    static func four<W: InterleavedFloatWiden>(_: W.Type, _ p0: UnsafeRawPointer, _ p1: UnsafeRawPointer,
                                               _ p2: UnsafeRawPointer, _ p3: UnsafeRawPointer, _ k: Int,
                                               _ x: UnsafePointer<Float>) -> (__m256, __m256, __m256, __m256) {
        var a0 = SIMD8<Float>(), b0 = SIMD8<Float>(), a1 = SIMD8<Float>(), b1 = SIMD8<Float>()
        var a2 = SIMD8<Float>(), b2 = SIMD8<Float>(), a3 = SIMD8<Float>(), b3 = SIMD8<Float>()
        let full = k / 2
        @inline(__always) func step(_ o: Int, _ xa: __m256, _ xb: __m256, lone: Bool) {
            let (u0, v0) = lone ? W.widenLone(p0 + o) : W.widen(p0 + o)
            a0 = _mm256_fmadd_ps(u0, xa, a0); b0 = _mm256_fmadd_ps(v0, xb, b0)
            let (u1, v1) = lone ? W.widenLone(p1 + o) : W.widen(p1 + o)
            a1 = _mm256_fmadd_ps(u1, xa, a1); b1 = _mm256_fmadd_ps(v1, xb, b1)
            let (u2, v2) = lone ? W.widenLone(p2 + o) : W.widen(p2 + o)
            a2 = _mm256_fmadd_ps(u2, xa, a2); b2 = _mm256_fmadd_ps(v2, xb, b2)
            let (u3, v3) = lone ? W.widenLone(p3 + o) : W.widen(p3 + o)
            a3 = _mm256_fmadd_ps(u3, xa, a3); b3 = _mm256_fmadd_ps(v3, xb, b3)
        }
        let pf = Prefetch.distance
        for s in 0..<full {
            if s & 1 == 0 {  // one hint per 64-byte line of each stream
                Prefetch.ahead(p0 + 32 * s, bytes: 64, distance: pf); Prefetch.ahead(p1 + 32 * s, bytes: 64, distance: pf)
                Prefetch.ahead(p2 + 32 * s, bytes: 64, distance: pf); Prefetch.ahead(p3 + 32 * s, bytes: 64, distance: pf)
            }
            let (xa, xb) = W.factors(x, s)
            step(32 * s, xa, xb, lone: false)
        }
        if k % 2 == 1 {
            let (xa, xb) = W.factors(x, full)
            step(32 * full, xa, xb, lone: true)
        }
        return (W.finish(a0, b0), W.finish(a1, b1), W.finish(a2, b2), W.finish(a3, b3))
    }

    /// `S.groups` × `S.tokens` (1 × 1, 2 × 1, 2 × 2 or 2 × 3) at `p0` (and `p1`) against activation rows `stride`
    /// floats apart from `x`. Results: (group 0, token 0), (group 1, token 0), (group 0, token 1), (group 1,
    /// token 1), (group 0, token 2), (group 1, token 2); unused ones are zero. The shape is a type so that each variant is specialised with its accumulators in
    /// registers (with plain Int arguments the compiler kept one generic copy).
    @inline(__always)
    static func tile<W: InterleavedFloatWiden, S: TileShape>(_: W.Type, _: S.Type, _ p0: UnsafeRawPointer,
                                                            _ p1: UnsafeRawPointer, _ k: Int,
                                                            _ x: UnsafePointer<Float>, _ stride: Int)
        -> (__m256, __m256, __m256, __m256, __m256, __m256) {
        var a0 = SIMD8<Float>(), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0
        var a3 = a0, b3 = a0, a4 = a0, b4 = a0, a5 = a0, b5 = a0
        let full = k / 2
        @inline(__always) func fma(_ w: (__m256, __m256), _ f: (__m256, __m256), _ a: inout __m256, _ b: inout __m256) {
            a = _mm256_fmadd_ps(w.0, f.0, a); b = _mm256_fmadd_ps(w.1, f.1, b)
        }
        @inline(__always) func step(_ s: Int, lone: Bool) {
            let o = 32 * s
            let w0 = lone ? W.widenLone(p0 + o) : W.widen(p0 + o), f0 = W.factors(x, s)
            fma(w0, f0, &a0, &b0)
            if S.groups == 2 {
                let w1 = lone ? W.widenLone(p1 + o) : W.widen(p1 + o)
                fma(w1, f0, &a1, &b1)
                if S.tokens >= 2 {
                    let f1 = W.factors(x + stride, s)
                    fma(w0, f1, &a2, &b2); fma(w1, f1, &a3, &b3)
                }
                if S.tokens == 3 {
                    let f2 = W.factors(x + 2 * stride, s)
                    fma(w0, f2, &a4, &b4); fma(w1, f2, &a5, &b5)
                }
            }
        }
        let pf = Prefetch.distance
        for s in 0..<full {
            if s & 1 == 0 {
                Prefetch.ahead(p0 + 32 * s, bytes: 64, distance: pf)
                if S.groups == 2 { Prefetch.ahead(p1 + 32 * s, bytes: 64, distance: pf) }
            }
            step(s, lone: false)
        }
        if k % 2 == 1 { step(full, lone: true) }
        return (W.finish(a0, b0), W.finish(a1, b1), W.finish(a2, b2), W.finish(a3, b3), W.finish(a4, b4), W.finish(a5, b5))
    }

    /// 8×8 transpose of 16-bit values: rows `rowBytes` apart at `src` → eight 16-byte columns at `dst`.
    @inline(__always)
    static func transpose8x8(_ src: UnsafeRawPointer, rowBytes rb: Int, into dst: UnsafeMutableRawPointer) {
        let r0 = ld128(src), r1 = ld128(src + rb), r2 = ld128(src + 2 * rb), r3 = ld128(src + 3 * rb)
        let r4 = ld128(src + 4 * rb), r5 = ld128(src + 5 * rb), r6 = ld128(src + 6 * rb), r7 = ld128(src + 7 * rb)
        // a: row pairs interleaved (columns 0-3 / 4-7); b: row quads (two columns each); then row octets.
        let a0 = _mm_unpacklo_epi16(r0, r1), a1 = _mm_unpackhi_epi16(r0, r1)
        let a2 = _mm_unpacklo_epi16(r2, r3), a3 = _mm_unpackhi_epi16(r2, r3)
        let a4 = _mm_unpacklo_epi16(r4, r5), a5 = _mm_unpackhi_epi16(r4, r5)
        let a6 = _mm_unpacklo_epi16(r6, r7), a7 = _mm_unpackhi_epi16(r6, r7)
        let b0 = _mm_unpacklo_epi32(a0, a2), b1 = _mm_unpackhi_epi32(a0, a2)
        let b2 = _mm_unpacklo_epi32(a1, a3), b3 = _mm_unpackhi_epi32(a1, a3)
        let b4 = _mm_unpacklo_epi32(a4, a6), b5 = _mm_unpackhi_epi32(a4, a6)
        let b6 = _mm_unpacklo_epi32(a5, a7), b7 = _mm_unpackhi_epi32(a5, a7)
        @inline(__always) func put(_ c: Int, _ v: __m128i) { dst.storeBytes(of: v, toByteOffset: 16 * c, as: __m128i.self) }
        put(0, _mm_unpacklo_epi64(b0, b4)); put(1, _mm_unpackhi_epi64(b0, b4))
        put(2, _mm_unpacklo_epi64(b1, b5)); put(3, _mm_unpackhi_epi64(b1, b5))
        put(4, _mm_unpacklo_epi64(b2, b6)); put(5, _mm_unpackhi_epi64(b2, b6))
        put(6, _mm_unpacklo_epi64(b3, b7)); put(7, _mm_unpackhi_epi64(b3, b7))
    }
}
#endif
