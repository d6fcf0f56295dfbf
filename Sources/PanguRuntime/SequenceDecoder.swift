// The token-level state of one sequence being generated: everything that turns a row of logits into the next
// token and decides when to stop. The CLI, chat sessions and the server scheduler all drive this one type, so a
// request behaves the same whichever front end runs it.
//
// Per step, in this order: reject non-finite logits; log-probabilities of the raw logits (when asked); the
// repetition penalty (Hugging Face, over the whole sequence: cached prefix, prompt and output); OpenAI presence
// and frequency penalties (also over the whole sequence); the logits constraint's mask; then the sampler
// (temperature, top-k, top-p, min-p, draw from this sequence's own seeded generator). See Docs/Serving.md.
import Foundation

/// Errors that end one sequence during generation (the others in a batch go on).
public enum DecodeError: Error, CustomStringConvertible, Equatable {
    /// The model produced NaN or ±inf (e.g. a checkpoint with broken weights): sampling would be meaningless.
    case nonFiniteLogits(token: Int, position: Int, value: Float)
    /// The logits constraint rejected every token or threw.
    case constraintFailed(String)

    public var description: String {
        switch self {
        case let .nonFiniteLogits(token, position, value):
            return "the model produced a non-finite logit (\(value)) for token \(token) at position \(position); "
                + "the weights are probably corrupt"
        case let .constraintFailed(detail): return "constrained decoding failed: \(detail)"
        }
    }
}

/// Log-probability of one generated token and of the most likely alternatives, on token ids.
public struct TokenLogprobs: Sendable, Equatable {
    /// The chosen token.
    public var token: Int
    /// log softmax(raw logits)[token].
    public var logprob: Float
    /// The `n` most likely tokens with their log-probabilities, most likely first (ties: lower id first).
    public var top: [(token: Int, logprob: Float)]

    public static func == (a: TokenLogprobs, b: TokenLogprobs) -> Bool {
        a.token == b.token && a.logprob == b.logprob && a.top.map(\.token) == b.top.map(\.token)
            && a.top.map(\.logprob) == b.top.map(\.logprob)
    }
}

/// What one step of a `SequenceDecoder` produced.
public enum DecodeStep: Sendable, Equatable {
    /// A new token to emit and feed back to the model. `finish` is set when it is also the last one (budget).
    case token(Int, logprobs: TokenLogprobs?, finish: FinishReason?)
    /// An end-of-sequence id was drawn: nothing to emit, the sequence is over.
    case end(logprobs: TokenLogprobs?)
}

/// Settings of one sequence at token level.
public struct DecodeSettings: Sendable {
    /// Sampler settings (seed included).
    public var sampling: SamplingParameters
    /// OpenAI penalties: `presence` is subtracted once from every token present in the sequence, `frequency`
    /// once per occurrence (0 = off).
    public var presencePenalty: Float = 0
    public var frequencyPenalty: Float = 0
    /// Ids that end the sequence (not emitted).
    public var eosTokenIds: Set<Int>
    /// Cap on emitted tokens.
    public var maxTokens: Int
    /// nil: no log-probabilities; n ≥ 0: the chosen token's and the n most likely ones.
    public var logprobs: Int?

    /// Creates settings.
    public init(sampling: SamplingParameters, eosTokenIds: [Int], maxTokens: Int, logprobs: Int? = nil) {
        self.sampling = sampling
        self.eosTokenIds = Set(eosTokenIds)
        self.maxTokens = maxTokens
        self.logprobs = logprobs
    }
}

/// Turns logits into tokens for one sequence, keeping the whole sequence for penalties.
public final class SequenceDecoder {
    /// The settings.
    public let settings: DecodeSettings
    /// Restricts the next token (constrained decoding), or nil.
    public let constraint: LogitsConstraint?
    /// Every token of the sequence so far: cached prefix, prompt, then generated tokens.
    public private(set) var context: [Int]
    /// Tokens generated so far (emitted ones; an end-of-sequence id is not included).
    public private(set) var generated: [Int] = []
    /// Why the sequence ended, once it has.
    public private(set) var finish: FinishReason?
    private var sampler: Sampler
    /// Occurrences of each id in `context` (for the presence/frequency penalties).
    private var counts: [Int: Int] = [:]

