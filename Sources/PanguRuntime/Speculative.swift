// Speculative decoding: a cheap drafter proposes several tokens, the target model checks them all in ONE batched
// forward pass (one read of its weights for k + 1 positions), and the longest acceptable prefix is kept. On a CPU
// whose decode is bound by memory bandwidth, this is the only way past the roofline.
//
// Acceptance keeps the target's output distribution exactly (Leviathan et al. 2023, "Fast Inference from
// Transformers via Speculative Decoding"; Chen et al. 2023): a draft token x drawn from q is accepted with
// probability min(1, p(x)/q(x)); at the first rejection the replacement is drawn from max(0, p − q) renormalised;
// if every draft is accepted, one more token is drawn from the target's next distribution. p and q are the
// distributions the plain sampler would draw from (penalties, temperature, top-k/top-p/min-p applied). A
// deterministic drafter (prompt lookup) is the case q = one-hot. Greedy decoding accepts a draft iff it is the
// target's argmax, so its output is token for token the plain greedy output. Docs/Speculative.md has the details.
import PanguModels

/// A sparse probability distribution over token ids (ids with zero probability left out).
public typealias TokenDistribution = [(id: Int, p: Float)]

/// Proposes tokens continuing a sequence.
public protocol Drafter: AnyObject {
    /// Up to `count` tokens continuing `context` (the whole sequence so far), each with the distribution it was
    /// drawn from, or nil when it was chosen deterministically (then it counts as certain).
    func propose(context: [Int], count: Int, sampling: SamplingParameters) throws -> [(token: Int, q: TokenDistribution?)]
}

/// Drafts by copying: finds the most recent earlier occurrence of the context's last n tokens (n from `ngram`
/// down to 1) and proposes the tokens that followed it. Costs nothing; pays off when the output repeats the
/// input (summaries, edits, code).
public final class PromptLookupDrafter: Drafter {
    /// Longest n-gram matched.
    public let ngram: Int

    /// Creates a drafter matching up to `ngram` tokens.
    public init(ngram: Int) { self.ngram = max(1, ngram) }

    public func propose(context: [Int], count: Int, sampling: SamplingParameters) -> [(token: Int, q: TokenDistribution?)] {
        guard count > 0 else { return [] }
        for n in stride(from: min(ngram, context.count - 1), through: 1, by: -1) {
            let tail = context.suffix(n)
            var start = context.count - n - 1
            while start >= 0 {
                if context[start..<(start + n)].elementsEqual(tail) {
                    let from = start + n
                    return context[from..<min(context.count, from + count)].map { ($0, nil) }
                }
                start -= 1
            }
        }
        return []
    }
}

/// Drafts with a smaller model of the same vocabulary, keeping its own KV cache in step with the sequence.
public final class ModelDrafter: Drafter {
    public let model: LanguageModel
    private let cache: KVCache
    /// Exactly the tokens whose keys/values are in `cache`.
    private var cached: [Int] = []
    private var rng: SeededRandom
    /// How the draft samples, when not as the target does (nil: the target's parameters).
    public let sampling: SamplingParameters?

    /// Creates a drafter; `seed` drives its own draws when sampling.
    public init(model: LanguageModel, sampling: SamplingParameters? = nil, seed: UInt64 = 0x5eed) {
        self.model = model
        self.sampling = sampling
        cache = model.makeCache()
        rng = SeededRandom(seed: seed)
    }

    public func propose(context: [Int], count: Int, sampling target: SamplingParameters) throws -> [(token: Int, q: TokenDistribution?)] {
        let sampling = target.isGreedy ? target : (self.sampling ?? target)
        guard count > 0, !context.isEmpty else { return [] }
        // Reuse the longest common prefix of what is cached; at least one token must run to get logits.
        var keep = 0
        while keep < min(cached.count, context.count - 1) && cached[keep] == context[keep] { keep += 1 }
        cache.truncate(to: keep)
        cached.removeSubrange(keep...)
        let room = cache.maxPositions - context.count
        guard room > 0 else { return [] }
        var feed = Array(context[keep...])
        var seq = context
        var out: [(token: Int, q: TokenDistribution?)] = []
        for _ in 0..<min(count, room) {
            var logits = try model.forward([SequenceStep(tokens: feed, cache: cache)])[0]
            cached += feed
            Sampler.applyRepetitionPenalty(&logits, context: seq, penalty: sampling.repetitionPenalty)
            let token: Int, q: TokenDistribution?
            if sampling.isGreedy {
                token = try SpeculativeMath.argmax(logits)
                q = nil
            } else {
                let dist = try SpeculativeMath.distribution(logits, sampling)
                token = SpeculativeMath.draw(dist, &rng)
                q = dist
            }
            out.append((token, q))
            seq.append(token)
            feed = [token]
        }
        return out
    }
}

