// Matrix products with float weights (f32, f16, bf16) widened to f32 inside the kernel: the model is never
// materialised as an f32 copy. Quantised weights go through `QuantKernels` (Quant/), dispatched from `Kernels.matmul`.
//
// Layout: x is [T, K] row-major f32, W is [N, K] (PyTorch order), y is [T, N]: y = x·Wᵀ (+ b).
// Decode (T = 1) is memory-bound: each thread streams its rows of W once, four rows at a time so the core has
// four independent load streams. A few tokens (T < 24) use a 2-row × 4-token register tile straight on W, with
// K blocked so the W and x slices stay in L2. Both sum every output in the same order, so a row's result does not
// depend on the batch. Prefill proper (T ≥ 24) is compute-bound and uses `PanelGEMM` below (W widened once per
// 16-row panel and K block, then a 6-token × 16-row micro-kernel), which sums in another order; with
// `Kernels.batchInvariant` set the tile kernel serves every T instead.

/// Loads eight consecutive weights of one storage type as floats.
@usableFromInline protocol RowLoader {
    static func load8(_ row: UnsafeRawPointer, _ k: Int) -> SIMD8<Float>
    static func load1(_ row: UnsafeRawPointer, _ k: Int) -> Float
}

@usableFromInline enum F32Loader: RowLoader {
    @inlinable @inline(__always) static func load8(_ row: UnsafeRawPointer, _ k: Int) -> SIMD8<Float> {
        row.loadUnaligned(fromByteOffset: k * 4, as: SIMD8<Float>.self)
    }
    @inlinable @inline(__always) static func load1(_ row: UnsafeRawPointer, _ k: Int) -> Float {
        row.loadUnaligned(fromByteOffset: k * 4, as: Float.self)
    }
}

@usableFromInline enum BF16Loader: RowLoader {
    @inlinable @inline(__always) static func load8(_ row: UnsafeRawPointer, _ k: Int) -> SIMD8<Float> {
        HalfConversion.bf16x8(row + k * 2)
    }
    @inlinable @inline(__always) static func load1(_ row: UnsafeRawPointer, _ k: Int) -> Float {
        HalfConversion.bf16ToFloat(row.loadUnaligned(fromByteOffset: k * 2, as: UInt16.self))
    }
}

@usableFromInline enum F16Loader: RowLoader {
    @inlinable @inline(__always) static func load8(_ row: UnsafeRawPointer, _ k: Int) -> SIMD8<Float> {
        HalfConversion.f16x8(row + k * 2)
    }
    @inlinable @inline(__always) static func load1(_ row: UnsafeRawPointer, _ k: Int) -> Float {
        HalfConversion.f16ToFloat(row.loadUnaligned(fromByteOffset: k * 2, as: UInt16.self))
    }
}

@inline(__always) private func loadX(_ x: UnsafePointer<Float>, _ k: Int) -> SIMD8<Float> {
    UnsafeRawPointer(x + k).loadUnaligned(as: SIMD8<Float>.self)
}

enum FloatMatMul {
    /// Rows per work item in decode. Small enough for load balance over 2 threads, large enough to amortise.
    static let decodeRowBlock = 32
    static let prefillRowBlock = 16
    static let prefillKBlock = 256

    /// Single-threaded product over a row range with `QuantKernels.gemm`'s output convention:
    /// out[t * outStride + (r - rows.lowerBound)] = W[r]·x[t].
    static func rowRange(_ w: WeightMatrix, x: UnsafePointer<Float>, tokens: Int, rows: Range<Int>,
                         out: UnsafeMutablePointer<Float>, outStride: Int) {
        let y = out - rows.lowerBound  // so that y[t * outStride + r] is the caller's slot
        switch w.dtype {
        case .f32: prefillTile(F32Loader.self, x, w, rows, 0..<tokens, y, ldy: outStride)
        case .bf16: prefillTile(BF16Loader.self, x, w, rows, 0..<tokens, y, ldy: outStride)
        case .f16: prefillTile(F16Loader.self, x, w, rows, 0..<tokens, y, ldy: outStride)
        default: preconditionFailure("FloatMatMul: \(w.dtype) is not a float type")
        }
    }

    static func run(_ x: UnsafePointer<Float>, tokens: Int, _ w: WeightMatrix, into y: UnsafeMutablePointer<Float>,
                    pool: ThreadPool) {
        switch w.dtype {
        case .f32: run(F32Loader.self, x, tokens, w, y, pool)
        case .bf16: run(BF16Loader.self, x, tokens, w, y, pool)
        case .f16: run(F16Loader.self, x, tokens, w, y, pool)
        default: preconditionFailure("FloatMatMul: \(w.dtype) is not a float type")
        }
    }

