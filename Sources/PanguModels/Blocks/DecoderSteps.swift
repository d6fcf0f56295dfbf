// The pieces every decoder's forward pass shares around its layer loop: checking a batch before any cache is
// touched, the embedding lookup, and the final norm + output projection for the rows whose logits are wanted.
import PanguTensor

enum DecoderSteps {
    /// Rejects a batch before anything runs, so a bad sequence leaves every cache untouched: empty steps, ids
    /// outside the vocabulary, a step past its cache's capacity, the same cache twice. Then reserves room.
    static func validate(_ batch: [SequenceStep], vocabularySize: Int) throws {
        var seen = Set<ObjectIdentifier>()
        for step in batch {
            guard !step.tokens.isEmpty else { throw ModelError.invalidArgument("a sequence step has no tokens") }
            guard seen.insert(ObjectIdentifier(step.cache)).inserted else {
                throw ModelError.invalidArgument("the same KV cache appears twice in one batch")
            }
            for (i, id) in step.tokens.enumerated() where id < 0 || id >= vocabularySize {
                throw ModelError.tokenOutOfRange(id: id, position: step.cache.count + i, vocabularySize: vocabularySize)
            }
            let needed = step.cache.count + step.tokens.count
            if needed > step.cache.maxPositions {
                throw ModelError.contextOverflow(needed: needed, limit: step.cache.maxPositions)
            }
        }
        for step in batch { try step.cache.reserve(step.cache.count + step.tokens.count) }
    }

    /// x = E[tokens] for every sequence's tokens, stacked in batch order.   x: [T, D]
    static func embed(_ batch: [SequenceStep], _ embedding: WeightMatrix, into x: UnsafeMutablePointer<Float>) {
        var row = 0
        for step in batch {
            for id in step.tokens { EmbeddingLookup.row(embedding, id, into: x + row * embedding.cols); row += 1 }
        }
    }

    /// Final RMSNorm and output projection, only for the rows the caller asked for: every row of a step with
    /// `allLogits`, otherwise its last row. Returns one flat [rows, V] array per sequence.
    static func logits(_ x: UnsafePointer<Float>, batch: [SequenceStep], norm: [Float], eps: Float,
                       output: WeightMatrix) -> [[Float]] {
        let d = output.cols, vocab = output.rows
        var wanted: [Int] = []
        var first = 0
        for step in batch {
            let n = step.tokens.count
            if step.allLogits { wanted += Array(first..<(first + n)) } else { wanted.append(first + n - 1) }
            first += n
        }
        let picked = UnsafeMutablePointer<Float>.allocate(capacity: wanted.count * d)  // [rows, D]
        defer { picked.deallocate() }
        norm.withUnsafeBufferPointer { w in
            for (i, r) in wanted.enumerated() {
                Kernels.rmsNorm(x + r * d, tokens: 1, dim: d, weight: w.baseAddress!, eps: eps, into: picked + i * d)
            }
        }
        var logits = [Float](repeating: 0, count: wanted.count * vocab)
        logits.withUnsafeMutableBufferPointer { out in
            Kernels.matmul(picked, tokens: wanted.count, output, into: out.baseAddress!)  // [rows, V]
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

    /// RMSNorm of T rows with a weight vector.   x, out: [T, D]
    static func rmsNorm(_ x: UnsafePointer<Float>, tokens: Int, weight: [Float], eps: Float,
                        into out: UnsafeMutablePointer<Float>) {
        weight.withUnsafeBufferPointer { w in
            Kernels.rmsNorm(x, tokens: tokens, dim: weight.count, weight: w.baseAddress!, eps: eps, into: out)
        }
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