/// Counts of one speculative run.
public struct SpeculativeStatistics: Sendable, Equatable {
    /// Draft tokens proposed and accepted, and target forward passes (verification rounds).
    public var drafted = 0, accepted = 0, rounds = 0
    /// Empty counts.
    public init() {}
    /// accepted / drafted.
    public var acceptanceRate: Double { drafted == 0 ? 0 : Double(accepted) / Double(drafted) }
}

/// The generation loop with a drafter. Same contract as `TokenGenerator.generate`.
public struct SpeculativeGenerator {
    public let model: LanguageModel
    public let drafter: Drafter
    public var eosTokenIds: Set<Int>
    /// Most draft tokens per round; the actual count adapts to the recent acceptance.
    public var draftMax: Int

    /// Creates a generator. Throws when the drafter's model has another vocabulary size.
    public init(model: LanguageModel, drafter: Drafter, eosTokenIds: [Int], draftMax: Int) throws {
        if let d = drafter as? ModelDrafter, d.model.info.vocabularySize != model.info.vocabularySize {
            throw RuntimeError.invalidRequest("the draft model's vocabulary has \(d.model.info.vocabularySize) tokens, "
                                              + "the target's \(model.info.vocabularySize): they must be the same")
        }
        guard draftMax >= 1 else { throw RuntimeError.invalidRequest("--draft-max must be at least 1") }
        self.model = model
        self.drafter = drafter
        self.eosTokenIds = Set(eosTokenIds)
        self.draftMax = draftMax
    }

    /// Appends `prompt` to `cache` and generates up to `maxTokens` tokens; `onToken` returns false to stop.
    public func generate(prompt: [Int], cache: KVCache, sampling: SamplingParameters, maxTokens: Int,
                         onToken: (Int) -> Bool = { _ in true })
        throws -> (tokens: [Int], finish: FinishReason, statistics: SpeculativeStatistics) {
        guard !prompt.isEmpty else { throw RuntimeError.invalidRequest("the prompt has no tokens") }
        var stats = SpeculativeStatistics()
        var rng = SeededRandom(seed: sampling.seed ?? UInt64(UInt(bitPattern: ObjectIdentifier(cache).hashValue)))
        var context = prompt, out: [Int] = []
        guard maxTokens > 0 else { return ([], .length, stats) }
        // Emits one token; returns the reason to stop, if any.
        func emit(_ t: Int) -> FinishReason? {
            if eosTokenIds.contains(t) { return .stop }
            out.append(t)
            context.append(t)
            if !onToken(t) { return .cancelled }
            if out.count >= maxTokens { return .length }
            return nil
        }
        var logits = try model.forward([SequenceStep(tokens: prompt, cache: cache)])[0]
        if let f = emit(try SpeculativeMath.sample(logits, context: context, sampling, &rng)) { return (out, f, stats) }
        var k = draftMax
        while true {
            // The last emitted token is not in the cache yet: it runs together with the drafts.
            let room = cache.maxPositions - cache.count - 1
            if room < 0 { return (out, .length, stats) }
            let drafts = try drafter.propose(context: context, count: min(k, room, maxTokens - out.count), sampling: sampling)
            let base = cache.count
            let rows = try model.forward([SequenceStep(tokens: [context.last!] + drafts.map(\.token), cache: cache,
                                                       allLogits: true)])[0]
            stats.rounds += 1
            stats.drafted += drafts.count
            let vocab = model.info.vocabularySize
            var accepted = 0
            var next: Int? = nil
            for (i, d) in drafts.enumerated() {
                logits = Array(rows[(i * vocab)..<((i + 1) * vocab)])
                let ctx = context + drafts[0..<i].map(\.token)
                if let y = try SpeculativeMath.verify(d.token, q: d.q, logits: logits, context: ctx, sampling, &rng) {
                    next = y
                    break
                }
                accepted += 1
            }
            if next == nil {
                logits = Array(rows[(drafts.count * vocab)...])
                next = try SpeculativeMath.sample(logits, context: context + drafts.map(\.token), sampling, &rng)
            }
            stats.accepted += accepted
            // Keep the last token and the accepted drafts; forget the rejected ones.
            cache.truncate(to: base + 1 + accepted)
            k = accepted == drafts.count ? min(draftMax, k + 1) : max(1, accepted + 1)
            for t in drafts.prefix(accepted).map(\.token) + [next!] {
                if let f = emit(t) {
                    // Accepted drafts after the stop were never shown: the cache keeps a prefix of prompt + out.
                    cache.truncate(to: min(cache.count, prompt.count + out.count))
                    return (out, f, stats)
                }
            }
        }
    }
}