    @inline(__always)
    static func run<L: RowLoader>(_: L.Type, _ x: UnsafePointer<Float>, _ tokens: Int, _ w: WeightMatrix,
                                  _ y: UnsafeMutablePointer<Float>, _ pool: ThreadPool) {
        let n = w.rows
        if tokens == 1 {
            let blocks = (n + decodeRowBlock - 1) / decodeRowBlock
            pool.parallelFor(chunks: blocks) { b in
                let r0 = b * decodeRowBlock, r1 = min(n, r0 + decodeRowBlock)
                decodeRows(L.self, x, w, r0..<r1, y)
            }
            return
        }
        if tokens < 24 {
            // Few tokens (speculative verification, small batches): the register-tiled row kernel is enough.
            let rowBlocks = (n + prefillRowBlock - 1) / prefillRowBlock
            pool.parallelFor(chunks: rowBlocks) { rb in
                let rows = (rb * prefillRowBlock)..<min(n, (rb + 1) * prefillRowBlock)
                prefillTile(L.self, x, w, rows, 0..<tokens, y, ldy: n)
            }
            return
        }
        if Kernels.batchInvariant {
            // The panel GEMM sums each output in a different order than the kernels above; skip it so prompts and
            // decode steps give bit-identical rows whatever the batch (Docs/Serving.md).
            let rowBlocks = (n + prefillRowBlock - 1) / prefillRowBlock
            let tokenBlock = 64
            let tokenBlocks = (tokens + tokenBlock - 1) / tokenBlock
            pool.parallelFor(chunks: rowBlocks * tokenBlocks) { item in
                let rb = item % rowBlocks, tb = item / rowBlocks
                let rows = (rb * prefillRowBlock)..<min(n, (rb + 1) * prefillRowBlock)
                prefillTile(L.self, x, w, rows, (tb * tokenBlock)..<min(tokens, (tb + 1) * tokenBlock), y, ldy: n)
            }
            return
        }
        PanelGEMM.run(L.self, x, tokens: tokens, w, y, pool)
    }

