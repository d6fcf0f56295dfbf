// The feed-forward half of a decoder layer, behind one protocol so architectures differ only in which one they
// build: a dense SwiGLU (Pangu Embedded, and Pro MoE's shared expert) or a mixture of experts (Pro MoE's MoGE).
import PanguTensor

/// A position-wise feed-forward block: each of the T input rows maps to one output row.
protocol FeedForward {
    /// - Parameters:
    ///   - x: normalised input rows.        [T, D]
    ///   - out: the block's output.          [T, D]
    func forward(_ x: UnsafePointer<Float>, tokens: Int, workspace: Workspace, into out: UnsafeMutablePointer<Float>)
}

/// `down · (silu(gate · x) ⊙ (up · x))`, no biases (Llama / Pangu MLP).
struct SwiGLU: FeedForward {
    let gate: WeightMatrix  // [F, D]
    let up: WeightMatrix    // [F, D]
    let down: WeightMatrix  // [D, F]
    /// Prefix for this block's workspace buffers, so two SwiGLUs in one layer do not share scratch.
    var scratchName = "ffn"

    func forward(_ x: UnsafePointer<Float>, tokens: Int, workspace ws: Workspace,
                 into out: UnsafeMutablePointer<Float>) {
        let f = gate.rows
        let g = ws.floats(scratchName + ".gate", tokens * f), u = ws.floats(scratchName + ".up", tokens * f)
        Kernels.matmul(x, tokens: tokens, gate, into: g)  // [T, F]
        Kernels.matmul(x, tokens: tokens, up, into: u)    // [T, F]
        Kernels.swiglu(gate: g, up: u, count: tokens * f)
        Kernels.matmul(g, tokens: tokens, down, into: out)  // [T, D]
    }
}
