// Matrix products with float weights (f32, f16, bf16) widened to f32 inside the kernel: the model is never
// materialised as an f32 copy. Quantised weights go through `QuantKernels` (Quant/), dispatched from `Kernels.matmul`.
//
// Layout: x is [T, K] row-major f32, W is [N, K] (PyTorch order), y is [T, N]: y = x·Wᵀ (+ b).
// Decode (T = 1) is memory-bound: each thread streams its rows of W once, four rows at a time so the core has
// four independent load streams. Prefill (T > 1) is compute-bound: the work is cut into (row block × token block)
// tiles whose W and x slices stay in L2, and a 2-row × 4-token register tile reuses each widened W vector for
// four tokens.

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
    static let prefillTokenBlock = 64
    static let prefillKBlock = 256

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
        let rowBlocks = (n + prefillRowBlock - 1) / prefillRowBlock
        let tokenBlocks = (tokens + prefillTokenBlock - 1) / prefillTokenBlock
        pool.parallelFor(chunks: rowBlocks * tokenBlocks) { item in
            let rb = item % rowBlocks, tb = item / rowBlocks
            let rows = (rb * prefillRowBlock)..<min(n, (rb + 1) * prefillRowBlock)
            let toks = (tb * prefillTokenBlock)..<min(tokens, (tb + 1) * prefillTokenBlock)
            prefillTile(L.self, x, w, rows, toks, y)
        }
    }

    /// y[r] = W[r]·x for r in rows (one token).
    @inline(__always)
    static func decodeRows<L: RowLoader>(_: L.Type, _ x: UnsafePointer<Float>, _ w: WeightMatrix, _ rows: Range<Int>,
                                         _ y: UnsafeMutablePointer<Float>) {
        let k = w.cols, k8 = k & ~7
        var r = rows.lowerBound
        while r + 4 <= rows.upperBound {
            let p0 = w.row(r), p1 = w.row(r + 1), p2 = w.row(r + 2), p3 = w.row(r + 3)
            var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
            var i = 0
            while i < k8 {
                let xv = loadX(x, i)
                a0.addProduct(L.load8(p0, i), xv)
                a1.addProduct(L.load8(p1, i), xv)
                a2.addProduct(L.load8(p2, i), xv)
                a3.addProduct(L.load8(p3, i), xv)
                i += 8
            }
            var s0 = a0.sum(), s1 = a1.sum(), s2 = a2.sum(), s3 = a3.sum()
            while i < k {
                let xv = x[i]
                s0 += L.load1(p0, i) * xv; s1 += L.load1(p1, i) * xv
                s2 += L.load1(p2, i) * xv; s3 += L.load1(p3, i) * xv
                i += 1
            }
            y[r] = s0; y[r + 1] = s1; y[r + 2] = s2; y[r + 3] = s3
            r += 4
        }
        while r < rows.upperBound {
            y[r] = dot(L.self, w.row(r), x, 0, k)
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
                                          _ toks: Range<Int>, _ y: UnsafeMutablePointer<Float>) {
        let k = w.cols, n = w.rows
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
