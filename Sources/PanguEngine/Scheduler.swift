// Continuous-batching scheduler: one thread owns the model and every KV cache; callers only hand it requests
// through a locked queue and read events from an AsyncThrowingStream. Each step runs ONE forward pass holding one
// decode token of every running sequence (plus its draft tokens when speculating) and, within a token budget, a
// chunk of the prompts still being prefilled, so a long prompt never stalls the running streams. New requests
// join between steps. Design notes and the request life cycle: Docs/Serving.md; speculation: Docs/Speculative.md.
import Foundation
import PanguModels
import PanguRuntime
import PanguTensor
import PanguTokenizer

/// Runs `GenerationRequest`s on one model with continuous batching. Its thread runs until `shutdown`, which also
/// keeps the scheduler alive until then. Creating one sets `Kernels.batchInvariant` for the process.
public final class Scheduler: GenerationService, @unchecked Sendable {
    /// Limits and tuning.
    public struct Configuration: Sendable {
        /// Most sequences decoded together.
        public var parallel: Int = 4
        /// Most requests waiting for a slot; more are rejected with `SchedulerError.queueFull`.
        public var maxWaiting: Int = 64
        /// Most tokens (prompt + generated) per request; nil = the model's context length.
        public var contextLimit: Int?
        /// Most prompt tokens prefilled per step (all prefilling sequences together).
        public var prefillChunk: Int = 256
        /// Finished sequences' caches kept for prefix reuse (0 = off). Running sequences are shared from too.
        public var prefixCacheEntries: Int = 4
        /// KV-cache element type; nil = the model's (`LanguageModel.kvCacheType`, set from `--cache-type`).
        public var cacheType: KVElementType?
        /// KV-cache budget in positions (all sequences together, prefix cache included); nil = `parallel` ×
        /// `contextLimit`, so every running sequence can always reach its limit. Sequences are admitted only when
        /// the blocks for their whole prompt + max tokens are free.
        public var kvPositions: Int?
        /// Speculative decoding for every sequence (nil: off).
        public var speculation: SchedulerSpeculation?

        /// Creates a configuration.
        public init(parallel: Int = 4, maxWaiting: Int = 64, contextLimit: Int? = nil, prefillChunk: Int = 256,
                    prefixCacheEntries: Int = 4, cacheType: KVElementType? = nil, kvPositions: Int? = nil,
                    speculation: SchedulerSpeculation? = nil) {
            self.parallel = parallel
            self.maxWaiting = maxWaiting
            self.contextLimit = contextLimit
            self.prefillChunk = prefillChunk
            self.prefixCacheEntries = prefixCacheEntries
            self.cacheType = cacheType
            self.kvPositions = kvPositions
            self.speculation = speculation
        }
    }

    /// The configuration in force (contextLimit resolved).
    public let configuration: Configuration
    /// Called on the scheduler thread after every forward step with fresh counters (keep it cheap: it delays
    /// the next step). May be set at any time.
    public var onStep: (@Sendable (SchedulerMetrics) -> Void)? {
        get { condition.lock(); defer { condition.unlock() }; return stepHook }
        set { condition.lock(); stepHook = newValue; condition.unlock() }
    }
    private var stepHook: (@Sendable (SchedulerMetrics) -> Void)?
    private let model: LanguageModel
    private let tokenizer: HuggingFaceTokenizer
    private let eosTokenIds: [Int]
    private let contextLimit: Int

    // Shared with submitters, guarded by `condition`.
    private let condition = NSCondition()
    private var waiting: [ActiveSequence] = []
    private var cancelledIDs: Set<Int> = []
    private var nextID = 0
    private var stopping: StopMode?
    private var stopped = false
    private var sharedMetrics = SchedulerMetrics()
    private var stopWaiters: [CheckedContinuation<Void, Never>] = []

    // Owned by the scheduler thread.
    private var running: [ActiveSequence] = []
    private let prefixes: PrefixCache

    private enum StopMode { case finish, cancel }

