// Pangu Pro MoE's feed-forward: a Mixture of Grouped Experts (MoGE, Docs/Architectures.md "Pangu Pro MoE").
//
//   p = softmax(router · x)                  over ALL E experts, in f32
//   for each of the G contiguous groups of E/G experts: e_g = the group's best expert (first index on ties)
//   out = Σ_g p[e_g] · router_scale[e_g] · SwiGLU_{e_g}(x)  +  SwiGLU_shared(x)
//
// The weights are not renormalised (they do not sum to one) and the shared expert has no gate.
//
// CPU layout of the work: the step's tokens are bucketed by expert, so each selected expert's three matrices are
// streamed once per step for all the tokens that chose it (a decode step of one token reads G experts; a prefill
// reads each expert at most once). Routed experts stay in the file's layout, pointing into the memory map: they are
// never repacked or copied, so their pages remain evictable file cache and a model larger than RAM still runs.
//
// Letters: T tokens, D hidden, E experts, G groups, Fe expert inner width, Fs shared-expert inner width.
import PanguTensor

/// One routed expert: a bias-free SwiGLU whose matrices point into the model file.
struct ExpertWeights {
    let gate: WeightMatrix  // [Fe, D]
    let up: WeightMatrix    // [Fe, D]
    let down: WeightMatrix  // [D, Fe]
}

/// Which expert every group chose for every token, and with what weight.
struct GroupedRouting: Equatable {
    /// Groups per token.
    let groups: Int
    /// Chosen expert (global id) per token and group.   [T, G]
    var experts: [Int]
    /// probability × router_scale per token and group.  [T, G]
    var weights: [Float]
}

/// The MoGE feed-forward of one layer.
struct MixtureOfGroupedExperts: FeedForward {
    let router: WeightMatrix       // [E, D]
    let routerScale: [Float]       // [E]
    /// Indexed by expert id; nil where another process owns the expert (expert parallelism): its contribution is
    /// then left to that process.
    let experts: [ExpertWeights?]
    let shared: SwiGLU             // Fs
    let groups: Int

    /// Routes T tokens from their router logits.   logits: [T, E], overwritten with the probabilities.
    static func route(_ logits: UnsafeMutablePointer<Float>, tokens: Int, experts e: Int, groups: Int,
                      scale: [Float]) -> GroupedRouting {
        let size = e / groups
        var chosen = [Int](repeating: 0, count: tokens * groups)
        var weights = [Float](repeating: 0, count: tokens * groups)
        for t in 0..<tokens {
            let p = logits + t * e
            Kernels.softmax(p, count: e)  // over all experts, not per group
            for g in 0..<groups {
                var best = g * size
                // Strictly greater: on an exact tie the lower expert id wins (torch.max's first index).
                for x in (g * size + 1)..<((g + 1) * size) where p[x] > p[best] { best = x }
                chosen[t * groups + g] = best
                weights[t * groups + g] = p[best] * scale[best]
            }
        }
        return GroupedRouting(groups: groups, experts: chosen, weights: weights)
    }

    func forward(_ x: UnsafePointer<Float>, tokens: Int, workspace ws: Workspace,
                 into out: UnsafeMutablePointer<Float>) {
        let e = router.rows, d = router.cols
        let logits = ws.floats("moe.logits", tokens * e)          // [T, E]
        Kernels.matmul(x, tokens: tokens, router, into: logits)
        let routing = Self.route(logits, tokens: tokens, experts: e, groups: groups, scale: routerScale)

        shared.forward(x, tokens: tokens, workspace: ws, into: out)  // out = shared(x)   [T, D]

        // Bucket (token, weight) pairs by expert: a counting sort keeps each bucket in token order.
        var first = [Int](repeating: 0, count: e + 1)  // first[ex] = first slot of expert ex
        for ex in routing.experts { first[ex + 1] += 1 }
        for i in 0..<e { first[i + 1] += first[i] }
        var fill = first
        var slotToken = [Int](repeating: 0, count: tokens * groups)
        var slotWeight = [Float](repeating: 0, count: tokens * groups)
        for i in 0..<(tokens * groups) {
            let ex = routing.experts[i], s = fill[ex]
            slotToken[s] = i / groups
            slotWeight[s] = routing.weights[i]
            fill[ex] += 1
        }
        var largest = 0
        for ex in 0..<e { largest = max(largest, first[ex + 1] - first[ex]) }
        guard let fe = experts.lazy.compactMap({ $0 }).first?.gate.rows else { return }
        let xs = ws.floats("moe.x", largest * d)        // the expert's tokens, gathered   [n, D]
        let gate = ws.floats("moe.gate", largest * fe)  //                                 [n, Fe]
        let up = ws.floats("moe.up", largest * fe)      //                                 [n, Fe]
        let y = ws.floats("moe.y", largest * d)         // expert output                   [n, D]
        for ex in 0..<e {
            let n = first[ex + 1] - first[ex]
            guard n > 0, let w = experts[ex] else { continue }
            for i in 0..<n { (xs + i * d).update(from: x + slotToken[first[ex] + i] * d, count: d) }
            Kernels.matmul(xs, tokens: n, w.gate, into: gate)
            Kernels.matmul(xs, tokens: n, w.up, into: up)
            Kernels.swiglu(gate: gate, up: up, count: n * fe)
            Kernels.matmul(gate, tokens: n, w.down, into: y)
            for i in 0..<n {
                let s = first[ex] + i, o = out + slotToken[s] * d, yr = y + i * d, weight = slotWeight[s]
                for j in 0..<d { o[j] += weight * yr[j] }
            }
        }
    }
}
