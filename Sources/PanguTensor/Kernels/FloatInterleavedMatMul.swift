// Matrix products with bf16/f16 weights in the row-interleaved layout (FloatInterleave.swift).
//
// Few tokens (decode, speculative verification): each thread takes chunks of 4 groups (32 rows) and reads them
// once per call (one token) or once per 2–3 tokens (AVX2FloatInterleaved). Prefill (T ≥ 24) is `PanelGEMM`'s 6 × 16
// micro-kernel; its [kc][16] panels come straight from two groups, whose columns are already 8 rows wide, so
// filling a panel is one widening load and one store per 8 values instead of a transposition.

enum FloatInterleavedMatMul {
    /// Groups per work item in decode (32 rows, like the row-major kernels).
    static let groupsPerChunk = 4
    /// Tokens from which the panel GEMM takes over (same threshold as the row-major float kernels).
    static let panelTokens = 24

    /// y[T, N] = x[T, K]·Wᵀ for an interleaved bf16/f16 `w`.
    static func run(_ x: UnsafePointer<Float>, tokens: Int, _ w: WeightMatrix, into y: UnsafeMutablePointer<Float>,
                    pool: ThreadPool) {
        precondition(w.layout == .interleaved8 && FloatInterleave.supports(w.dtype, rows: w.rows, k: w.cols))
        if tokens <= 0 { return }
        // The panel GEMM sums in another order than the tiles; with `Kernels.batchInvariant` the tiles serve every T.
        if tokens >= panelTokens && !Kernels.batchInvariant {
            prefill(x, tokens: tokens, w, y, pool)
            return
        }
        let groups = FloatInterleave.groups(rows: w.rows)
        let chunks = (groups + groupsPerChunk - 1) / groupsPerChunk
        #if arch(x86_64)
        switch w.dtype {
        case .bf16 where tokens == 1: few(BF16Widen.self, x, tokens, w, y, chunks, groups, pool)
        case .bf16: few(BF16SpreadWiden.self, x, tokens, w, y, chunks, groups, pool)
        default: few(F16Widen.self, x, tokens, w, y, chunks, groups, pool)
        }
        #else
        pool.parallelFor(chunks: chunks) { c in
            let range = (c * groupsPerChunk)..<min(groups, (c + 1) * groupsPerChunk)
            FloatInterleave.gemmPortable(w, groups: range, x: x, tokens: tokens, out: y + 8 * range.lowerBound,
                                         outStride: w.rows)
        }
        #endif
    }

    #if arch(x86_64)
    @inline(__always)
    static func few<W: InterleavedFloatWiden>(_: W.Type, _ x: UnsafePointer<Float>, _ tokens: Int, _ w: WeightMatrix,
                                              _ y: UnsafeMutablePointer<Float>, _ chunks: Int, _ groups: Int,
                                              _ pool: ThreadPool) {
        let k = w.cols, stride = (k + 1) / 2 * W.preparedPerStep
        let xp = UnsafeMutablePointer<Float>.allocate(capacity: stride * tokens)
        defer { xp.deallocate() }
        for t in 0..<tokens { W.prepare(x + t * k, k: k, into: xp + t * stride) }
        pool.parallelFor(chunks: chunks) { c in
            let range = (c * groupsPerChunk)..<min(groups, (c + 1) * groupsPerChunk)
            AVX2FloatInterleaved.gemm(W.self, w, groups: range, xp: xp, preparedStride: stride, tokens: tokens,
                                      out: y + 8 * range.lowerBound, outStride: w.rows)
        }
    }
    #endif

    /// Column `c` of the group at `gp` (8 rows) as floats.
    @inline(__always) static func column(_ bf16: Bool, _ gp: UnsafeRawPointer, _ c: Int) -> SIMD8<Float> {
        bf16 ? HalfConversion.bf16x8(gp + 16 * c) : HalfConversion.f16x8(gp + 16 * c)
    }

    /// Prefill through `PanelGEMM.tile6`: K in passes of `PanelGEMM.kBlock`, x packed into 6-token tiles per pass,
    /// panels of 16 rows (groups 2p and 2p + 1) shared out over the pool.
    static func prefill(_ x: UnsafePointer<Float>, tokens: Int, _ w: WeightMatrix, _ y: UnsafeMutablePointer<Float>,
                        _ pool: ThreadPool) {
        let k = w.cols, n = w.rows, kBlock = PanelGEMM.kBlock, tileTokens = PanelGEMM.tokenTile
        let groups = FloatInterleave.groups(rows: n), gb = FloatInterleave.groupBytes(k: k)
        let tiles = (tokens + tileTokens - 1) / tileTokens
        let panels = (groups + 1) / 2
        let bf16 = w.dtype == .bf16
        let xPacked = UnsafeMutablePointer<Float>.allocate(capacity: tiles * kBlock * tileTokens)
        defer { xPacked.deallocate() }
        var kb = 0
        while kb < k {
            let kc = min(kBlock, k - kb)
            pool.parallelFor(chunks: tiles) { tile in
                let dst = xPacked + tile * kBlock * tileTokens
                for u in 0..<tileTokens {
                    let t = tile * tileTokens + u
                    if t < tokens {
                        let src = x + t * k + kb
                        for j in 0..<kc { dst[j * tileTokens + u] = src[j] }
                    } else {
                        for j in 0..<kc { dst[j * tileTokens + u] = 0 }
                    }
                }
            }
            let accumulate = kb > 0
            pool.parallelFor(chunks: panels) { panel in
                let r0 = 16 * panel, rows = min(16, n - r0)
                let g0 = w.data + 2 * panel * gb, second = 2 * panel + 1 < groups
                withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: kBlock * 2) { buffer in
                    let packed = buffer.baseAddress!  // [kc][16] as pairs of SIMD8
                    for j in 0..<kc {
                        packed[2 * j] = column(bf16, g0, kb + j)
                        packed[2 * j + 1] = second ? column(bf16, g0 + gb, kb + j) : SIMD8<Float>()
                    }
                    for tile in 0..<tiles {
                        let t = tile * tileTokens
                        PanelGEMM.tile6(xPacked + tile * kBlock * tileTokens, packed, kc, y + t * n + r0, n, rows,
                                        min(tileTokens, tokens - t), accumulate)
                    }
                }
            }
            kb += kc
        }
    }
}
