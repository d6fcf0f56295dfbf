// One process's slice of a model split across processes (expert parallelism, Docs/ExpertParallel.md): which
// experts, attention heads, shared-expert rows and vocabulary rows it holds, and the two collective operations the
// forward pass needs (sum of partial layer outputs, gathering the logits on rank 0). This module knows no MPI: the
// collectives are a protocol the launcher layer (PanguParallel) implements with `Communicator`.
import PanguTensor
import PanguWeights

/// The dimensions and storage block sizes a split is planned from (read from the checkpoint before loading).
public struct ShardRequest: Sendable, Equatable {
    /// Routed experts, expert groups, query heads, KV heads, head dim, shared-expert inner width, vocabulary.
    public var experts: Int, groups: Int, heads: Int, kvHeads: Int, headDim: Int, sharedIntermediate: Int,
               vocabulary: Int
    /// Largest quantisation block (values) along o_proj's input features, over all layers (1 for float types).
    public var outputColumnBlock: Int
    /// Largest quantisation block along the shared expert down_proj's input features, over all layers.
    public var sharedDownBlock: Int
}

/// The collective operations a split forward pass makes. Every rank calls them in the same order.
public protocol ShardCollectives: AnyObject, Sendable {
    /// Replaces `count` floats by their element-wise sum over all ranks.
    func sum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws
    /// Gathers every rank's logits of its vocabulary rows (`[rows, outputRows.count]`) on rank 0 and returns the
    /// full `[rows, V]` there; nil on the other ranks.
    func gatherLogits(_ local: [Float], rows: Int) throws -> [Float]?
}

/// What this process holds of a split model. Ranges are half-open, in PyTorch order (rows = output features).
public struct ModelShard: Sendable {
    /// This process's rank and the number of ranks.
    public var rank: Int, ranks: Int
    /// Routed experts held (whole groups).
    public var experts: Range<Int>
    /// Query heads computed and the KV heads they read (whole KV-head groups); the KV cache holds only these.
    public var queryHeads: Range<Int>, kvHeads: Range<Int>
    /// Shared-expert inner indices: rows of gate/up_proj, columns of down_proj.
    public var sharedRows: Range<Int>
    /// Vocabulary rows of the output head.
    public var outputRows: Range<Int>
    /// Whether this rank adds the o_proj bias (exactly one rank does: the partial outputs are summed).
    public var addsOutputBias: Bool
    /// Which tensors this process resolves at all (others are validated, never read).
    public var owns: WeightOwnership
    /// The collectives.
    public var collectives: any ShardCollectives

    /// Creates a shard description.
    public init(rank: Int, ranks: Int, experts: Range<Int>, queryHeads: Range<Int>, kvHeads: Range<Int>,
                sharedRows: Range<Int>, outputRows: Range<Int>, addsOutputBias: Bool, owns: @escaping WeightOwnership,
                collectives: any ShardCollectives) {
        self.rank = rank
        self.ranks = ranks
        self.experts = experts
        self.queryHeads = queryHeads
        self.kvHeads = kvHeads
        self.sharedRows = sharedRows
        self.outputRows = outputRows
        self.addsOutputBias = addsOutputBias
        self.owns = owns
        self.collectives = collectives
    }
}

/// Plans this process's shard from the model's dimensions (throws for a split that does not fit).
public typealias ShardPlanner = @Sendable (ShardRequest) throws -> ModelShard

/// Cutting resolved tensors down to a shard. Row slices are views into the file mapping (rows are contiguous in
/// every format); column slices are not contiguous, so they are copied (whole quantisation blocks per row) into
/// memory `ColumnCopies` owns. Only dense tensors are cut by columns (o_proj, shared down_proj): routed experts
/// are never copied, so they stay evictable file pages.
final class ColumnCopies: @unchecked Sendable {
    private var buffers: [UnsafeMutableRawPointer] = []
    /// Bytes held in copies.
    private(set) var bytes = 0

    /// Whether `p` is the start of one of the copies (anonymous memory: never `MADV_DONTNEED` it).
    func owns(_ p: UnsafeRawPointer) -> Bool { buffers.contains { UnsafeRawPointer($0) == p } }

    /// Rows `r` of a 1-D vector or 2-D matrix `[rows, cols]`: a view, no copy.
    static func rows(_ t: TensorInfo, _ r: Range<Int>) -> TensorInfo {
        let rowBytes = t.byteCount / max(t.shape[0], 1)
        return TensorInfo(name: "\(t.name)[rows \(r)]", dtype: t.dtype, shape: [r.count] + t.shape.dropFirst(),
                          data: t.data + r.lowerBound * rowBytes, byteCount: r.count * rowBytes, file: t.file)
    }

    /// Columns `c` of a 2-D matrix `[rows, cols]`, copied. The column edges must lie on block boundaries (the plan
    /// checks this before loading, naming the tensor).
    func columns(_ t: TensorInfo, _ c: Range<Int>) throws -> TensorInfo {
        let rows = t.shape[0], cols = t.shape[1], block = t.dtype.blockSize
        guard c.lowerBound % block == 0, c.count % block == 0 else {
            throw ModelError.invalidArgument("\(t.name): columns \(c) cut a \(block)-value block of \(t.dtype)")
        }
        let rowBytes = t.dtype.rowBytes(cols), start = t.dtype.rowBytes(c.lowerBound)
        let width = t.dtype.rowBytes(c.count), total = rows * width
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(total, 1), alignment: 64)
        for r in 0..<rows { (p + r * width).copyMemory(from: t.data + r * rowBytes + start, byteCount: width) }
        buffers.append(p)
        bytes += total
        return TensorInfo(name: "\(t.name)[columns \(c)]", dtype: t.dtype, shape: [rows, c.count],
                          data: UnsafeRawPointer(p), byteCount: total, file: t.file)
    }

    deinit { for b in buffers { b.deallocate() } }
}

extension ResolvedWeights {
    /// The same weights cut to `shard`: attention by heads, shared expert by inner rows, output head by vocabulary
    /// rows (routed experts were already filtered by `shard.owns`).
    func sliced(_ shard: ModelShard, headDim: Int, copies: ColumnCopies) throws -> ResolvedWeights {
        let q = shard.queryHeads.lowerBound * headDim ..< shard.queryHeads.upperBound * headDim
        let kv = shard.kvHeads.lowerBound * headDim ..< shard.kvHeads.upperBound * headDim
        var g = global
        if let out = g[.output] { g[.output] = ColumnCopies.rows(out, shard.outputRows) }
        var cut: [[TensorRole: TensorInfo]] = []
        for layer in layers {
            var l = layer
            for (role, t) in layer {
                switch role {
                case .q, .qBias: l[role] = ColumnCopies.rows(t, q)
                case .k, .kBias, .v, .vBias: l[role] = ColumnCopies.rows(t, kv)
                case .o: l[role] = try copies.columns(t, q)
                case .sharedGate, .sharedUp: l[role] = ColumnCopies.rows(t, shard.sharedRows)
                case .sharedDown: l[role] = try copies.columns(t, shard.sharedRows)
                default: break
                }
            }
            cut.append(l)
        }
        return ResolvedWeights(global: g, layers: cut, experts: experts)
    }
}
