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
            FloatMatMul.rowRange(WeightMatrix(rows: rows.upperBound, cols: k, dtype: dtype, data: weights),
                                 x: qx.assumingMemoryBound(to: Float.self), tokens: tokens, rows: rows,
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

    /// Bytes of per-token side data that interleaved `dtype` weights need next to the activations
    /// (`interleavedAux`): for q8_0/q4_0 per 32-value block the activation scale as Float and (q4_0) 8·Σ levels as Int32;
    /// for q4_K per super-block the 8 sums of 32 levels as Int16; none for q6_K (it reads the q8_K bsums).
    public static func interleavedAuxBytes(_ dtype: DType, k: Int) -> Int {
        switch dtype {
        case .q8_0, .q4_0: return (k / 32) * 8
        case .q4_K: return (k / 256) * 16
        default: return 0
        }
    }

    /// Fills the side data for one activation row `qx` of `k` values (`interleavedAuxBytes(dtype, k:)` bytes),
    /// quantised for `dtype` weights.
    public static func interleavedAux(_ qx: UnsafeRawPointer, dtype: DType, k: Int, into aux: UnsafeMutableRawPointer) {
        switch dtype {
        case .q8_0, .q4_0:
            for b in 0..<(k / 32) {
                let ap = qx + 34 * b
                var s: Int32 = 0
                // Only the q4_0 kernels subtract 8·Σa (their levels are stored unsigned); q8_0 leaves it 0.
                if dtype == .q4_0 { for i in 0..<32 { s &+= Int32(ap.load(fromByteOffset: 2 + i, as: Int8.self)) } }
                aux.storeBytes(of: HalfConversion.loadF16(ap), toByteOffset: 8 * b, as: Float.self)
                aux.storeBytes(of: 8 &* s, toByteOffset: 8 * b + 4, as: Int32.self)
            }
        case .q4_K:
            // |A_c| ≤ 32 · 128 fits Int16; q8_K's bsums are the sums of 16.
            for b in 0..<(k / 256) {
                for c in 0..<8 {
                    let s0 = Int16(littleEndian: qx.loadUnaligned(fromByteOffset: 292 * b + 260 + 4 * c, as: Int16.self))
                    let s1 = Int16(littleEndian: qx.loadUnaligned(fromByteOffset: 292 * b + 262 + 4 * c, as: Int16.self))
                    aux.storeBytes(of: (s0 &+ s1).littleEndian, toByteOffset: 16 * b + 2 * c, as: Int16.self)
                }
            }
        default: break
        }
    }

    /// Product with a row-interleaved matrix (`w.layout == .interleaved8`): same contract as `gemm`, with
    /// `rows` a range of whole 8-row groups, activations `qx` (`quantizeActivations`) and their side data `aux`
    /// (`interleavedAux`, one `interleavedAuxBytes(w.dtype, k:)` row per token).
    public static func gemmInterleaved(_ w: WeightMatrix, rows: Range<Int>, qx: UnsafeRawPointer,
                                       aux: UnsafeRawPointer, tokens: Int,
                                       out: UnsafeMutablePointer<Float>, outStride: Int) {
        precondition(w.layout == .interleaved8 && rows.lowerBound % 8 == 0 && rows.upperBound % 8 == 0)
        if rows.isEmpty || tokens <= 0 { return }
        #if arch(x86_64)
        AVX2Interleaved.gemm(w, groups: (rows.lowerBound / 8)..<(rows.upperBound / 8), qx: qx, aux: aux,
                             tokens: tokens, out: out, outStride: outStride)
        #else
        RowInterleave.gemmPortable(w, rows: rows, qx: qx, tokens: tokens, out: out, outStride: outStride)
        #endif
    }

    /// Portable integer-arithmetic GEMM (same contract as `gemm`): scalar block dot products that compile on every
    /// architecture. Used as the fallback off x86-64 and as a cross-check in tests.
    public static func gemmPortable(weights: UnsafeRawPointer, dtype: DType, k: Int, rows: Range<Int>,
                                    qx: UnsafeRawPointer, tokens: Int,
                                    out: UnsafeMutablePointer<Float>, outStride: Int) {
        let wrb = dtype.rowBytes(k), arb = activationFormat(for: dtype).rowBytes(k)
        if !dtype.isQuantized {
            FloatMatMul.rowRange(WeightMatrix(rows: rows.upperBound, cols: k, dtype: dtype, data: weights),
                                 x: qx.assumingMemoryBound(to: Float.self), tokens: tokens, rows: rows,
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
