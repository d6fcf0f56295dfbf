// The forward pass of a dense pre-norm decoder over a batch of sequences. All sequences' new tokens are stacked
// into one [T, D] matrix so every weight matrix is read once per step, whatever the batch size; only attention
// and RoPE are per sequence (each has its own positions and cache).
import PanguTensor

/// Scratch buffers for one forward step, sized for T tokens.
struct ForwardScratch {
    let x, xb, q, k, v, att, gate, up: UnsafeMutablePointer<Float>

    init(tokens t: Int, hidden d: Int, qDim: Int, kvDim: Int, ffn f: Int) {
        x = .allocate(capacity: t * d); xb = .allocate(capacity: t * d)
        q = .allocate(capacity: t * qDim); k = .allocate(capacity: t * kvDim); v = .allocate(capacity: t * kvDim)
        att = .allocate(capacity: t * qDim)
        gate = .allocate(capacity: t * f); up = .allocate(capacity: t * f)
    }

    func free() { for p in [x, xb, q, k, v, att, gate, up] { p.deallocate() } }
}

enum DenseDecoder {
    static func forward(model m: PanguEmbedded, batch: [SequenceStep]) -> [[Float]] {
        let info = m.info
        let d = info.hiddenSize, dh = info.headDim, h = info.heads, hkv = info.kvHeads
        let qDim = h * dh, kvDim = hkv * dh, f = info.intermediateSize
        let eps = Float(m.configuration.rmsNormEps)
        let total = batch.reduce(0) { $0 + $1.tokens.count }
        let s = ForwardScratch(tokens: total, hidden: d, qDim: qDim, kvDim: kvDim, ffn: f)
        defer { s.free() }

        // x = E[tokens]   [T, D]
        var row = 0
        for step in batch {
            for id in step.tokens { EmbeddingLookup.row(m.embedding, id, into: s.x + row * d); row += 1 }
        }

        for (l, layer) in m.layers.enumerated() {
            // Attention branch: x += Wo·attn(rope(Wq·n + bq), rope(Wk·n + bk), Wv·n + bv) + bo
            layer.attnNorm.withUnsafeBufferPointer { w in
                Kernels.rmsNorm(s.x, tokens: total, dim: d, weight: w.baseAddress!, eps: eps, into: s.xb)
            }
            Kernels.matmul(s.xb, tokens: total, layer.wq, bias: layer.bq, into: s.q)   // [T, H·Dh]
            Kernels.matmul(s.xb, tokens: total, layer.wk, bias: layer.bk, into: s.k)   // [T, Hkv·Dh]
            Kernels.matmul(s.xb, tokens: total, layer.wv, bias: layer.bv, into: s.v)   // [T, Hkv·Dh]
            var first = 0
            for step in batch {
                let n = step.tokens.count, start = step.cache.count
                for t in 0..<n {
                    let row = first + t
                    Kernels.rope(s.q + row * qDim, heads: h, headDim: dh, position: start + t,
                                 inverseFrequencies: m.inverseFrequencies)
                    Kernels.rope(s.k + row * kvDim, heads: hkv, headDim: dh, position: start + t,
                                 inverseFrequencies: m.inverseFrequencies)
                }
                // Append this sequence's keys/values at positions start..<start+n, then attend.
                let keys = step.cache.keys(l), values = step.cache.values(l)
                (keys + start * kvDim).update(from: s.k + first * kvDim, count: n * kvDim)
                (values + start * kvDim).update(from: s.v + first * kvDim, count: n * kvDim)
                Kernels.attention(q: s.q + first * qDim, keys: keys, values: values, tokens: n,
                                  firstPosition: start, heads: h, kvHeads: hkv, headDim: dh,
                                  into: s.att + first * qDim)
                first += n
            }
            Kernels.matmul(s.att, tokens: total, layer.wo, bias: layer.bo, into: s.xb)  // [T, D]
            Kernels.add(s.x, s.xb, count: total * d)

            // MLP branch: x += Wdown·(silu(Wgate·n) ⊙ Wup·n)
            layer.ffnNorm.withUnsafeBufferPointer { w in
                Kernels.rmsNorm(s.x, tokens: total, dim: d, weight: w.baseAddress!, eps: eps, into: s.xb)
            }
            Kernels.matmul(s.xb, tokens: total, layer.wGate, into: s.gate)  // [T, F]
            Kernels.matmul(s.xb, tokens: total, layer.wUp, into: s.up)      // [T, F]
            Kernels.swiglu(gate: s.gate, up: s.up, count: total * f)
            Kernels.matmul(s.gate, tokens: total, layer.wDown, into: s.xb)  // [T, D]
            Kernels.add(s.x, s.xb, count: total * d)
        }
        for step in batch { step.cache.advance(by: step.tokens.count) }

        // Final norm, then logits only for the rows the caller asked for.
        var wanted: [Int] = []
        var first = 0
        for step in batch {
            let n = step.tokens.count
            if step.allLogits { wanted += Array(first..<(first + n)) } else { wanted.append(first + n - 1) }
            first += n
        }
        let picked = UnsafeMutablePointer<Float>.allocate(capacity: wanted.count * d)
        defer { picked.deallocate() }
        for (i, r) in wanted.enumerated() {
            m.outputNorm.withUnsafeBufferPointer { w in
                Kernels.rmsNorm(s.x + r * d, tokens: 1, dim: d, weight: w.baseAddress!, eps: eps, into: picked + i * d)
            }
        }
        let vocab = info.vocabularySize
        var logits = [Float](repeating: 0, count: wanted.count * vocab)
        logits.withUnsafeMutableBufferPointer { out in
            Kernels.matmul(picked, tokens: wanted.count, m.output, into: out.baseAddress!)  // [rows, V]
        }
        var results: [[Float]] = []
        var offset = 0
        for step in batch {
            let rows = step.allLogits ? step.tokens.count : 1
            results.append(Array(logits[(offset * vocab)..<((offset + rows) * vocab)]))
            offset += rows
        }
        return results
    }
}

/// Reads one row of an embedding matrix as floats.
enum EmbeddingLookup {
    static func row(_ e: WeightMatrix, _ id: Int, into out: UnsafeMutablePointer<Float>) {
        let p = e.row(id)
        if e.dtype.isQuantized {
            QuantReference.dequantize(p, dtype: e.dtype, k: e.cols, into: out)
        } else {
            for i in 0..<e.cols { out[i] = HalfConversion.load(p, i, e.dtype) }
        }
    }
}
