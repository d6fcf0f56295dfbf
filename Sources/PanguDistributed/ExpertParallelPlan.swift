// Which slice of a Mixture-of-Grouped-Experts model each rank holds and computes. Pure arithmetic: no MPI here.
// The split, and why each layer needs exactly two sums over ranks, is explained in Docs/ExpertParallel.md.

/// The model dimensions the expert-parallel split depends on.
public struct ExpertParallelShape: Sendable, Equatable {
    /// Routed experts (E; Pangu Pro MoE: 64).
    public var experts: Int
    /// Expert groups (G; 8). Group g owns the contiguous experts g·E/G ..< (g+1)·E/G.
    public var groups: Int
    /// Query heads (H; 40).
    public var heads: Int
    /// Key/value heads (Hkv; 8). Query head j reads KV head j / (H/Hkv).
    public var kvHeads: Int
    /// Head dimension (Dh; 128).
    public var headDim: Int
    /// Shared-expert intermediate size (S; 5376), 0 when the model has no shared expert.
    public var sharedIntermediate: Int
    /// Vocabulary size (V; 153376): the rows of the output head, which the ranks split.
    public var vocabulary: Int

    /// Creates a shape.
    public init(experts: Int, groups: Int, heads: Int, kvHeads: Int, headDim: Int, sharedIntermediate: Int,
                vocabulary: Int) {
        self.experts = experts
        self.groups = groups
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.sharedIntermediate = sharedIntermediate
        self.vocabulary = vocabulary
    }
}

/// What rank `rank` of `ranks` owns. Every range is half-open and in PyTorch order: a "row" is an output feature
/// of a `[out, in]` weight (and the matching bias element), a "column" an input feature.
///
/// * Routed experts: whole expert groups, `groups.count = G/N` groups per rank.
/// * Attention: whole KV-head groups. The rank computes query heads `queryHeads` against KV heads `kvHeads`
///   (rows `qRows` of q_proj, `kvRows` of k_proj and v_proj, and its own slice of the KV cache), then multiplies
///   its part of the concatenated head outputs by columns `oColumns` of o_proj. The o_proj bias is added by rank 0
///   only (`addsOutputBias`), because the partial outputs are summed over ranks.
/// * Shared expert: rows `sharedRows` of gate_proj and up_proj, the same indices as columns of down_proj.
/// * Output head: vocabulary rows `outputRows` (balanced in groups of 8 rows). Each rank computes the
///   logits of its rows; rank 0 gathers them (`Communicator.gather`, then `assembleRows`) to sample.
///
/// Each rank's attention output and MoE output are partial sums; one `allreduceSum` after o_proj and one after
/// the MoE block per layer give every rank the full hidden state. Embeddings, norms, the router and router scales
/// stay whole on every rank.
public struct ExpertParallelPlan: Sendable, Equatable {
    /// Number of ranks N.
    public let ranks: Int
    /// This plan's rank, 0 ..< N.
    public let rank: Int
    /// The model dimensions.
    public let shape: ExpertParallelShape
    /// Expert groups this rank owns.
    public let groups: Range<Int>
    /// Routed experts this rank owns (the experts of `groups`).
    public let experts: Range<Int>
    /// KV heads this rank owns.
    public let kvHeads: Range<Int>
    /// Query heads this rank computes (those that read `kvHeads`).
    public let queryHeads: Range<Int>
    /// Shared-expert intermediate indices: rows of gate/up_proj and columns of down_proj.
    public let sharedRows: Range<Int>
    /// Vocabulary rows of the output head (lm_head) this rank holds and computes logits for.
    public let outputRows: Range<Int>

    /// Rows of q_proj (and its bias) this rank holds: `queryHeads` × head dim.
    public var qRows: Range<Int> { queryHeads.lowerBound * shape.headDim ..< queryHeads.upperBound * shape.headDim }
    /// Rows of k_proj and v_proj (and their biases): `kvHeads` × head dim.
    public var kvRows: Range<Int> { kvHeads.lowerBound * shape.headDim ..< kvHeads.upperBound * shape.headDim }
    /// Columns of o_proj: the same indices as `qRows` (o_proj reads the concatenated head outputs).
    public var oColumns: Range<Int> { qRows }
    /// Whether this rank adds the o_proj bias (exactly one rank must, since the partial outputs are summed).
    public var addsOutputBias: Bool { rank == 0 }