    /// Starts a sequence whose tokens so far (cached prefix included) are `context`.
    public init(context: [Int], settings: DecodeSettings, constraint: LogitsConstraint? = nil) throws {
        guard settings.maxTokens >= 0 else { throw RuntimeError.invalidRequest("max tokens must be ≥ 0, got \(settings.maxTokens)") }
        if let n = settings.logprobs, n < 0 { throw RuntimeError.invalidRequest("top logprobs must be ≥ 0, got \(n)") }
        let s = settings.sampling
        if !s.repetitionPenalty.isFinite || s.repetitionPenalty <= 0 {
            throw RuntimeError.invalidRequest("repetition penalty must be a positive number, got \(s.repetitionPenalty)")
        }
        // The sampler divides by the temperature and sorts by probability: NaN or out-of-range settings would
        // make it meaningless (or empty its candidate list), so they are rejected here.
        guard s.temperature.isFinite, s.temperature >= 0 else {
            throw RuntimeError.invalidRequest("temperature must be a number ≥ 0, got \(s.temperature)")
        }
        guard s.topP.isFinite, s.topP >= 0, s.topP <= 1 else {
            throw RuntimeError.invalidRequest("top_p must be between 0 and 1, got \(s.topP)")
        }
        guard s.minP.isFinite, s.minP >= 0, s.minP <= 1 else {
            throw RuntimeError.invalidRequest("min_p must be between 0 and 1, got \(s.minP)")
        }
        guard s.topK >= 0 else { throw RuntimeError.invalidRequest("top_k must be ≥ 0, got \(s.topK)") }
        if !settings.presencePenalty.isFinite || !settings.frequencyPenalty.isFinite {
            throw RuntimeError.invalidRequest("presence and frequency penalties must be finite numbers")
        }
        self.settings = settings
        self.constraint = constraint
        self.context = context
        sampler = Sampler(s)
        for id in context { counts[id, default: 0] += 1 }
        if settings.maxTokens == 0 { finish = .length }
    }

    /// Marks the sequence as ended early (client gone, callback said stop).
    public func cancel() { if finish == nil { finish = .cancelled } }

    /// Marks the sequence as ended by a stop string found in its text.
    public func stopByText() { if finish == nil || finish == .length { finish = .stop } }

    /// Chooses the next token from `logits` ([vocab], the model's raw output for the last position).
    /// Throws `DecodeError.nonFiniteLogits` when the model produced NaN or ±inf, and
    /// `DecodeError.constraintFailed` when the constraint rejects every token or throws.
    public func step(_ logits: [Float]) throws -> DecodeStep {
        let l = try processed(logits)
        return try commit(sampler.sample(l), raw: logits)
    }

    /// One verification position of speculative decoding (Docs/Speculative.md): `logits` are the target's raw
    /// logits for the position where `draft` was proposed, drawn from `q` (nil: chosen deterministically, as
    /// prompt lookup and greedy drafting do). Greedy: the draft is accepted iff it is the argmax. Sampling: it is
    /// accepted with probability min(1, p/q), otherwise the token is drawn from the normalised max(0, p − q),
    /// so the emitted tokens follow exactly the distribution `step` samples from. Returns the step for the token
    /// actually chosen (the draft when accepted) and whether the draft was accepted.
    public func step(_ logits: [Float], draft: Int, q: TokenDistribution?) throws -> (step: DecodeStep, accepted: Bool) {
        let l = try processed(logits)
        let s = settings.sampling
        let chosen: Int
        if s.isGreedy {
            chosen = Sampler.argmax(l)
        } else {
            let p = Sampler.filteredProbabilities(l, s)
            chosen = SpeculativeMath.verify(draft, q: q, p: p, &sampler.rng) ?? draft
        }
        return (try commit(chosen, raw: logits), chosen == draft)
    }

