// Reference kernels: plain loops that are obviously correct. The optimised kernels in this folder are tested
// against these on random inputs (KernelParityTests). Models never call these directly.
import Foundation

/// Straightforward implementations of every op, used as the ground truth for the optimised `Kernels`.
public enum ReferenceKernels {
    /// y[t, n] = Σ_k x[t, k] · W[n, k] (+ bias[n]).   x: [T, K], W: [N, K], y: [T, N].
    public static func matmul(x: [Float], tokens: Int, weight: WeightMatrix, bias: [Float]? = nil) -> [Float] {
        let k = weight.cols, n = weight.rows
        let w = dequantize(weight)
        var y = [Float](repeating: 0, count: tokens * n)
        for t in 0..<tokens {
            for r in 0..<n {
                var acc: Double = 0
                for i in 0..<k { acc += Double(x[t * k + i]) * Double(w[r * k + i]) }
                y[t * n + r] = Float(acc) + (bias?[r] ?? 0)
            }
        }
        return y
    }

    /// All elements of a float-typed matrix as `Float`, row-major.
    public static func dequantize(_ weight: WeightMatrix) -> [Float] {
        var out = [Float](repeating: 0, count: weight.rows * weight.cols)
        for r in 0..<weight.rows {
            let row = weight.row(r)
            for c in 0..<weight.cols { out[r * weight.cols + c] = HalfConversion.load(row, c, weight.dtype) }
        }
        return out
    }

    /// RMSNorm of each row: y = w ⊙ x / sqrt(mean(x²) + eps).   x, y: [T, D].
    public static func rmsNorm(x: [Float], weight: [Float], eps: Float) -> [Float] {
        let d = weight.count
        var y = x
        for t in 0..<(x.count / d) {
            var ss: Double = 0
            for i in 0..<d { ss += Double(x[t * d + i]) * Double(x[t * d + i]) }
            let scale = 1 / (ss / Double(d) + Double(eps)).squareRoot()
            for i in 0..<d { y[t * d + i] = Float(Double(x[t * d + i]) * scale) * weight[i] }
        }
        return y
    }

    /// NeoX ("rotate half") rotary embedding of one head vector `v` ([d]) at `position`.
    /// For i < d/2: v'[i] = v[i]cosθ − v[i+d/2]sinθ, v'[i+d/2] = v[i+d/2]cosθ + v[i]sinθ, θ = p·theta^(−2i/d).
    public static func rope(_ v: [Float], position: Int, theta: Double) -> [Float] {
        let d = v.count, half = d / 2
        var out = v
        for i in 0..<half {
            let invFreq = Float(1.0 / pow(theta, Double(2 * i) / Double(d)))
            let angle = Float(position) * invFreq
            let c = cos(angle), s = sin(angle)
            out[i] = v[i] * c - v[i + half] * s
            out[i + half] = v[i + half] * c + v[i] * s
        }
        return out
    }

    /// Numerically stable softmax of a vector.
    public static func softmax(_ x: [Float]) -> [Float] {
        let m = x.max() ?? 0
        let e = x.map { Double(exp($0 - m)) }
        let s = e.reduce(0, +)
        return e.map { Float($0 / s) }
    }

    /// SwiGLU gate: silu(g) ⊙ u, silu(g) = g / (1 + e^(−g)).
    public static func swiglu(gate: [Float], up: [Float]) -> [Float] {
        zip(gate, up).map { g, u in g / (1 + exp(-g)) * u }
    }

    /// Causal attention of `q` ([T, nh, d]) over cached `k`, `v` ([S, nkv, d]) where query t sits at position
    /// `firstPosition + t` and attends to cache rows 0...firstPosition + t. Returns [T, nh, d].
    public static func attention(q: [Float], k: [Float], v: [Float], tokens: Int, firstPosition: Int,
                                 heads: Int, kvHeads: Int, headDim d: Int) -> [Float] {
        var out = [Float](repeating: 0, count: tokens * heads * d)
        let group = heads / kvHeads
        let scale = 1 / Float(d).squareRoot()
        for t in 0..<tokens {
            let last = firstPosition + t
            for h in 0..<heads {
                let kvh = h / group
                var scores = [Float](repeating: 0, count: last + 1)
                for s in 0...last {
                    var acc: Float = 0
                    for i in 0..<d { acc += q[(t * heads + h) * d + i] * k[(s * kvHeads + kvh) * d + i] }
                    scores[s] = acc * scale
                }
                let p = softmax(scores)
                for i in 0..<d {
                    var acc: Float = 0
                    for s in 0...last { acc += p[s] * v[(s * kvHeads + kvh) * d + i] }
                    out[(t * heads + h) * d + i] = acc
                }
            }
        }
        return out
    }
}