/// The sampling steps shared by the verifier and the model drafter.
enum SpeculativeMath {
    /// Throws unless every logit is a number or −∞ (masked) and at least one is finite.
    static func check(_ logits: [Float]) throws {
        var finite = false
        for (i, l) in logits.enumerated() {
            if l.isNaN || l == .infinity {
                throw RuntimeError.invalidRequest("the model produced a non-finite logit (\(l)) for token \(i)")
            }
            if l.isFinite { finite = true }
        }
        if !finite { throw RuntimeError.invalidRequest("every token is masked: no token can follow") }
    }

    static func argmax(_ logits: [Float]) throws -> Int {
        try check(logits)
        return Sampler.argmax(logits)
    }

    static func distribution(_ logits: [Float], _ s: SamplingParameters) throws -> TokenDistribution {
        try check(logits)
        return Sampler.filteredProbabilities(logits, s)
    }

    /// A draw from `dist` (most likely first).
    static func draw(_ dist: TokenDistribution, _ rng: inout SeededRandom) -> Int {
        var u = rng.nextUnitFloat()
        for (id, p) in dist {
            u -= p
            if u < 0 { return id }
        }
        return dist.last!.id
    }

    /// The next token from target logits, as the plain sampler would choose it.
    static func sample(_ logits: [Float], context: [Int], _ s: SamplingParameters, _ rng: inout SeededRandom) throws -> Int {
        var l = logits
        Sampler.applyRepetitionPenalty(&l, context: context, penalty: s.repetitionPenalty)
        return s.isGreedy ? try SpeculativeMath.argmax(l) : draw(try SpeculativeMath.distribution(l, s), &rng)
    }

    /// Checks draft `x` against the target: nil when accepted, otherwise the replacement token.
    static func verify(_ x: Int, q: TokenDistribution?, logits: [Float], context: [Int], _ s: SamplingParameters,
                       _ rng: inout SeededRandom) throws -> Int? {
        var l = logits
        Sampler.applyRepetitionPenalty(&l, context: context, penalty: s.repetitionPenalty)
        if s.isGreedy {
            let best = try SpeculativeMath.argmax(l)
            return best == x ? nil : best
        }
        let p = try SpeculativeMath.distribution(l, s)
        var pMap: [Int: Float] = [:]
        for (id, v) in p { pMap[id] = v }
        var qMap: [Int: Float] = [:]
        if let q { for (id, v) in q { qMap[id] = v } } else { qMap[x] = 1 }
        let px = pMap[x] ?? 0, qx = qMap[x] ?? 0
        if qx > 0 && rng.nextUnitFloat() < min(1, px / qx) { return nil }
        // Rejected: draw from the normalised positive part of p − q.
        var residual: TokenDistribution = []
        var total: Float = 0
        for (id, v) in p {
            let r = v - (qMap[id] ?? 0)
            if r > 0 { residual.append((id, r)); total += r }
        }
        guard total > 0 else { return draw(p, &rng) }
        return draw(residual.map { ($0.id, $0.p / total) }, &rng)
    }
}