    /// The logits after the finiteness check, penalties and the constraint's mask: what the sampler draws from.
    private func processed(_ logits: [Float]) throws -> [Float] {
        guard finish == nil else { throw RuntimeError.invalidRequest("the sequence has already ended") }
        if let bad = logits.firstIndex(where: { !$0.isFinite }) {
            throw DecodeError.nonFiniteLogits(token: bad, position: context.count, value: logits[bad])
        }
        var l = logits
        let penalty = settings.sampling.repetitionPenalty
        if penalty != 1 {
            // Same rule as `Sampler.applyRepetitionPenalty`, over the distinct ids kept in `counts` (no O(context)
            // set per token).
            for id in counts.keys where id >= 0 && id < l.count {
                l[id] = l[id] > 0 ? l[id] / penalty : l[id] * penalty
            }
        }
        if settings.presencePenalty != 0 || settings.frequencyPenalty != 0 {
            for (id, n) in counts where id >= 0 && id < l.count {
                l[id] -= settings.presencePenalty + settings.frequencyPenalty * Float(n)
            }
        }
        if let constraint {
            constraint.mask(&l)
            guard l.contains(where: { $0 > -Float.infinity }) else {
                throw DecodeError.constraintFailed("the constraint allows no token at position \(context.count)")
            }
        }
        if l.contains(where: { $0.isNaN }) {
            throw DecodeError.constraintFailed("the constraint left NaN logits at position \(context.count)")
        }
        return l
    }

    /// Records the chosen token `id` (end of sequence, constraint, context, budget).
    private func commit(_ id: Int, raw logits: [Float]) throws -> DecodeStep {
        let lp = settings.logprobs.map { SequenceDecoder.logprobs(logits, chosen: id, top: $0) }
        if settings.eosTokenIds.contains(id) {
            finish = .stop
            return .end(logprobs: lp)
        }
        if let constraint {
            do { try constraint.accept(id) } catch {
                throw DecodeError.constraintFailed("token \(id) at position \(context.count): \(error)")
            }
        }
        context.append(id)
        counts[id, default: 0] += 1
        generated.append(id)
        if generated.count >= settings.maxTokens { finish = .length }
        return .token(id, logprobs: lp, finish: finish)
    }

    /// log_softmax(logits)[chosen] and the `top` largest entries (computed in Double, rounded to Float).
    public static func logprobs(_ logits: [Float], chosen: Int, top: Int) -> TokenLogprobs {
        let m = logits.max() ?? 0
        var sum = 0.0
        for x in logits { sum += exp(Double(x - m)) }
        let logZ = Double(m) + log(sum)
        func lp(_ i: Int) -> Float { Float(Double(logits[i]) - logZ) }
        var best: [(token: Int, logprob: Float)] = []
        if top > 0 {
            func before(_ a: (Int, Float), _ b: (Int, Float)) -> Bool { a.1 > b.1 || (a.1 == b.1 && a.0 < b.0) }
            var kept: [(Int, Float)] = []
            if top >= 64 {
                // Many alternatives: one sort of the whole vocabulary.
                kept = Array(logits.enumerated().map { ($0.offset, $0.element) }.sorted(by: before).prefix(top))
            } else {
                // Few: keep a sorted list of the best `top`, inserting by shifting (ties: lower id first).
                kept.reserveCapacity(top + 1)
                for (i, x) in logits.enumerated() where kept.count < top || before((i, x), kept[kept.count - 1]) {
                    var j = kept.count
                    kept.append((i, x))
                    while j > 0 && before(kept[j], kept[j - 1]) { kept.swapAt(j, j - 1); j -= 1 }
                    if kept.count > top { kept.removeLast() }
                }
            }
            best = kept.map { (token: $0.0, logprob: lp($0.0)) }
        }
        return TokenLogprobs(token: chosen, logprob: lp(chosen), top: best)
    }
}
