// Public entry points for quantised matrix products: activation quantisation, the fast GEMM dispatch, the
// portable integer fallback and the plain dequantise-and-dot reference.

/// Quantised matrix × activation products over GGML block formats.
///
/// The weight matrix is row-major: row `r` holds `k` values of `dtype` at `weights + r * dtype.rowBytes(k)`.
/// Activation rows are first quantised with `quantizeActivations` into `activationFormat(for: dtype)`
/// (q8_0 for q8_0/q4_0/q5_0, q8_1 for q4_1/q5_1, q8_K for the K-quants, plain f32 for f32/f16/bf16 weights).
public enum QuantKernels {
    /// Which activation format `weights` pairs with (q8_0 for q4_0/q8_0/q5_0, q8_1 for q4_1/q5_1,
    /// q8_K for q4_K/q5_K/q6_K, f32 for float weights).
    public static func activationFormat(for weights: DType) -> DType {
        switch weights {
        case .q8_0, .q4_0, .q5_0: return .q8_0
        case .q4_1, .q5_1: return .q8_1
        case .q4_K, .q5_K, .q6_K: return .q8_K
        case .f32, .f16, .bf16: return .f32
        case .q8_1, .q8_K: preconditionFailure("\(weights) is an activation format, not a weight format")
        }
    }

    /// Quantises one activation row of `k` floats into `out` (activationFormat(for:).rowBytes(k) bytes).
    public static func quantizeActivations(_ x: UnsafePointer<Float>, k: Int, weights: DType,
                                           into out: UnsafeMutableRawPointer) {
        let fmt = activationFormat(for: weights)
        precondition(k % weights.blockSize == 0, "k=\(k) is not a multiple of the \(weights) block size")
        #if arch(x86_64)
        if fmt == .q8_0 || fmt == .q8_1 { AVX2Kernels.quantizeQ8Legacy(x, k: k, withSum: fmt == .q8_1, into: out); return }
        if fmt == .q8_K { AVX2Kernels.quantizeQ8K(x, k: k, into: out); return }
        #endif
        QuantReference.quantize(x, k: k, as: fmt, into: out)
    }

    /// out[t * outStride + (r - rows.lowerBound)] = dot(weight row r, activation row t) for r in rows, t in 0..<tokens.
    /// Weight row r starts at `weights + r * dtype.rowBytes(k)`; activation row t at
    /// `qx + t * activationFormat(for: dtype).rowBytes(k)`. Single-threaded; the caller splits `rows` across threads.
    /// Uses AVX2 integer kernels on x86-64 and `gemmPortable` elsewhere.
    public static func gemm(weights: UnsafeRawPointer, dtype: DType, k: Int, rows: Range<Int>,
                            qx: UnsafeRawPointer, tokens: Int,
                            out: UnsafeMutablePointer<Float>, outStride: Int) {
        precondition(k % dtype.blockSize == 0 && k > 0, "k=\(k) is not a positive multiple of the \(dtype) block size")
        if rows.isEmpty || tokens <= 0 { return }
        switch dtype {
        case .f32, .f16, .bf16:
            FloatKernels.gemm(weights: weights, dtype: dtype, k: k, rows: rows, x: qx, tokens: tokens,
                              out: out, outStride: outStride)
        default:
            #if arch(x86_64)
            AVX2Kernels.gemm(weights: weights, dtype: dtype, k: k, rows: rows, qx: qx, tokens: tokens,
                             out: out, outStride: outStride)
            #else
            gemmPortable(weights: weights, dtype: dtype, k: k, rows: rows, qx: qx, tokens: tokens,
                         out: out, outStride: outStride)
            #endif
        }
    }

    /// Portable integer-arithmetic GEMM (same contract as `gemm`): scalar block dot products that compile on every
    /// architecture. Used as the fallback off x86-64 and as a cross-check in tests.
    public static func gemmPortable(weights: UnsafeRawPointer, dtype: DType, k: Int, rows: Range<Int>,
                                    qx: UnsafeRawPointer, tokens: Int,
                                    out: UnsafeMutablePointer<Float>, outStride: Int) {
        let wrb = dtype.rowBytes(k), arb = activationFormat(for: dtype).rowBytes(k)
        if !dtype.isQuantized {
            FloatKernels.gemm(weights: weights, dtype: dtype, k: k, rows: rows, x: qx, tokens: tokens,
                              out: out, outStride: outStride)
            return
        }
        for r in rows {
            let w = weights + r * wrb
            for t in 0..<tokens {
                out[t * outStride + (r - rows.lowerBound)] = PortableKernels.dot(w, dtype, qx + t * arb, k)
            }
        }
    }

    /// Plain reference (same contract as `gemm`): dequantises the weight row and the quantised activation row to
    /// f32 with `QuantReference` and accumulates their product in f64.
    public static func gemmReference(weights: UnsafeRawPointer, dtype: DType, k: Int, rows: Range<Int>,
                                     qx: UnsafeRawPointer, tokens: Int,
                                     out: UnsafeMutablePointer<Float>, outStride: Int) {
        let afmt = activationFormat(for: dtype)
        let wrb = dtype.rowBytes(k), arb = afmt.rowBytes(k)
        let wf = UnsafeMutablePointer<Float>.allocate(capacity: k), af = UnsafeMutablePointer<Float>.allocate(capacity: k)
        defer { wf.deallocate(); af.deallocate() }
        for t in 0..<tokens {
            QuantReference.dequantize(qx + t * arb, dtype: afmt, k: k, into: af)
            for r in rows {
                QuantReference.dequantize(weights + r * wrb, dtype: dtype, k: k, into: wf)
                var s: Double = 0
                for i in 0..<k { s += Double(wf[i]) * Double(af[i]) }
                out[t * outStride + (r - rows.lowerBound)] = Float(s)
            }
        }
    }
}

