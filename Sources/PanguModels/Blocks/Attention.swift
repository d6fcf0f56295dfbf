// Self-attention shared by every architecture: q/k/v projections (optional biases), full-head-dim NeoX RoPE,
// grouped-query attention over each sequence's KV cache, output projection (optional bias). Pangu Embedded and
// Pangu Pro MoE use it unchanged (Docs/Architectures.md).
//
// Letters: T tokens in the step (all sequences together), D hidden, H query heads, Hkv key/value heads,
// Dh head dim.
import PanguTensor

/// The weights of one attention block.
struct AttentionWeights {
    let wq: WeightMatrix    // [H·Dh, D]
    let bq: WeightVector?   // [H·Dh]
    let wk: WeightMatrix    // [Hkv·Dh, D]
    let bk: WeightVector?   // [Hkv·Dh]
    let wv: WeightMatrix    // [Hkv·Dh, D]
    let bv: WeightVector?   // [Hkv·Dh]
    let wo: WeightMatrix    // [D, H·Dh]
    let bo: WeightVector?   // [D]
}

/// One layer's self-attention.
struct AttentionBlock {
    let weights: AttentionWeights
    let heads: Int, kvHeads: Int, headDim: Int
    let inverseFrequencies: [Float]  // [Dh/2]

    /// Runs attention for every sequence of `batch` in `layer`: writes the new keys/values into each sequence's
    /// cache at positions cache.count ..< cache.count + n (the caller advances the caches after the last layer)
    /// and stores the projected output in `out`.
    /// - Parameters:
    ///   - x: normalised input rows of all sequences, stacked in batch order.   [T, D]
    ///   - out: the block's output, before the residual add.                      [T, D]
    func forward(_ x: UnsafePointer<Float>, batch: [SequenceStep], layer: Int, workspace ws: Workspace,
                 into out: UnsafeMutablePointer<Float>) {
        let total = batch.reduce(0) { $0 + $1.tokens.count }
        let qDim = heads * headDim, kvDim = kvHeads * headDim
        let q = ws.floats("attn.q", total * qDim), k = ws.floats("attn.k", total * kvDim)
        let v = ws.floats("attn.v", total * kvDim), att = ws.floats("attn.out", total * qDim)
        let w = weights
        Kernels.matmul(x, tokens: total, w.wq, bias: w.bq, into: q)   // [T, H·Dh]
        Kernels.matmul(x, tokens: total, w.wk, bias: w.bk, into: k)   // [T, Hkv·Dh]
        Kernels.matmul(x, tokens: total, w.wv, bias: w.bv, into: v)   // [T, Hkv·Dh]
        var first = 0
        for step in batch {
            let n = step.tokens.count, start = step.cache.count
            for t in 0..<n {
                let row = first + t
                Kernels.rope(q + row * qDim, heads: heads, headDim: headDim, position: start + t,
                             inverseFrequencies: inverseFrequencies)
                Kernels.rope(k + row * kvDim, heads: kvHeads, headDim: headDim, position: start + t,
                             inverseFrequencies: inverseFrequencies)
            }
            // Append this sequence's keys/values at positions start..<start+n, then attend over 0..<start+n.
            let kv = step.cache.paged(layer: layer)
            kv.store(k + first * kvDim, positions: start, count: n, kvHeads: kvHeads, headDim: headDim, values: false)
            kv.store(v + first * kvDim, positions: start, count: n, kvHeads: kvHeads, headDim: headDim, values: true)
            Kernels.pagedAttention(q: q + first * qDim, cache: kv, tokens: n, firstPosition: start, heads: heads,
                                   kvHeads: kvHeads, headDim: headDim, into: att + first * qDim)
            first += n
        }
        Kernels.matmul(att, tokens: total, w.wo, bias: w.bo, into: out)  // [T, D]
    }
}