    /// y[r] = W[r]·x for r in rows (one token), eight rows at a time so the core has eight load streams and FMA
    /// chains.
    ///
    /// Summation order (shared by every float path, so a row's result never depends on how many tokens are in
    /// the call — batch invariance, Docs/Serving.md): per K block of `prefillKBlock`, one SIMD8 accumulator over
    /// the 8-wide steps, its horizontal sum, then the scalar tail; the block sums are added to y in order.
    @inline(__always)
    static func decodeRows<L: RowLoader>(_: L.Type, _ x: UnsafePointer<Float>, _ w: WeightMatrix, _ rows: Range<Int>,
                                         _ y: UnsafeMutablePointer<Float>) {
        let k = w.cols
        var r = rows.lowerBound
        // Eight rows per pass: eight independent FMA chains keep the loads flowing (one chain per row, since the
        // order within a row is fixed).
        while r + 8 <= rows.upperBound {
            let p0 = w.row(r), p1 = w.row(r + 1), p2 = w.row(r + 2), p3 = w.row(r + 3)
            let p4 = w.row(r + 4), p5 = w.row(r + 5), p6 = w.row(r + 6), p7 = w.row(r + 7)
            var y0: Float = 0, y1: Float = 0, y2: Float = 0, y3: Float = 0
            var y4: Float = 0, y5: Float = 0, y6: Float = 0, y7: Float = 0
            var kb = 0
            while kb < k {
                let ke = min(k, kb + prefillKBlock)
                let vecEnd = kb + ((ke - kb) & ~7)
                var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
                var a4 = SIMD8<Float>(), a5 = SIMD8<Float>(), a6 = SIMD8<Float>(), a7 = SIMD8<Float>()
                var i = kb
                while i < vecEnd {
                    let xv = loadX(x, i)
                    a0.addProduct(L.load8(p0, i), xv); a1.addProduct(L.load8(p1, i), xv)
                    a2.addProduct(L.load8(p2, i), xv); a3.addProduct(L.load8(p3, i), xv)
                    a4.addProduct(L.load8(p4, i), xv); a5.addProduct(L.load8(p5, i), xv)
                    a6.addProduct(L.load8(p6, i), xv); a7.addProduct(L.load8(p7, i), xv)
                    i += 8
                }
                var s0 = a0.sum(), s1 = a1.sum(), s2 = a2.sum(), s3 = a3.sum()
                var s4 = a4.sum(), s5 = a5.sum(), s6 = a6.sum(), s7 = a7.sum()
                while i < ke {
                    let xv = x[i]
                    s0 += L.load1(p0, i) * xv; s1 += L.load1(p1, i) * xv
                    s2 += L.load1(p2, i) * xv; s3 += L.load1(p3, i) * xv
                    s4 += L.load1(p4, i) * xv; s5 += L.load1(p5, i) * xv
                    s6 += L.load1(p6, i) * xv; s7 += L.load1(p7, i) * xv
                    i += 1
                }
                y0 += s0; y1 += s1; y2 += s2; y3 += s3; y4 += s4; y5 += s5; y6 += s6; y7 += s7
                kb = ke
            }
            y[r] = y0; y[r + 1] = y1; y[r + 2] = y2; y[r + 3] = y3
            y[r + 4] = y4; y[r + 5] = y5; y[r + 6] = y6; y[r + 7] = y7
            r += 8
        }
        while r + 4 <= rows.upperBound {
            let p0 = w.row(r), p1 = w.row(r + 1), p2 = w.row(r + 2), p3 = w.row(r + 3)
            var y0: Float = 0, y1: Float = 0, y2: Float = 0, y3: Float = 0
            var kb = 0
            while kb < k {
                let ke = min(k, kb + prefillKBlock)
                let vecEnd = kb + ((ke - kb) & ~7)
                var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
                var i = kb
                while i < vecEnd {
                    let xv = loadX(x, i)
                    a0.addProduct(L.load8(p0, i), xv)
                    a1.addProduct(L.load8(p1, i), xv)
                    a2.addProduct(L.load8(p2, i), xv)
                    a3.addProduct(L.load8(p3, i), xv)
                    i += 8
                }
                var s0 = a0.sum(), s1 = a1.sum(), s2 = a2.sum(), s3 = a3.sum()
                while i < ke {
                    let xv = x[i]
                    s0 += L.load1(p0, i) * xv; s1 += L.load1(p1, i) * xv
                    s2 += L.load1(p2, i) * xv; s3 += L.load1(p3, i) * xv
                    i += 1
                }
                y0 += s0; y1 += s1; y2 += s2; y3 += s3
                kb = ke
            }
            y[r] = y0; y[r + 1] = y1; y[r + 2] = y2; y[r + 3] = y3
            r += 4
        }
        while r < rows.upperBound {
            var acc: Float = 0
            var kb = 0
            while kb < k {
                let ke = min(k, kb + prefillKBlock)
                acc += dot(L.self, w.row(r), x, kb, ke)
                kb = ke
            }
            y[r] = acc
            r += 1
        }
    }

    @inline(__always)
    static func dot<L: RowLoader>(_: L.Type, _ row: UnsafeRawPointer, _ x: UnsafePointer<Float>,
                                  _ k0: Int, _ k1: Int) -> Float {
        var acc = SIMD8<Float>()
        var i = k0
        while i + 8 <= k1 { acc.addProduct(L.load8(row, i), loadX(x, i)); i += 8 }
        var s = acc.sum()
        while i < k1 { s += L.load1(row, i) * x[i]; i += 1 }
        return s
    }