/// Float-weight (f32/f16/bf16) products against f32 activations; portable `SIMD8<Float>` code.
enum FloatKernels {
    @inline(__always)
    static func load8(_ w: UnsafeRawPointer, _ dtype: DType, _ i: Int) -> SIMD8<Float> {
        switch dtype {
        case .f16: return SIMD8<Float>(w.loadUnaligned(fromByteOffset: 2 * i, as: SIMD8<Float16>.self))
        case .bf16:
            let h = w.loadUnaligned(fromByteOffset: 2 * i, as: SIMD8<UInt16>.self)
            return unsafeBitCast(SIMD8<UInt32>(truncatingIfNeeded: h) &<< 16, to: SIMD8<Float>.self)
        default: return w.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
        }
    }

    @inline(__always)
    static func load1(_ w: UnsafeRawPointer, _ dtype: DType, _ i: Int) -> Float {
        switch dtype {
        case .f16: return HalfConversion.loadF16(w, 2 * i)
        case .bf16: return HalfConversion.bf16ToF32(w.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
        default: return w.loadUnaligned(fromByteOffset: 4 * i, as: Float.self)
        }
    }

    static func gemm(weights: UnsafeRawPointer, dtype: DType, k: Int, rows: Range<Int>, x: UnsafeRawPointer,
                     tokens: Int, out: UnsafeMutablePointer<Float>, outStride: Int) {
        switch dtype {
        case .f16: gemmTyped(weights, .f16, k, rows, x, tokens, out, outStride)
        case .bf16: gemmTyped(weights, .bf16, k, rows, x, tokens, out, outStride)
        default: gemmTyped(weights, .f32, k, rows, x, tokens, out, outStride)
        }
    }

    @inline(__always)
    static func gemmTyped(_ weights: UnsafeRawPointer, _ dtype: DType, _ k: Int, _ rows: Range<Int>,
                          _ x: UnsafeRawPointer, _ tokens: Int, _ out: UnsafeMutablePointer<Float>, _ outStride: Int) {
        let wrb = dtype.rowBytes(k), k8 = k & ~7, lo = rows.lowerBound
        if tokens == 1 {
            for r in rows {
                let w = weights + r * wrb
                var s0 = SIMD8<Float>(), s1 = SIMD8<Float>()
                var i = 0
                while i + 16 <= k8 {
                    s0.addProduct(load8(w, dtype, i), x.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self))
                    s1.addProduct(load8(w, dtype, i + 8), x.loadUnaligned(fromByteOffset: 4 * i + 32, as: SIMD8<Float>.self))
                    i += 16
                }
                if i < k8 {
                    s0.addProduct(load8(w, dtype, i), x.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)); i += 8
                }
                var s = (s0 + s1).sum()
                while i < k { s += load1(w, dtype, i) * x.loadUnaligned(fromByteOffset: 4 * i, as: Float.self); i += 1 }
                out[r - lo] = s
            }
            return
        }
        // Prefill: 2 rows × 4 tokens register tile (8 accumulators); tails reuse the last row/token, results dropped.
        for r in stride(from: lo, to: rows.upperBound, by: 2) {
            let w0 = weights + r * wrb, w1 = weights + min(r + 1, rows.upperBound - 1) * wrb
            for t0 in stride(from: 0, to: tokens, by: 4) {
                let a0 = x + 4 * k * t0, a1 = x + 4 * k * min(t0 + 1, tokens - 1)
                let a2 = x + 4 * k * min(t0 + 2, tokens - 1), a3 = x + 4 * k * min(t0 + 3, tokens - 1)
                var c00 = SIMD8<Float>(), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00
                var i = 0
                while i < k8 {
                    let v0 = load8(w0, dtype, i), v1 = load8(w1, dtype, i)
                    var a = a0.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
                    c00.addProduct(v0, a); c10.addProduct(v1, a)
                    a = a1.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
                    c01.addProduct(v0, a); c11.addProduct(v1, a)
                    a = a2.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
                    c02.addProduct(v0, a); c12.addProduct(v1, a)
                    a = a3.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
                    c03.addProduct(v0, a); c13.addProduct(v1, a)
                    i += 8
                }
                let n = min(4, tokens - t0), second = r + 1 < rows.upperBound
                @inline(__always) func put(_ j: Int, _ a: UnsafeRawPointer, _ s0: SIMD8<Float>, _ s1: SIMD8<Float>) {
                    guard j < n else { return }
                    var v0 = s0.sum(), v1 = s1.sum()
                    for e in i..<k {   // tail of k not a multiple of 8
                        let xv = a.loadUnaligned(fromByteOffset: 4 * e, as: Float.self)
                        v0 += load1(w0, dtype, e) * xv; v1 += load1(w1, dtype, e) * xv
                    }
                    out[(t0 + j) * outStride + (r - lo)] = v0
                    if second { out[(t0 + j) * outStride + (r + 1 - lo)] = v1 }
                }
                put(0, a0, c00, c10); put(1, a1, c01, c11); put(2, a2, c02, c12); put(3, a3, c03, c13)
            }
        }
    }
}
