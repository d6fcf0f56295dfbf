// Turning resolved tensors into the forms the blocks use: matmul weights (repacked into the fastest layout when
// the kernels have one), bias vectors (copied out of the mapping), norm weights (read into arrays).
import PanguTensor
import PanguWeights

/// Builds block weights from resolved tensors, keeping repacked copies alive in its arena.
struct WeightLoader {
    /// Holds matmul weights repacked into a faster layout at load time (RowInterleave).
    let arena = WeightArena()

    /// The tensor as a matrix, in the file's layout (file-backed, evictable pages).   [rows, cols]
    func matrix(_ t: TensorInfo) -> WeightMatrix {
        WeightMatrix(rows: t.shape[0], cols: t.shape[1], dtype: t.dtype, data: t.data)
    }

    /// A matmul-only weight, repacked when a faster layout exists. The source pages are then released (every
    /// TensorSource is a read-only file mapping, so they would be re-read from the file if touched again).
    func matmul(_ t: TensorInfo) -> WeightMatrix { arena.prepare(matrix(t), releaseSource: true) }

    /// A bias vector, copied out of the mapping so released weight pages are never faulted back in.
    func vector(_ t: TensorInfo) -> WeightVector {
        arena.copy(WeightVector(count: t.shape[0], dtype: t.dtype, data: t.data))
    }

    /// A norm weight read once into an array.
    func floats(_ t: TensorInfo) -> [Float] {
        WeightVector(count: t.elementCount, dtype: t.dtype, data: t.data).toFloats()
    }

    /// The attention weights of one layer (roles q, k, v, o and their biases; missing biases stay nil).
    func attention(_ r: [TensorRole: TensorInfo]) -> AttentionWeights {
        AttentionWeights(wq: matmul(r[.q]!), bq: r[.qBias].map(vector), wk: matmul(r[.k]!), bk: r[.kBias].map(vector),
                         wv: matmul(r[.v]!), bv: r[.vBias].map(vector), wo: matmul(r[.o]!), bo: r[.oBias].map(vector))
    }
}

extension ModelInfo {
    /// Parameter count, dtype histogram and bytes of every resolved tensor; `activeBytes` is what one decoded
    /// token reads (the caller knows which tensors are only partly read, e.g. routed experts).
    static func tally(_ resolved: ResolvedWeights) -> (parameters: Int, bytes: Int, dtypes: [String: Int]) {
        var params = 0, bytes = 0
        var dtypes: [String: Int] = [:]
        for t in resolved.all {
            params += t.elementCount
            bytes += t.byteCount
            dtypes[t.dtype.rawValue, default: 0] += 1
        }
        return (params, bytes, dtypes)
    }
}
