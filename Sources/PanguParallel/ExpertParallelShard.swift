// Expert parallelism's glue between the model layer and MPI: the shard planner (`ExpertParallelPlan` over the
// world communicator) and the collectives a split forward pass calls (`Communicator.allreduceSum`, `gather`).
// Docs/ExpertParallel.md explains the split.
import PanguDistributed
import PanguModels

/// Builds the shard planner of this process for `ModelLoadOptions.shard`.
public enum ExpertParallel {
    /// The planner for rank `comm.rank` of `comm.size`. Every rank checks every rank's plan, so a split that does
    /// not fit (N not dividing the groups or KV heads, a column slice cutting a quantisation block) fails on all
    /// ranks alike, with the same message.
    public static func planner(_ comm: Communicator) -> ShardPlanner {
        { request in
            let shape = ExpertParallelShape(experts: request.experts, groups: request.groups, heads: request.heads,
                                            kvHeads: request.kvHeads, headDim: request.headDim,
                                            sharedIntermediate: request.sharedIntermediate,
                                            vocabulary: request.vocabulary)
            let plans = try ExpertParallelPlan.all(ranks: comm.size, shape: shape,
                                                   sharedAlignment: request.sharedDownBlock)
            for p in plans {
                try p.checkColumnBlocks(outputBlock: request.outputColumnBlock, sharedDownBlock: request.sharedDownBlock)
            }
            let plan = plans[comm.rank]
            return ModelShard(rank: plan.rank, ranks: plan.ranks, experts: plan.experts, queryHeads: plan.queryHeads,
                              kvHeads: plan.kvHeads, sharedRows: plan.sharedRows, outputRows: plan.outputRows,
                              addsOutputBias: plan.addsOutputBias, owns: ownership(plan),
                              collectives: MPICollectives(comm: comm, plans: plans))
        }
    }

    /// The weight filter of `plan`: a tensor is resolved when its share is not `.none`.
    public static func ownership(_ plan: ExpertParallelPlan) -> WeightOwnership {
        { role, _, expert in
            guard let p = parallelRole(role, expert: expert) else { return true }
            return ((try? plan.share(of: p)) ?? .whole) != TensorShare.none
        }
    }

    /// A model tensor role as the split sees it (nil for dense-MLP roles, which no split model has).
    static func parallelRole(_ role: TensorRole, expert: Int?) -> ParallelTensorRole? {
        switch role {
        case .tokenEmbedding, .outputNorm, .attnNorm, .ffnNorm, .router, .routerScale: return .replicated
        case .output: return .output
        case .q: return .q
        case .qBias: return .qBias
        case .k: return .k
        case .kBias: return .kBias
        case .v: return .v
        case .vBias: return .vBias
        case .o: return .o
        case .oBias: return .oBias
        case .expertGate, .expertUp, .expertDown: return expert.map { .expert($0) } ?? .stackedExperts
        case .sharedGate: return .sharedGate
        case .sharedUp: return .sharedUp
        case .sharedDown: return .sharedDown
        case .gate, .up, .down: return nil
        }
    }
}

/// The split forward pass's collectives over MPI.
final class MPICollectives: ShardCollectives, @unchecked Sendable {
    let comm: Communicator
    let plans: [ExpertParallelPlan]

    init(comm: Communicator, plans: [ExpertParallelPlan]) {
        self.comm = comm
        self.plans = plans
    }

    func sum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws { try comm.allreduceSum(buffer, count: count) }

    func gatherLogits(_ local: [Float], rows: Int) throws -> [Float]? {
        let gathered = try comm.gather(local, root: 0)
        guard comm.rank == 0 else { return nil }
        return try ExpertParallelPlan.assembleRows(gathered, tokens: rows, plans: plans)
    }
}
