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
//
// The acceptance test itself is per sequence and lives with the per-sequence state (`SequenceDecoder.step(_:draft:q:)`
// and `verify` below), so `pangu generate`, chat sessions and the server's scheduler share one implementation;
// `SpeculativeDrafting` holds a sequence's drafter and adaptive draft length, and `round` runs one round on a
// sequence that has a cache of its own (the scheduler batches the target pass itself).
import Foundation
import PanguModels

/// A sparse probability distribution over token ids (ids with zero probability left out).
public typealias TokenDistribution = [(id: Int, p: Float)]

/// A proposed token and the distribution it was drawn from (nil: chosen deterministically).
public typealias DraftToken = (token: Int, q: TokenDistribution?)

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
            try SpeculativeMath.check(logits, position: seq.count)
            Sampler.applyRepetitionPenalty(&logits, context: seq, penalty: sampling.repetitionPenalty)
            let token: Int, q: TokenDistribution?
            if sampling.isGreedy {
                token = Sampler.argmax(logits)
                q = nil
            } else {
                let dist = Sampler.filteredProbabilities(logits, sampling)
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

extension SequenceDecoder {
    /// One speculative round of this sequence: `rows` holds the target's raw logits ([drafts.count + 1, vocab])
    /// for the position of the last emitted token and of every draft, all computed in one forward pass. Drafts are
    /// checked in order (`step(_:draft:q:)`); at the first rejection the replacement token ends the round, and when
    /// every draft is accepted one more token comes from the last row. `onStep` receives every step in order and
    /// returns false to end the round early (e.g. a stop string completed). Returns the drafts accepted: the
    /// target's keys/values of `[last] + drafts.prefix(accepted)` are valid, those after must be rolled back.
    public func verify(drafts: [DraftToken], rows: [Float], vocabularySize v: Int,
                       onStep: (DecodeStep) throws -> Bool) throws -> Int {
        guard v > 0, rows.count == (drafts.count + 1) * v else {
            throw RuntimeError.invalidRequest("speculative verification got \(rows.count) logits for "
                                              + "\(drafts.count + 1) positions of \(v) tokens")
        }
        var accepted = 0
        for (i, d) in drafts.enumerated() {
            let (s, ok) = try step(Array(rows[(i * v)..<((i + 1) * v)]), draft: d.token, q: d.q)
            let go = try onStep(s)
            guard ok else { return accepted }
            accepted += 1
            if !go || finish != nil { return accepted }
        }
        _ = try onStep(try step(Array(rows[(drafts.count * v)...])))
        return accepted
    }
}

/// The drafting side of one sequence: its drafter, the adaptive draft length and the counts.
public final class SpeculativeDrafting {
    /// Proposes the tokens.
    public let drafter: Drafter
    /// Most draft tokens per round.
    public var draftMax: Int { policy.draftMax }
    /// Draft tokens asked for next round (0: a plain round), chosen by `DraftLengthPolicy` from the measured
    /// acceptance and costs.
    public var draftCount: Int { policy.next }
    /// Counts so far.
    public private(set) var statistics = SpeculativeStatistics()
    private var policy: DraftLengthPolicy
    /// Seconds the drafter took for the last proposal.
    private var lastDraftSeconds: Double?

    /// Creates the state; throws unless `draftMax` ≥ 1. `costAware` false: the draft length follows acceptance
    /// alone and never measures time (so a sampled run is reproducible for a seed).
    public init(drafter: Drafter, draftMax: Int, costAware: Bool = true) throws {
        guard draftMax >= 1 else { throw RuntimeError.invalidRequest("--draft-max must be at least 1") }
        self.drafter = drafter
        policy = DraftLengthPolicy(draftMax: draftMax, costAware: costAware)
    }

    /// Checks that a draft model has the target's vocabulary size.
    public static func check(_ drafter: Drafter, target: LanguageModel) throws {
        if let d = drafter as? ModelDrafter, d.model.info.vocabularySize != target.info.vocabularySize {
            throw RuntimeError.invalidRequest("the draft model's vocabulary has \(d.model.info.vocabularySize) tokens, "
                                              + "the target's \(target.info.vocabularySize): they must be the same")
        }
    }

    /// Drafts continuing `decoder`'s sequence: at most `room` (cache positions left after the last token) and
    /// never more than the tokens the sequence may still generate.
    public func propose(for decoder: SequenceDecoder, room: Int) throws -> [DraftToken] {
        let n = min(draftCount, room, decoder.settings.maxTokens - decoder.generated.count)
        lastDraftSeconds = nil
        guard n > 0, decoder.finish == nil else { return [] }
        let start = DispatchTime.now().uptimeNanoseconds
        let drafts = Array(try drafter.propose(context: decoder.context, count: n,
                                               sampling: decoder.settings.sampling).prefix(n))
        lastDraftSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return drafts
    }

    /// Records a verified round of `drafted` proposals of which `accepted` were kept; `passSeconds`: how long the
    /// target's pass over the last token and the drafts took (nil when not measured, e.g. shared with other
    /// sequences; the draft length then follows acceptance alone).
    public func record(drafted: Int, accepted: Int, passSeconds: Double? = nil) {
        statistics.rounds += 1
        statistics.drafted += drafted
        statistics.accepted += accepted
        policy.record(drafted: drafted, accepted: accepted, draftSeconds: lastDraftSeconds, passSeconds: passSeconds)
    }

    /// One round on a sequence with a cache of its own: `cache` holds the sequence (`decoder.context`) but its
    /// last token; proposes drafts, runs the target once on that token plus the drafts with logits at every
    /// position, lets `verify` check them (`SequenceDecoder.verify`, or `GenerationState`'s text-level wrapper;
    /// it returns the accepted count) and rolls the cache back past the first rejection (or to the sequence's
    /// end when it finished inside the round).
    public func round(model: LanguageModel, cache: KVCache, decoder: SequenceDecoder,
                      verify: (_ drafts: [DraftToken], _ rows: [Float]) throws -> Int) throws {
        guard let last = decoder.context.last, cache.count == decoder.context.count - 1 else {
            throw RuntimeError.invalidRequest("speculative round: the cache holds \(cache.count) positions for a "
                                              + "sequence of \(decoder.context.count) tokens")
        }
        let drafts = try propose(for: decoder, room: cache.maxPositions - cache.count - 1)
        let base = cache.count
        let start = DispatchTime.now().uptimeNanoseconds
        let rows = try model.forward([SequenceStep(tokens: [last] + drafts.map(\.token), cache: cache,
                                                   allLogits: true)])[0]
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let accepted = try verify(drafts, rows)
        record(drafted: drafts.count, accepted: accepted, passSeconds: seconds)
        cache.truncate(to: min(base + 1 + accepted, decoder.context.count))
    }
}

/// The generation loop with a drafter. Same contract as `TokenGenerator.generate`.
public struct SpeculativeGenerator {
    public let model: LanguageModel
    public let drafter: Drafter
    public var eosTokenIds: Set<Int>
    /// Most draft tokens per round; the actual count adapts to the measured acceptance and costs.
    public var draftMax: Int
    /// Whether the draft length uses measured times (`SpeculativeDrafting.init`).
    public var costAware = true

    /// Creates a generator. Throws when the drafter's model has another vocabulary size.
    public init(model: LanguageModel, drafter: Drafter, eosTokenIds: [Int], draftMax: Int) throws {
        try SpeculativeDrafting.check(drafter, target: model)
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
        let drafting = try SpeculativeDrafting(drafter: drafter, draftMax: draftMax, costAware: costAware)
        let decoder = try SequenceDecoder(context: prompt, settings: DecodeSettings(
            sampling: sampling, eosTokenIds: Array(eosTokenIds), maxTokens: maxTokens))
        guard decoder.finish == nil else { return ([], .length, drafting.statistics) }
        func take(_ s: DecodeStep) -> Bool {
            if case let .token(id, _, _) = s, !onToken(id) { decoder.cancel() }
            return decoder.finish == nil
        }
        let start = cache.count
        _ = take(try decoder.step(try model.forward([SequenceStep(tokens: prompt, cache: cache)])[0]))
        var full = false
        while decoder.finish == nil {
            // The last token must fit to be run: the context is full.
            if cache.count >= cache.maxPositions { full = true; break }
            try drafting.round(model: model, cache: cache, decoder: decoder) { drafts, rows in
                try decoder.verify(drafts: drafts, rows: rows, vocabularySize: model.info.vocabularySize, onStep: take)
            }
        }
        // The cache keeps a prefix of prompt + output, like plain decoding leaves it.
        cache.truncate(to: min(cache.count, start + decoder.context.count))
        return (decoder.generated, full ? .length : (decoder.finish ?? .length), drafting.statistics)
    }
}

/// The sampling steps shared by the verifier and the model drafter.
enum SpeculativeMath {
    /// Throws `DecodeError.nonFiniteLogits` unless every logit is finite (`position`: where in the sequence).
    static func check(_ logits: [Float], position: Int) throws {
        if let bad = logits.firstIndex(where: { !$0.isFinite }) {
            throw DecodeError.nonFiniteLogits(token: bad, position: position, value: logits[bad])
        }
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

    /// Checks draft `x`, drawn from `q` (nil: deterministically), against the target's distribution `p`: nil
    /// when accepted (probability min(1, p(x)/q(x))), otherwise the replacement drawn from max(0, p − q)
    /// renormalised.
    static func verify(_ x: Int, q: TokenDistribution?, p: TokenDistribution, _ rng: inout SeededRandom) -> Int? {
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