    /// Starts the scheduler thread for `engine`'s model.
    public convenience init(engine: Engine, configuration: Configuration = Configuration()) throws {
        try self.init(model: engine.model, tokenizer: engine.tokenizer, eosTokenIds: engine.eosTokenIds,
                      configuration: configuration)
    }

    /// Starts the scheduler thread.
    public init(model: LanguageModel, tokenizer: HuggingFaceTokenizer, eosTokenIds: [Int],
                configuration: Configuration = Configuration()) throws {
        guard configuration.parallel >= 1, configuration.maxWaiting >= 0, configuration.prefillChunk >= 1,
              configuration.prefixCacheEntries >= 0 else {
            throw SchedulerError.invalidRequest("scheduler configuration: parallel and prefill chunk must be ≥ 1")
        }
        let limit = configuration.contextLimit ?? model.info.contextLength
        guard limit >= 2, limit <= model.info.contextLength else {
            throw SchedulerError.invalidRequest(
                "context limit \(limit) must be between 2 and the model's context length \(model.info.contextLength)")
        }
        var resolved = configuration
        resolved.contextLimit = limit
        // One spare block per sequence: a shared last prefix block is copied before the first write into it.
        let positions = configuration.kvPositions ?? configuration.parallel * (limit + KVBlockPool.blockSize)
        guard KVBlockPool.blocks(for: positions) >= KVBlockPool.blocks(for: limit) + 1 else {
            throw SchedulerError.invalidRequest(
                "a KV budget of \(positions) positions cannot hold one request of \(limit) tokens")
        }
        resolved.kvPositions = positions
        let cacheType = configuration.cacheType ?? model.kvCacheType
        guard cacheType.supports(headDim: model.info.headDim) else {
            throw SchedulerError.invalidRequest("cache type \(cacheType.rawValue) needs a head size that is a multiple "
                                                + "of 32; this model's is \(model.info.headDim)")
        }
        resolved.cacheType = cacheType
        if let spec = configuration.speculation {
            guard spec.draftMax >= 1 else { throw SchedulerError.invalidRequest("draft max must be at least 1") }
            do { try SpeculativeDrafting.check(spec.makeDrafter(), target: model) } catch {
                throw SchedulerError.invalidRequest("\(error)")
            }
        }
        self.configuration = resolved
        self.model = model
        self.tokenizer = tokenizer
        self.eosTokenIds = eosTokenIds
        contextLimit = limit
        prefixes = PrefixCache(model: model, pool: model.makePool(elementType: cacheType, positions: positions),
                               maxPositions: limit, capacity: configuration.prefixCacheEntries)
        // A request's output must not depend on what else is batched with it.
        Kernels.batchInvariant = true
        let thread = Thread { [self] in loop() }
        thread.name = "pangu-scheduler"
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Current counters.
    public var metrics: SchedulerMetrics {
        condition.lock(); defer { condition.unlock() }
        return sharedMetrics
    }

    public func submit(_ request: GenerationRequest) throws -> AsyncThrowingStream<GenerationEvent, Error> {
        let vocab = model.info.vocabularySize
        guard !request.prompt.isEmpty else { throw SchedulerError.invalidRequest("the prompt has no tokens") }
        if let bad = request.prompt.firstIndex(where: { $0 < 0 || $0 >= vocab }) {
            throw SchedulerError.invalidRequest(
                "prompt token \(request.prompt[bad]) at position \(bad) is outside the vocabulary (\(vocab) ids)")
        }
        guard request.maxTokens >= 0 else { throw SchedulerError.invalidRequest("max tokens must be ≥ 0") }
        if request.prompt.count + request.maxTokens > contextLimit {
            throw SchedulerError.contextExceeded(promptTokens: request.prompt.count, maxTokens: request.maxTokens,
                                                 limit: contextLimit)
        }
        // Build the per-sequence state here, so bad settings (penalties, stop strings, a constraint that fails
        // to build) are rejected at submission.
        let state: GenerationState
        do {
            state = try GenerationState(request: request, eosTokenIds: eosTokenIds, tokenizer: tokenizer)
        } catch {
            throw SchedulerError.invalidRequest("\(error)")
        }
        let (stream, continuation) = AsyncThrowingStream<GenerationEvent, Error>.makeStream()
        condition.lock()
        defer { condition.unlock() }
        if stopping != nil || stopped { throw SchedulerError.shuttingDown }
        if waiting.count >= configuration.maxWaiting {
            sharedMetrics.rejected += 1
            throw SchedulerError.queueFull(waiting: waiting.count)
        }
        let id = nextID
        nextID += 1
        waiting.append(ActiveSequence(id: id, prompt: request.prompt, state: state, continuation: continuation))
        sharedMetrics.waiting = waiting.count
        sharedMetrics.promptTokens += request.prompt.count
        continuation.onTermination = { [weak self] reason in
            // Fires on consumer cancellation and also after we finish the stream ourselves (harmless then).
            guard let self, case .cancelled = reason else { return }
            self.condition.lock()
            self.cancelledIDs.insert(id)
            self.condition.signal()
            self.condition.unlock()
        }
        condition.signal()
        return stream
    }

    /// Stops accepting requests, then either lets in-flight and waiting requests finish (`cancelInFlight` false)
    /// or ends them at once with a `cancelled` summary, and stops the thread. Returns when the thread has exited.
    public func shutdown(cancelInFlight: Bool) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            condition.lock()
            if stopped {
                condition.unlock()
                c.resume()
                return
            }
            if stopping != .cancel { stopping = cancelInFlight ? .cancel : .finish }
            stopWaiters.append(c)
            condition.signal()
            condition.unlock()
        }
    }

    // MARK: - Scheduler thread

    private func loop() {
        while true {
            condition.lock()
            while waiting.isEmpty && running.isEmpty && cancelledIDs.isEmpty && stopping == nil {
                condition.wait()
            }
            let cancelled = cancelledIDs
            cancelledIDs = []
            var mode = stopping
            var admitted: [ActiveSequence] = []
            if mode == .cancel {
                admitted = waiting
                waiting = []
            } else {
                waiting.removeAll { s in
                    if cancelled.contains(s.id) { admitted.append(s); s.cancelledByClient = true; return true }
                    return false
                }
                // First come, first served, while a slot and the blocks for the whole request are free.
                var committed = running.reduce(0) { $0 + max(0, Self.worstBlocks($1) - ($1.cache?.blockCount ?? 0)) }
                var slots = configuration.parallel - running.count
                while slots > 0, let head = waiting.first {
                    let need = Self.worstBlocks(head)
                    while prefixes.pool.freeBlocks - committed < need && prefixes.evictOne() {}
                    guard prefixes.pool.freeBlocks - committed >= need else { break }
                    admitted.append(waiting.removeFirst())
                    committed += need
                    slots -= 1
                }
            }
            sharedMetrics.waiting = waiting.count
            condition.unlock()

            for s in running where cancelled.contains(s.id) { s.cancelledByClient = true }
            for s in admitted {
                if s.cancelledByClient || mode == .cancel {
                    end(s, cancelled: true)
                } else {
                    admit(s)
                }
            }
            if mode == .cancel {
                for s in running { end(s, cancelled: true) }
                running = []
            }
            running.removeAll { s in
                if s.cancelledByClient { end(s, cancelled: true); return true }
                return false
            }
            if !running.isEmpty { runStep() }

            let kvBytes = (prefixes.pool.capacity - prefixes.pool.freeBlocks) * prefixes.pool.blockBytes
            condition.lock()
            sharedMetrics.running = running.count
            sharedMetrics.kvCacheBytes = kvBytes
            mode = stopping
            if mode != nil && running.isEmpty && (waiting.isEmpty || mode == .cancel) {
                for s in waiting { s.continuation.yield(.finished(summary(s))); s.continuation.finish() }
                waiting = []
                stopped = true
                let waiters = stopWaiters
                stopWaiters = []
                condition.unlock()
                for w in waiters { w.resume() }
                return
            }
            condition.unlock()
        }
    }

    /// Gives `s` a cache (with the longest reusable prefix) and starts its prefill.
    private func admit(_ s: ActiveSequence) {
        if s.state.decoder.finish != nil {
            // max tokens 0: nothing to run.
            end(s, cancelled: true)
            return
        }
        let shareable = running.compactMap { r in
            r.cache.map { CachedTokens(cache: $0, tokens: Array(r.prompt.prefix(r.prefilled))) }
        }
        let (cache, reused) = prefixes.acquire(prompt: s.prompt, running: shareable)
        s.cache = cache
        s.cachedPrompt = reused
        s.prefilled = reused
        running.append(s)
        condition.lock()
        sharedMetrics.cachedPromptTokens += reused
        condition.unlock()
    }

    /// One forward pass: every decoding sequence's next token (with its draft tokens when speculating), plus
    /// prompt chunks within the prefill budget.
    private func runStep() {
        var steps: [SequenceStep] = []
        var members: [ActiveSequence] = []
        var budget = configuration.prefillChunk
        var broken: [ActiveSequence] = []
        for s in running {
            if let next = s.next {
                // Speculating: the drafts ride along like a prefill chunk, with logits at every position.
                s.drafts = []
                if let spec = configuration.speculation {
                    do {
                        if s.drafting == nil {
                            s.drafting = try SpeculativeDrafting(drafter: spec.makeDrafter(), draftMax: spec.draftMax,
                                                                 costAware: spec.costAware)
                        }
                        s.drafts = try s.drafting!.propose(for: s.state.decoder,
                                                           room: s.cache!.maxPositions - s.cache!.count - 1)
                    } catch {
                        fail(s, SchedulerError.modelFailed("the draft model failed: \(error)"))
                        broken.append(s)
                        continue
                    }
                }
                steps.append(SequenceStep(tokens: [next] + s.drafts.map(\.token), cache: s.cache!,
                                          allLogits: !s.drafts.isEmpty))
                members.append(s)
            } else if budget > 0 {
                let n = min(budget, s.prompt.count - s.prefilled)
                steps.append(SequenceStep(tokens: Array(s.prompt[s.prefilled..<(s.prefilled + n)]), cache: s.cache!))
                members.append(s)
                s.chunk = n
                budget -= n
            }
        }
        if !broken.isEmpty { running.removeAll { s in broken.contains { $0 === s } } }
        guard !steps.isEmpty else { return }
        let start = DispatchTime.now().uptimeNanoseconds
        let outputs: [[Float]]
        do {
            outputs = try model.forward(steps)
        } catch {
            for s in members { fail(s, SchedulerError.modelFailed("\(error)")) }
            running.removeAll { s in members.contains { $0 === s } }
            return
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        var generated = 0, drafted = 0, accepted = 0
        var ended: [ActiveSequence] = []
        let vocab = model.info.vocabularySize
        for (s, logits) in zip(members, outputs) {
            let decoding = s.next != nil
            if !decoding {
                s.prefilled += s.chunk
                s.chunk = 0
                if s.prefilled < s.prompt.count { continue }  // more prompt to run
            }
            let before = s.state.decoder.generated.count
            do {
                let delta: GenerationDelta, next: Int?
                if decoding, let drafting = s.drafting {
                    // Verify the drafts, then forget the keys/values past the first rejection (and past the
                    // sequence's end when it finished inside the run).
                    let base = s.cache!.count - s.drafts.count - 1
                    let r = try s.state.step(rows: logits, drafts: s.drafts, vocabularySize: vocab)
                    // The pass's time is this sequence's cost only when it ran alone.
                    drafting.record(drafted: s.drafts.count, accepted: r.accepted,
                                    passSeconds: members.count == 1 ? seconds : nil)
                    s.cache!.truncate(to: min(base + 1 + r.accepted, s.state.decoder.context.count))
                    drafted += s.drafts.count
                    accepted += r.accepted
                    (delta, next) = (r.delta, r.next)
                } else {
                    (delta, next) = try s.state.step(logits)
                }
                if s.firstTokenTime == nil { s.firstTokenTime = DispatchTime.now().uptimeNanoseconds }
                generated += s.state.decoder.generated.count - before
                if !delta.isEmpty { s.continuation.yield(.delta(delta)) }
                if let next { s.next = next } else { ended.append(s) }
            } catch {
                fail(s, error)
                ended.append(s)
            }
        }
        for s in ended where !s.failed { end(s, cancelled: false) }
        running.removeAll { s in ended.contains { $0 === s } }
        condition.lock()
        sharedMetrics.steps += 1
        sharedMetrics.stepSeconds += seconds
        sharedMetrics.lastStepSeconds = seconds
        sharedMetrics.lastStepTokens = steps.reduce(0) { $0 + $1.tokens.count }
        sharedMetrics.generatedTokens += generated
        sharedMetrics.draftedTokens += drafted
        sharedMetrics.acceptedDraftTokens += accepted
        sharedMetrics.running = running.count
        let snapshot = sharedMetrics
        let hook = stepHook
        condition.unlock()
        hook?(snapshot)
    }

    /// Blocks a sequence may hold at most: its prompt and every token it may generate, plus one for a copy on
    /// write of a shared block.
    private static func worstBlocks(_ s: ActiveSequence) -> Int {
        KVBlockPool.blocks(for: s.prompt.count + s.state.decoder.settings.maxTokens) + 1
    }

    private func summary(_ s: ActiveSequence) -> GenerationSummary {
        let ttft = s.firstTokenTime.map { Double($0 - s.submitTime) / 1e9 } ?? 0
        return GenerationSummary(finish: s.state.finish ?? .cancelled, promptTokens: s.prompt.count,
                                 cachedPromptTokens: s.cachedPrompt,
                                 completionTokens: s.state.decoder.generated.count, timeToFirstToken: ttft)
    }

    /// Finishes `s`'s stream (cancelled: flushes held text first) and returns its cache to the prefix cache.
    private func end(_ s: ActiveSequence, cancelled: Bool) {
        if cancelled {
            let tail = s.state.cancel()
            if !s.cancelledByClient && !tail.isEmpty { s.continuation.yield(.delta(tail)) }
        }
        s.continuation.yield(.finished(summary(s)))
        s.continuation.finish()
        release(s)
        condition.lock()
        if s.state.finish == .cancelled { sharedMetrics.cancelled += 1 } else { sharedMetrics.completed += 1 }
        condition.unlock()
    }

    private func fail(_ s: ActiveSequence, _ error: Error) {
        s.failed = true
        s.continuation.finish(throwing: error)
        // The cache may hold a half-written step: do not offer it for reuse.
        s.cache = nil
        condition.lock()
        sharedMetrics.failed += 1
        condition.unlock()
    }

    private func release(_ s: ActiveSequence) {
        guard let cache = s.cache else { return }
        s.cache = nil
        // The cache holds the prompt, then every generated token that was fed back (all but the last).
        let tokens = Array((s.prompt + s.state.decoder.generated).prefix(cache.count))
        if tokens.count == cache.count { prefixes.release(cache, tokens: tokens) }
    }
}

/// One request in flight. Touched by the scheduler thread only (except `id`, set at creation).
private final class ActiveSequence {
    let id: Int
    let prompt: [Int]
    let state: GenerationState
    let continuation: AsyncThrowingStream<GenerationEvent, Error>.Continuation
    let submitTime = DispatchTime.now().uptimeNanoseconds
    var firstTokenTime: UInt64?
    var cache: KVCache?
    /// Prompt tokens reused from the prefix cache, and prompt tokens in the cache so far.
    var cachedPrompt = 0
    var prefilled = 0
    /// Prompt tokens in the step being run.
    var chunk = 0
    /// Token to feed next (decode phase), nil while prefilling.
    var next: Int?
    /// Speculative decoding: the sequence's drafter (made when it starts decoding) and this step's drafts.
    var drafting: SpeculativeDrafting?
    var drafts: [DraftToken] = []
    var cancelledByClient = false
    var failed = false

    init(id: Int, prompt: [Int], state: GenerationState,
         continuation: AsyncThrowingStream<GenerationEvent, Error>.Continuation) {
        self.id = id
        self.prompt = prompt
        self.state = state
        self.continuation = continuation
    }
}
