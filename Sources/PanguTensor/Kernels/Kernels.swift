// The op table that model code calls. Every op has a plain version in `ReferenceKernels` and a parity test.
// Conventions: activations are f32, row-major, shapes in comments use T tokens, D hidden, K in, N out,
// H heads, Hkv key/value heads, Dh head dim, S cached positions.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Optimised, multi-threaded kernels over raw f32 buffers.
public enum Kernels {
    /// When true, every matrix product sums each output row in one fixed order whatever the number of tokens in
    /// the call, so a sequence's logits are bit-identical alone or batched with others (the server sets it).
    /// Costs prefill speed on float weights (the panel GEMM is skipped); quantised and decode paths are invariant
    /// either way. Set it before running the model, not while a forward pass is in flight.
    nonisolated(unsafe) public static var batchInvariant = false

    /// y[T, N] = x[T, K] · Wᵀ (+ bias[N]). Float weights are widened in-register; quantised weights use
    /// integer dot products on quantised activations (`QuantKernels`).
    public static func matmul(_ x: UnsafePointer<Float>, tokens: Int, _ w: WeightMatrix, bias: WeightVector? = nil,
                              into y: UnsafeMutablePointer<Float>, pool: ThreadPool = .shared) {
        if w.dtype.isQuantized {
            QuantMatMul.run(x, tokens: tokens, w, into: y, pool: pool)
        } else if w.layout == .interleaved8 {
            FloatInterleavedMatMul.run(x, tokens: tokens, w, into: y, pool: pool)
        } else {
            FloatMatMul.run(x, tokens: tokens, w, into: y, pool: pool)
        }
        if let bias {
            let n = w.rows
            for t in 0..<tokens {
                let row = y + t * n
                for r in 0..<n { row[r] += bias[r] }
            }
        }
    }

    /// Row-wise RMSNorm: y[t] = w ⊙ x[t] / sqrt(mean(x[t]²) + eps).   x, y: [T, D] (may alias).
    public static func rmsNorm(_ x: UnsafePointer<Float>, tokens: Int, dim: Int, weight: UnsafePointer<Float>,
                               eps: Float, into y: UnsafeMutablePointer<Float>) {
        for t in 0..<tokens {
            let xr = x + t * dim, yr = y + t * dim
            var acc = SIMD8<Float>()
            var i = 0
            while i + 8 <= dim {
                let v = UnsafeRawPointer(xr + i).loadUnaligned(as: SIMD8<Float>.self)
                acc.addProduct(v, v); i += 8
            }
            var ss = acc.sum()
            while i < dim { ss += xr[i] * xr[i]; i += 1 }
            let scale = 1 / (ss / Float(dim) + eps).squareRoot()
            for j in 0..<dim { yr[j] = (xr[j] * scale) * weight[j] }
        }
    }

    /// RoPE inverse frequencies exactly as the reference computes them in f32: 1 / theta^(2i/d), i < d/2.
    public static func ropeInverseFrequencies(headDim d: Int, theta: Double) -> [Float] {
        (0..<(d / 2)).map { i in 1 / powf(Float(theta), Float(2 * i) / Float(d)) }
    }

    /// In-place NeoX ("rotate half") RoPE on `heads` vectors of `headDim` at one position.   v: [heads, Dh].
    public static func rope(_ v: UnsafeMutablePointer<Float>, heads: Int, headDim d: Int, position: Int,
                            inverseFrequencies inv: [Float]) {
        let half = d / 2
        withUnsafeTemporaryAllocation(of: Float.self, capacity: d) { cs in
            for i in 0..<half {
                let angle = Float(position) * inv[i]
                cs[i] = cosf(angle)
                cs[half + i] = sinf(angle)
            }
            for h in 0..<heads {
                let p = v + h * d
                for i in 0..<half {
                    let a = p[i], b = p[i + half], c = cs[i], s = cs[half + i]
                    p[i] = a * c - b * s
                    p[i + half] = b * c + a * s
                }
            }
        }
    }

    /// In-place SwiGLU: gate[i] = silu(gate[i]) · up[i] over `count` values.
    public static func swiglu(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        for i in 0..<count {
            let g = gate[i]
            gate[i] = g / (1 + expf(-g)) * up[i]
        }
    }

    /// x[i] += y[i] over `count` values.
    public static func add(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            let a = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            let b = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(x + i).storeBytes(of: a + b, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count { x[i] += y[i]; i += 1 }
    }

    /// In-place softmax over `count` values (max-subtracted, f32 like the reference's fp32 softmax).
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var m = -Float.infinity
        for i in 0..<count { m = max(m, x[i]) }
        var s: Float = 0
        for i in 0..<count { let e = expf(x[i] - m); x[i] = e; s += e }
        let inv = 1 / s
        for i in 0..<count { x[i] *= inv }
    }
}
