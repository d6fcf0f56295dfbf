// The plan's slices are the right ones: for a tiny MoGE layer, the per-rank partial outputs computed only from the
// tensor parts `share(ofTensorNamed:)` hands each rank add up to the unsplit layer (GQA attention + o_proj with
// bias, routed experts with group top-1 routing, shared expert), and the output head's vocabulary slices,
// concatenated, give the unsplit logits. The unsplit reference is plain loops over the
// whole tensors, as the math in Docs/ExpertParallel.md writes it.
import Foundation
import PanguDistributed
import XCTest

/// A row-major [rows, cols] matrix of deterministic pseudo-random values.
private struct Matrix {
    var rows: Int, cols: Int, data: [Float]
    init(_ rows: Int, _ cols: Int, seed: Int) {
        self.rows = rows
        self.cols = cols
        data = (0..<rows * cols).map { Float(sin(Double($0 * 7 + seed * 131) * 0.731)) * 0.5 }
    }
    init(rows: Int, cols: Int, data: [Float]) {
        self.rows = rows
        self.cols = cols
        self.data = data
    }
    subscript(r: Int, c: Int) -> Float { data[r * cols + c] }
    /// The part `share` selects (rows or columns; `.whole` = all; `.none` = nil).
    func part(_ share: TensorShare) -> Matrix? {
        switch share {
        case .whole: return self
        case .none: return nil
        case let .rows(r): return Matrix(rows: r.count, cols: cols, data: Array(data[r.lowerBound * cols ..< r.upperBound * cols]))
        case let .columns(c):
            return Matrix(rows: rows, cols: c.count, data: (0..<rows).flatMap { r in c.map { self[r, $0] } })
        case .experts: return nil
        }
    }
    func times(_ x: [Float]) -> [Float] {  // [rows]
        (0..<rows).map { r in (0..<cols).reduce(Float(0)) { $0 + self[r, $1] * x[$1] } }
    }
}

private func silu(_ x: Float) -> Float { x / (1 + exp(-x)) }
private func add(_ a: [Float], _ b: [Float]) -> [Float] { zip(a, b).map { $0 + $1 } }

final class SplitSumTests: XCTestCase {
    // D hidden 6; H 4 query heads, Hkv 2, Dh 3; 8 experts in 4 groups of inner size 5; shared inner size 10.
    let shape = ExpertParallelShape(experts: 8, groups: 4, heads: 4, kvHeads: 2, headDim: 3, sharedIntermediate: 10,
                                    vocabulary: 11)
    let d = 6, tokens = 3, expertInner = 5

    func testPartialOutputsSumToTheUnsplitLayer() throws {
        var weights: [String: Matrix] = [:]
        let l = "model.layers.0."
        let hd = shape.heads * shape.headDim, kvd = shape.kvHeads * shape.headDim
        weights[l + "self_attn.q_proj.weight"] = Matrix(hd, d, seed: 1)
        weights[l + "self_attn.q_proj.bias"] = Matrix(hd, 1, seed: 2)
        weights[l + "self_attn.k_proj.weight"] = Matrix(kvd, d, seed: 3)
        weights[l + "self_attn.k_proj.bias"] = Matrix(kvd, 1, seed: 4)
        weights[l + "self_attn.v_proj.weight"] = Matrix(kvd, d, seed: 5)
        weights[l + "self_attn.v_proj.bias"] = Matrix(kvd, 1, seed: 6)
        weights[l + "self_attn.o_proj.weight"] = Matrix(d, hd, seed: 7)
        weights[l + "self_attn.o_proj.bias"] = Matrix(d, 1, seed: 8)
        weights[l + "mlp.gate.weight"] = Matrix(shape.experts, d, seed: 9)
        for e in 0..<shape.experts {
            weights[l + "mlp.experts.\(e).gate_proj.weight"] = Matrix(expertInner, d, seed: 10 + 3 * e)
            weights[l + "mlp.experts.\(e).up_proj.weight"] = Matrix(expertInner, d, seed: 11 + 3 * e)
            weights[l + "mlp.experts.\(e).down_proj.weight"] = Matrix(d, expertInner, seed: 12 + 3 * e)
        }
        weights[l + "mlp.shared_expert.gate_proj.weight"] = Matrix(shape.sharedIntermediate, d, seed: 50)
        weights[l + "mlp.shared_expert.up_proj.weight"] = Matrix(shape.sharedIntermediate, d, seed: 51)
        weights[l + "mlp.shared_expert.down_proj.weight"] = Matrix(d, shape.sharedIntermediate, seed: 52)
        let x = Matrix(tokens, d, seed: 99)  // [T, D] normed hidden states

        let full = layer(x, weights: weights, prefix: l, heads: 0..<shape.heads)
        for ranks in [1, 2] {
            var sum = [[Float]](repeating: [Float](repeating: 0, count: d), count: tokens)
            for plan in try ExpertParallelPlan.all(ranks: ranks, shape: shape) {
                var mine: [String: Matrix] = [:]
                for (name, m) in weights {
                    // Biases are [n, 1] here, so a "rows" share slices them as the plan intends.
                    if let part = m.part(try plan.share(ofTensorNamed: name)) { mine[name] = part }
                }
                let partial = layer(x, weights: mine, prefix: l, heads: plan.queryHeads)
                sum = zip(sum, partial).map(add)
            }
            for t in 0..<tokens {
                for i in 0..<d {
                    XCTAssertEqual(sum[t][i], full[t][i], accuracy: 1e-5 * max(1, abs(full[t][i])),
                                   "N=\(ranks) token \(t) feature \(i)")
                }
            }
        }
    }

