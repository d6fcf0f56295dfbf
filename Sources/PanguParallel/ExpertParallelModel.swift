// Running a split model from rank 0 as if it were local. Rank 0's code (CLI, generator, server scheduler) uses the
// `LanguageModel` protocol unchanged: `ExpertParallelModel.forward` first sends the step to the other ranks, then
// every rank runs the same forward on its slice (the per-layer sums and the logits gather happen inside it).
// The other ranks run `ExpertParallelFollower.run`, which mirrors rank 0's caches by id.
//
// One step on the wire (Int64 words, one `Communicator.broadcast`):
//   [1, nDropped, droppedIds…, nSequences, then per sequence: cacheId, countBefore, allLogits, kvType (index in KVElementType.allCases),
//    maxPositions, nTokens, tokens…]          or [0] to stop.
// `countBefore` lets a follower truncate its mirror exactly as rank 0 truncated its cache (rollback after
// speculative decoding, a reused cache). A cache can only gain positions through forward steps, so prefix sharing
// (`KVCache.share`) is not supported here (`supportsPrefixSharing` is false).
import Foundation
import PanguDistributed
import PanguModels
import PanguTensor

/// How rank 0 hands each step to the other ranks: a broadcast from rank 0 (MPI in production, a recorder in tests).
public protocol StepChannel: AnyObject, Sendable {
    /// This process's rank.
    var rank: Int { get }
    /// Replaces `words` on every rank by rank 0's; waits without spinning a core.
    func broadcast(_ words: inout [Int64]) throws
    /// Ends the channel after the stop message (MPI_Finalize).
    func close() throws
    /// Ends the whole job: for a failure in the middle of a step, when the other ranks wait in a collective.
    func abort(code: Int32) -> Never
}

/// The MPI world as a step channel.
public final class MPIStepChannel: StepChannel, @unchecked Sendable {
    let comm: Communicator
    /// Wraps `comm`.
    public init(_ comm: Communicator) { self.comm = comm }
    public var rank: Int { comm.rank }
    public func broadcast(_ words: inout [Int64]) throws { try comm.broadcast(&words, root: 0, idleWait: true) }
    public func close() throws { try comm.finalize() }
    public func abort(code: Int32) -> Never { comm.abort(code: code) }
}

/// Rank 0's view of a model split across all ranks of a channel.
public final class ExpertParallelModel: LanguageModel, @unchecked Sendable {
    /// Rank 0's own slice (the forward runs on it too).
    public let local: PanguProMoE
    let comm: StepChannel
    private let lock = NSLock()
    private struct Entry {
        weak var cache: KVCache?
        let id: Int64
        var count: Int
    }
    private var entries: [ObjectIdentifier: Entry] = [:]
    private var nextId: Int64 = 1
    private var stopped = false

    /// Wraps rank 0's slice; the other ranks must be in `ExpertParallelFollower.run`.
    public init(local: PanguProMoE, channel: StepChannel) {
        self.local = local
        self.comm = channel
    }

    public var info: ModelInfo { local.info }
    /// The storage type of the caches `makeCache()` makes (rank 0's; the followers mirror each cache's own type).
    public var kvCacheType: KVElementType {
        get { local.kvCacheType }
        set { local.kvCacheType = newValue }
    }
    /// Caches hold rank 0's KV heads only; the followers hold the others in their mirrors.
    public func makeCache() -> KVCache { local.makeCache() }
    /// Followers see a cache only through forward steps, so blocks cannot be shared between caches.
    public var supportsPrefixSharing: Bool { false }