    /// Plans rank `rank` of `ranks`.
    /// - Parameter sharedAlignment: the shared expert's split points are multiples of this (the quantisation
    ///   block of down_proj's rows: 32 for Q8_0/Q4_0, 256 for K-quants, 1 for float), so every rank's column slice
    ///   of down_proj is made of whole blocks. Ranks then differ by at most one block of rows.
    /// - Throws: `DistributedError.invalidSplit` naming the dimension N does not divide (or the inconsistent
    ///   shape), `.invalidArgument` for a rank outside 0..<ranks.
    public init(ranks: Int, rank: Int, shape: ExpertParallelShape, sharedAlignment: Int = 1) throws {
        let s = shape
        guard ranks >= 1 else { throw DistributedError.invalidSplit("the number of ranks is \(ranks)") }
        guard (0..<ranks).contains(rank) else {
            throw DistributedError.invalidArgument("rank \(rank) is outside 0..<\(ranks)")
        }
        guard s.experts > 0, s.groups > 0, s.heads > 0, s.kvHeads > 0, s.headDim > 0, s.sharedIntermediate >= 0,
              s.vocabulary > 0, sharedAlignment > 0
        else {
            throw DistributedError.invalidSplit("dimensions must be positive (experts \(s.experts), groups "
                + "\(s.groups), heads \(s.heads), KV heads \(s.kvHeads), head dim \(s.headDim), shared "
                + "intermediate \(s.sharedIntermediate), vocabulary \(s.vocabulary), shared alignment "
                + "\(sharedAlignment))")
        }
        guard s.experts % s.groups == 0 else {
            throw DistributedError.invalidSplit("\(s.experts) experts do not form \(s.groups) equal groups")
        }
        guard s.heads % s.kvHeads == 0 else {
            throw DistributedError.invalidSplit("\(s.heads) query heads are not a multiple of \(s.kvHeads) KV heads")
        }
        guard s.groups % ranks == 0 else {
            throw DistributedError.invalidSplit("\(ranks) ranks do not divide the \(s.groups) expert groups "
                + "(use a number of processes that divides \(s.groups))")
        }
        guard s.kvHeads % ranks == 0 else {
            throw DistributedError.invalidSplit("\(ranks) ranks do not divide the \(s.kvHeads) KV heads "
                + "(attention is split by whole KV-head groups)")
        }
        let groupsPerRank = s.groups / ranks, expertsPerGroup = s.experts / s.groups
        let kvPerRank = s.kvHeads / ranks, queriesPerKV = s.heads / s.kvHeads
        self.ranks = ranks
        self.rank = rank
        self.shape = s
        groups = rank * groupsPerRank ..< (rank + 1) * groupsPerRank
        experts = groups.lowerBound * expertsPerGroup ..< groups.upperBound * expertsPerGroup
        kvHeads = rank * kvPerRank ..< (rank + 1) * kvPerRank
        queryHeads = kvHeads.lowerBound * queriesPerKV ..< kvHeads.upperBound * queriesPerKV
        sharedRows = try Self.alignedSplit(size: s.sharedIntermediate, alignment: sharedAlignment, ranks: ranks,
                                           what: "shared expert")[rank]
        // Whole groups of 8 rows, so each slice keeps the 8-row interleaved layout of the quantised matmuls
        // (only a vocabulary smaller than 8 rows per rank, i.e. a toy model, is cut row by row).
        let unit = s.vocabulary >= 8 * ranks ? 8 : 1
        outputRows = try Self.alignedSplit(size: s.vocabulary, alignment: unit, ranks: ranks, what: "vocabulary")[rank]
    }

    /// Rebuilds `[tokens, V]` rows (logits) from what `Communicator.gather` returns on rank 0: each rank's
    /// `[tokens, outputRows.count]` block, in rank order.
    /// - Throws: `DistributedError.invalidArgument` when `gathered` does not have `tokens × V` values.
    public static func assembleRows(_ gathered: [Float], tokens: Int, plans: [ExpertParallelPlan]) throws
        -> [Float]
    {
        let width = plans.reduce(0) { $0 + $1.outputRows.count }
        guard tokens >= 0, gathered.count == tokens * width else {
            throw DistributedError.invalidArgument("gathered \(gathered.count) values, expected \(tokens) tokens × "
                + "\(width) rows")
        }
        var out = [Float](repeating: 0, count: tokens * width)  // [T, V]
        var offset = 0
        for plan in plans {
            let rows = plan.outputRows  // this rank's block: [T, rows.count]
            for t in 0..<tokens {
                for (i, v) in rows.enumerated() { out[t * width + v] = gathered[offset + t * rows.count + i] }
            }
            offset += tokens * rows.count
        }
        return out
    }

    /// The plans of all ranks 0..<ranks.
    public static func all(ranks: Int, shape: ExpertParallelShape, sharedAlignment: Int = 1) throws
        -> [ExpertParallelPlan]
    {
        try (0..<max(ranks, 1)).map { try ExpertParallelPlan(ranks: ranks, rank: $0, shape: shape,
                                                             sharedAlignment: sharedAlignment) }
    }

    /// Checks that the column slices this rank reads (o_proj's and the shared down_proj's) start and end on
    /// quantisation-block boundaries, since a block cannot be split between ranks.
    /// - Parameter outputBlock: values per block along o_proj's rows (1 for float types).
    /// - Parameter sharedDownBlock: values per block along the shared down_proj's rows.
    public func checkColumnBlocks(outputBlock: Int, sharedDownBlock: Int) throws {
        func check(_ what: String, _ range: Range<Int>, _ width: Int, _ block: Int) throws {
            guard block > 0 else { throw DistributedError.invalidArgument("\(what): block size \(block)") }
            for edge in [range.lowerBound, range.upperBound] where edge % block != 0 && edge != width {
                throw DistributedError.invalidSplit("rank \(rank) of \(ranks) reads \(what) columns \(range), which "
                    + "cut a \(block)-value quantisation block at column \(edge); use another number of ranks or "
                    + "a type with smaller blocks for that tensor")
            }
        }
        try check("attention output (o_proj)", oColumns, shape.heads * shape.headDim, outputBlock)
        try check("shared-expert down_proj", sharedRows, shape.sharedIntermediate, sharedDownBlock)
    }

    /// Balanced split of `size` rows into `ranks` slices whose boundaries are multiples of `alignment` (the last
    /// slice takes a partial block when `size` is not a multiple). Slices differ by at most one block.
    static func alignedSplit(size: Int, alignment: Int, ranks: Int, what: String) throws -> [Range<Int>] {
        if size == 0 { return Array(repeating: 0..<0, count: ranks) }
        let units = (size + alignment - 1) / alignment
        guard units >= ranks else {
            throw DistributedError.invalidSplit("the \(what)'s \(size) rows make \(units) blocks of "
                + "\(alignment), fewer than the \(ranks) ranks")
        }
        return (0..<ranks).map { r in
            min(size, r * units / ranks * alignment) ..< min(size, (r + 1) * units / ranks * alignment)
        }
    }
}