    func testOutputHeadSlicesAssembleTheLogits() throws {
        let head = Matrix(shape.vocabulary, d, seed: 77)  // [V, D]
        let x = Matrix(tokens, d, seed: 78)
        let full = (0..<tokens).flatMap { t in head.times(Array(x.data[t * d ..< (t + 1) * d])) }  // [T, V]
        for ranks in [1, 2] {
            let plans = try ExpertParallelPlan.all(ranks: ranks, shape: shape)
            var gathered: [Float] = []  // what Communicator.gather concatenates on rank 0
            for plan in plans {
                let mine = head.part(try plan.share(ofTensorNamed: "lm_head.weight"))!
                gathered += (0..<tokens).flatMap { t in mine.times(Array(x.data[t * d ..< (t + 1) * d])) }
            }
            XCTAssertEqual(try ExpertParallelPlan.assembleRows(gathered, tokens: tokens, plans: plans), full)
        }
    }

    /// Attention output + MoE output of one layer for each token, computed from whatever tensors `w` holds:
    /// query heads `heads` (global indices) with their KV heads, the experts present in `w`, the shared-expert
    /// rows present in `w`. With every tensor whole this is the unsplit layer.
    private func layer(_ x: Matrix, weights w: [String: Matrix], prefix l: String, heads: Range<Int>) -> [[Float]] {
        let dh = shape.headDim, perKV = shape.heads / shape.kvHeads
        let kvBase = heads.lowerBound / perKV
        let q = w[l + "self_attn.q_proj.weight"]!, k = w[l + "self_attn.k_proj.weight"]!
        let v = w[l + "self_attn.v_proj.weight"]!, o = w[l + "self_attn.o_proj.weight"]!
        let qb = w[l + "self_attn.q_proj.bias"]!.data, kb = w[l + "self_attn.k_proj.bias"]!.data
        let vb = w[l + "self_attn.v_proj.bias"]!.data
        let rowsOf = { (t: Int) in Array(x.data[t * self.d ..< (t + 1) * self.d]) }
        let qs = (0..<tokens).map { add(q.times(rowsOf($0)), qb) }  // [T, heads·Dh] (local heads)
        let ks = (0..<tokens).map { add(k.times(rowsOf($0)), kb) }  // [T, localKV·Dh]
        let vs = (0..<tokens).map { add(v.times(rowsOf($0)), vb) }
        var out: [[Float]] = []
        for t in 0..<tokens {
            var attn = [Float]()  // [heads·Dh], concatenated local head outputs
            for (local, head) in heads.enumerated() {
                let kv = head / perKV - kvBase
                let qv = Array(qs[t][local * dh ..< (local + 1) * dh])
                let scores = (0...t).map { s in
                    (0..<dh).reduce(Float(0)) { $0 + qv[$1] * ks[s][kv * dh + $1] } / Float(dh).squareRoot()
                }
                let m = scores.max()!, e = scores.map { exp($0 - m) }, z = e.reduce(0, +)
                for c in 0..<dh { attn.append((0...t).reduce(Float(0)) { $0 + e[$1] / z * vs[$1][kv * dh + c] }) }
            }
            var y = o.times(attn)
            if let ob = w[l + "self_attn.o_proj.bias"] { y = add(y, ob.data) }

            // MoE on the same normed input (the real layer normalises the residual stream first; the split
            // arithmetic is the same): global softmax, top-1 per group, weight = probability.
            let h = rowsOf(t)
            let logits = w[l + "mlp.gate.weight"]!.times(h)
            let m = logits.max()!, p = logits.map { exp($0 - m) }, z = p.reduce(0, +)
            let probs = p.map { $0 / z }
            let perGroup = shape.experts / shape.groups
            for g in 0..<shape.groups {
                let members = g * perGroup ..< (g + 1) * perGroup
                let best = members.max { probs[$0] < probs[$1] || (probs[$0] == probs[$1] && $0 > $1) }!
                guard let gate = w[l + "mlp.experts.\(best).gate_proj.weight"] else { continue }
                let up = w[l + "mlp.experts.\(best).up_proj.weight"]!, down = w[l + "mlp.experts.\(best).down_proj.weight"]!
                let inner = zip(gate.times(h), up.times(h)).map { silu($0) * $1 }
                y = add(y, down.times(inner).map { $0 * probs[best] })
            }
            let sg = w[l + "mlp.shared_expert.gate_proj.weight"]!, su = w[l + "mlp.shared_expert.up_proj.weight"]!
            let sd = w[l + "mlp.shared_expert.down_proj.weight"]!
            y = add(y, sd.times(zip(sg.times(h), su.times(h)).map { silu($0) * $1 }))
            out.append(y)
        }
        return out
    }
}