    /// y[t, r] = W[r]·x[t] for r in rows, t in toks; K is blocked so the W and x slices stay in L2.
    @inline(__always)
    static func prefillTile<L: RowLoader>(_: L.Type, _ x: UnsafePointer<Float>, _ w: WeightMatrix, _ rows: Range<Int>,
                                          _ toks: Range<Int>, _ y: UnsafeMutablePointer<Float>, ldy n: Int) {
        let k = w.cols
        for t in toks { for r in rows { y[t * n + r] = 0 } }
        var kb = 0
        while kb < k {
            let ke = min(k, kb + prefillKBlock)
            let vecEnd = kb + ((ke - kb) & ~7)
            var r = rows.lowerBound
            while r + 2 <= rows.upperBound {
                let p0 = w.row(r), p1 = w.row(r + 1)
                var t = toks.lowerBound
                while t + 4 <= toks.upperBound {
                    let x0 = x + t * k, x1 = x0 + k, x2 = x1 + k, x3 = x2 + k
                    var a00 = SIMD8<Float>(), a01 = SIMD8<Float>(), a02 = SIMD8<Float>(), a03 = SIMD8<Float>()
                    var a10 = SIMD8<Float>(), a11 = SIMD8<Float>(), a12 = SIMD8<Float>(), a13 = SIMD8<Float>()
                    var i = kb
                    while i < vecEnd {
                        let w0 = L.load8(p0, i), w1 = L.load8(p1, i)
                        let v0 = loadX(x0, i), v1 = loadX(x1, i), v2 = loadX(x2, i), v3 = loadX(x3, i)
                        a00.addProduct(w0, v0); a01.addProduct(w0, v1); a02.addProduct(w0, v2); a03.addProduct(w0, v3)
                        a10.addProduct(w1, v0); a11.addProduct(w1, v1); a12.addProduct(w1, v2); a13.addProduct(w1, v3)
                        i += 8
                    }
                    var s00 = a00.sum(), s01 = a01.sum(), s02 = a02.sum(), s03 = a03.sum()
                    var s10 = a10.sum(), s11 = a11.sum(), s12 = a12.sum(), s13 = a13.sum()
                    while i < ke {
                        let w0 = L.load1(p0, i), w1 = L.load1(p1, i)
                        s00 += w0 * x0[i]; s01 += w0 * x1[i]; s02 += w0 * x2[i]; s03 += w0 * x3[i]
                        s10 += w1 * x0[i]; s11 += w1 * x1[i]; s12 += w1 * x2[i]; s13 += w1 * x3[i]
                        i += 1
                    }
                    y[t * n + r] += s00; y[(t + 1) * n + r] += s01; y[(t + 2) * n + r] += s02
                    y[(t + 3) * n + r] += s03
                    y[t * n + r + 1] += s10; y[(t + 1) * n + r + 1] += s11; y[(t + 2) * n + r + 1] += s12
                    y[(t + 3) * n + r + 1] += s13
                    t += 4
                }
                while t < toks.upperBound {
                    y[t * n + r] += dot(L.self, p0, x + t * k, kb, ke)
                    y[t * n + r + 1] += dot(L.self, p1, x + t * k, kb, ke)
                    t += 1
                }
                r += 2
            }
            if r < rows.upperBound {
                for t in toks { y[t * n + r] += dot(L.self, w.row(r), x + t * k, kb, ke) }
            }
            kb = ke
        }
    }
}

/// Prefill GEMM in the BLIS style: a 16-row slice of W is widened to f32 and transposed into a [Kc][16] panel once
/// per K block, then a 6-token × 16-row register tile (12 accumulators, one broadcast per token and k) streams
/// through it for every token. The panel (128 KB) stays in L2, the x block mostly in L3.
enum PanelGEMM {
    static let panelRows = 16
    /// K per pass. Each pass reads and rewrites all of y ([T, N], 8 MB at T = 512, N = 4096, beyond L2), and those
    /// misses stall the tile stores, so few long passes beat L1-sized ones: 2048 measured 127–131 GFLOP/s against
    /// 96 for 256 (bf16 4096×4096 and 4096×12800, 512 tokens, 2 threads); the 128 KB panel then lives in L2.
    static let kBlock = 2048
    static let tokenTile = 6