    public func forward(_ batch: [SequenceStep]) throws -> [[Float]] {
        try lock.withLock {
            guard !stopped else { throw ModelError.invalidArgument("the expert-parallel model was shut down") }
            var dropped: [Int64] = []
            for (key, e) in entries where e.cache == nil {
                dropped.append(e.id)
                entries[key] = nil
            }
            var ids: [Int64] = []
            for step in batch {
                let key = ObjectIdentifier(step.cache)
                let known = entries[key]?.count ?? 0
                guard step.cache.count <= known else {
                    throw ModelError.invalidArgument("a KV cache holds \(step.cache.count) positions but only \(known) "
                        + "went through forward: under --expert-parallel caches cannot share prefixes "
                        + "(supportsPrefixSharing is false)")
                }
                if let e = entries[key] {
                    ids.append(e.id)
                } else {
                    entries[key] = Entry(cache: step.cache, id: nextId, count: 0)
                    ids.append(nextId)
                    nextId += 1
                }
            }
            // Every check that can reject the batch runs before the followers hear of it.
            try local.prepare(batch)
            var message: [Int64] = [1, Int64(dropped.count)] + dropped + [Int64(batch.count)]
            for (step, id) in zip(batch, ids) {
                message += [id, Int64(step.cache.count), step.allLogits ? 1 : 0,
                            Int64(KVElementType.allCases.firstIndex(of: step.cache.pool.elementType)!),
                            Int64(step.cache.maxPositions),
                            Int64(step.tokens.count)]
                message += step.tokens.map(Int64.init)
                entries[ObjectIdentifier(step.cache)]?.count = step.cache.count + step.tokens.count
            }
            do {
                try comm.broadcast(&message)
                return try local.forward(batch)
            } catch {
                // The followers are inside the step's collectives: only ending the job frees them.
                FileHandle.standardError.write(Data("pangu: rank 0: expert-parallel step failed: \(error)\n".utf8))
                comm.abort(code: 1)
            }
        }
    }

    /// Tells the followers to stop and shuts MPI down. Call once, when rank 0 is done with the model.
    public func shutdown() throws {
        try lock.withLock {
            guard !stopped else { return }
            stopped = true
            var stop: [Int64] = [0]
            try comm.broadcast(&stop)
            try comm.close()
        }
    }
}

/// The loop of ranks 1..<N: receive a step, run it on the local slice, repeat until rank 0 says stop.
public enum ExpertParallelFollower {
    /// Runs until rank 0 sends stop. Throws for a malformed message or a failed step (the caller must then
    /// `abort` the job: rank 0 is waiting in a collective). `observe` sees every step and its result (tests).
    public static func run(_ model: PanguProMoE, channel comm: StepChannel,
                           observe: (([SequenceStep], [[Float]]) -> Void)? = nil) throws {
        var mirrors: [Int64: KVCache] = [:]
        var pools: [KVElementType: KVBlockPool] = [:]
        let info = model.info
        while true {
            var message: [Int64] = []
            try comm.broadcast(&message)
            var reader = Reader(words: message)
            guard try reader.next() == 1 else { return }
            for _ in 0..<(try reader.count()) { mirrors[try reader.next()] = nil }
            var batch: [SequenceStep] = []
            for _ in 0..<(try reader.count()) {
                let id = try reader.next(), count = try reader.count(), all = try reader.next() == 1
                let code = try reader.count()
                guard code < KVElementType.allCases.count else {
                    throw ModelError.invalidArgument("expert-parallel step message: unknown KV cache type \(code)")
                }
                let type = KVElementType.allCases[code]
                let maxPositions = try reader.count()
                let tokens = try (0..<(try reader.count())).map { _ in Int(try reader.next()) }
                let cache: KVCache
                if let m = mirrors[id] {
                    cache = m
                } else {
                    // Blocks are allocated on demand; rank 0's own pool is what bounds the total.
                    let pool = pools[type] ?? KVBlockPool(layers: info.layers, kvHeads: info.kvHeads,
                                                          headDim: info.headDim, elementType: type,
                                                          capacity: Int(Int32.max))
                    pools[type] = pool
                    cache = KVCache(pool: pool, maxPositions: maxPositions)
                    mirrors[id] = cache
                }
                guard cache.count >= count else {
                    throw ModelError.invalidArgument("rank \(comm.rank): cache \(id) holds \(cache.count) positions, "
                        + "rank 0's holds \(count)")
                }
                cache.truncate(to: count)
                batch.append(SequenceStep(tokens: tokens, cache: cache, allLogits: all))
            }
            let logits = try model.forward(batch)
            observe?(batch, logits)
        }
    }

    /// Reads a step message word by word, throwing on a short or inconsistent message.
    struct Reader {
        let words: [Int64]
        var position = 0

        mutating func next() throws -> Int64 {
            guard position < words.count else {
                throw ModelError.invalidArgument("expert-parallel step message ends after \(words.count) words")
            }
            defer { position += 1 }
            return words[position]
        }

        mutating func count() throws -> Int {
            let v = try next()
            guard v >= 0, v <= Int64(Int32.max) else {
                throw ModelError.invalidArgument("expert-parallel step message: bad count \(v) at word \(position - 1)")
            }
            return Int(v)
        }
    }
}