    /// y[T, N] = x[T, K]·Wᵀ. K-blocks run in sequence; within one, x is packed once into 6-token tiles
    /// ([tile][kc][6], so the six broadcasts of a step are adjacent instead of 4 KiB-aliased rows apart) and the
    /// 16-row panels of W are shared out over the pool.
    static func run<L: RowLoader>(_: L.Type, _ x: UnsafePointer<Float>, tokens: Int, _ w: WeightMatrix,
                                  _ y: UnsafeMutablePointer<Float>, _ pool: ThreadPool) {
        let k = w.cols, n = w.rows
        let tiles = (tokens + tokenTile - 1) / tokenTile
        let panels = (n + panelRows - 1) / panelRows
        let xPacked = UnsafeMutablePointer<Float>.allocate(capacity: tiles * kBlock * tokenTile)
        defer { xPacked.deallocate() }
        var kb = 0
        while kb < k {
            let kc = min(kBlock, k - kb)
            pool.parallelFor(chunks: tiles) { tile in
                let dst = xPacked + tile * kBlock * tokenTile
                for u in 0..<tokenTile {
                    let t = tile * tokenTile + u
                    if t < tokens {
                        let src = x + t * k + kb
                        for j in 0..<kc { dst[j * tokenTile + u] = src[j] }
                    } else {
                        for j in 0..<kc { dst[j * tokenTile + u] = 0 }
                    }
                }
            }
            let accumulate = kb > 0
            pool.parallelFor(chunks: panels) { panel in
                let r0 = panel * panelRows, rows = min(panelRows, n - r0)
                withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: kBlock * 2) { buffer in
                    let packed = buffer.baseAddress!  // [kc][16] as pairs of SIMD8
                    let raw = UnsafeMutableRawPointer(packed).assumingMemoryBound(to: Float.self)
                    for r in 0..<panelRows {
                        if r < rows {
                            let row = w.row(r0 + r)
                            var j = 0
                            while j + 8 <= kc {
                                let v = L.load8(row, kb + j)
                                let d = raw + j * 16 + r
                                d[0] = v[0]; d[16] = v[1]; d[32] = v[2]; d[48] = v[3]
                                d[64] = v[4]; d[80] = v[5]; d[96] = v[6]; d[112] = v[7]
                                j += 8
                            }
                            while j < kc { raw[j * 16 + r] = L.load1(row, kb + j); j += 1 }
                        } else {
                            for j in 0..<kc { raw[j * 16 + r] = 0 }
                        }
                    }
                    for tile in 0..<tiles {
                        let t = tile * tokenTile
                        tile6(xPacked + tile * kBlock * tokenTile, packed, kc, y + t * n + r0, n, rows,
                              min(tokenTile, tokens - t), accumulate)
                    }
                }
            }
            kb += kc
        }
    }

    @inline(__always)
    static func store(_ v: SIMD8<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int, _ accumulate: Bool) {
        if count >= 8 {
            let p = UnsafeMutableRawPointer(y)
            p.storeBytes(of: accumulate ? p.loadUnaligned(as: SIMD8<Float>.self) + v : v, as: SIMD8<Float>.self)
        } else {
            for i in 0..<max(0, count) { y[i] = accumulate ? y[i] + v[i] : v[i] }
        }
    }

    /// C[6 tokens][16 rows] (+)= xp[kc][6] · packed[kc][16]; only `count` tokens and `rows` rows are stored.
    @inline(__always)
    static func tile6(_ xp: UnsafePointer<Float>, _ b: UnsafePointer<SIMD8<Float>>, _ kc: Int,
                      _ y: UnsafeMutablePointer<Float>, _ ldy: Int, _ rows: Int, _ count: Int, _ accumulate: Bool) {
        var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
        var c20 = SIMD8<Float>(), c21 = SIMD8<Float>(), c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
        var c40 = SIMD8<Float>(), c41 = SIMD8<Float>(), c50 = SIMD8<Float>(), c51 = SIMD8<Float>()
        var a = xp
        for j in 0..<kc {
            let b0 = b[2 * j], b1 = b[2 * j + 1]
            var s = SIMD8<Float>(repeating: a[0]); c00.addProduct(s, b0); c01.addProduct(s, b1)
            s = SIMD8<Float>(repeating: a[1]); c10.addProduct(s, b0); c11.addProduct(s, b1)
            s = SIMD8<Float>(repeating: a[2]); c20.addProduct(s, b0); c21.addProduct(s, b1)
            s = SIMD8<Float>(repeating: a[3]); c30.addProduct(s, b0); c31.addProduct(s, b1)
            s = SIMD8<Float>(repeating: a[4]); c40.addProduct(s, b0); c41.addProduct(s, b1)
            s = SIMD8<Float>(repeating: a[5]); c50.addProduct(s, b0); c51.addProduct(s, b1)
            a += tokenTile
        }
        let lo = min(rows, 8), hi = rows - 8
        store(c00, y, lo, accumulate); store(c01, y + 8, hi, accumulate)
        if count > 1 { store(c10, y + ldy, lo, accumulate); store(c11, y + ldy + 8, hi, accumulate) }
        if count > 2 { store(c20, y + 2 * ldy, lo, accumulate); store(c21, y + 2 * ldy + 8, hi, accumulate) }
        if count > 3 { store(c30, y + 3 * ldy, lo, accumulate); store(c31, y + 3 * ldy + 8, hi, accumulate) }
        if count > 4 { store(c40, y + 4 * ldy, lo, accumulate); store(c41, y + 4 * ldy + 8, hi, accumulate) }
        if count > 5 { store(c50, y + 5 * ldy, lo, accumulate); store(c51, y + 5 * ldy + 8, hi, accumulate) }
    }
}
