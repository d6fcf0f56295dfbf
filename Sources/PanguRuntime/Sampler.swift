// Turning logits into the next token. Order follows Hugging Face's logits processors: repetition penalty,
// then temperature, top-k, top-p, min-p, then a draw from the softmax. Temperature 0 (or doSample false) is greedy.
import Foundation

/// How to pick tokens.
public struct SamplingParameters: Sendable, Equatable {
    /// 0 means greedy.
    public var temperature: Float = 1
    /// Keep only the k most likely tokens (0 = off).
    public var topK: Int = 0
    /// Keep the smallest set of tokens whose probability reaches p (1 = off).
    public var topP: Float = 1
    /// Drop tokens less likely than minP × the top probability (0 = off).
    public var minP: Float = 0
    /// > 1 discourages tokens already in the context (CTRL-style, as Hugging Face).
    public var repetitionPenalty: Float = 1
    /// Seed for the random draw; nil = seeded from the clock.
    public var seed: UInt64?
    /// False forces greedy decoding whatever the temperature (Hugging Face's `do_sample`).
    public var doSample: Bool = true

    /// Creates parameters (defaults: plain sampling at temperature 1).
    public init(temperature: Float = 1, topK: Int = 0, topP: Float = 1, minP: Float = 0,
                repetitionPenalty: Float = 1, seed: UInt64? = nil, doSample: Bool = true) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.seed = seed
        self.doSample = doSample
    }

    /// Greedy decoding.
    public static let greedy = SamplingParameters(temperature: 0, doSample: false)

    /// True when the choice is the argmax.
    public var isGreedy: Bool { !doSample || temperature <= 0 }
}

/// Picks tokens from logits according to `SamplingParameters`, deterministically for a given seed.
public struct Sampler: Sendable {
    /// The parameters.
    public let parameters: SamplingParameters
    /// The generator behind the draws (module-internal: the speculative verifier draws from it too).
    var rng: SeededRandom

    /// Creates a sampler.
    public init(_ parameters: SamplingParameters) {
        self.parameters = parameters
        rng = SeededRandom(seed: parameters.seed ?? UInt64(Date().timeIntervalSince1970 * 1e6))
    }

    /// Applies the repetition penalty to `logits` in place for every distinct token in `context`.
    public static func applyRepetitionPenalty(_ logits: inout [Float], context: [Int], penalty: Float) {
        guard penalty != 1 else { return }
        for id in Set(context) where id >= 0 && id < logits.count {
            logits[id] = logits[id] > 0 ? logits[id] / penalty : logits[id] * penalty
        }
    }

    /// Chooses the next token from `logits` ([vocab]); `context` holds the tokens so far (for the penalty).
    public mutating func sample(_ logits: [Float], context: [Int] = []) -> Int {
        var l = logits
        Sampler.applyRepetitionPenalty(&l, context: context, penalty: parameters.repetitionPenalty)
        if parameters.isGreedy { return Sampler.argmax(l) }
        let candidates = Sampler.filteredProbabilities(l, parameters)
        var u = rng.nextUnitFloat()
        for (id, p) in candidates {
            u -= p
            if u < 0 { return id }
        }
        return candidates.last!.id
    }

    /// Index of the largest value (first on ties, like torch.argmax).
    public static func argmax(_ x: [Float]) -> Int {
        var best = 0
        for i in 1..<x.count where x[i] > x[best] { best = i }
        return best
    }

    /// The candidates that survive temperature, top-k, top-p and min-p, with renormalised probabilities,
    /// most likely first.
    public static func filteredProbabilities(_ logits: [Float], _ p: SamplingParameters) -> [(id: Int, p: Float)] {
        let t = max(p.temperature, 1e-6)
        // Tokens more than 40 nats below the best carry < e^-40 of its probability: far below Float precision of
        // the normalising sum, so dropping them before the sort changes no result and skips sorting the vocabulary.
        let best = (logits.max() ?? 0) / t
        var items: [(id: Int, logit: Float)] = []
        for (id, l) in logits.enumerated() where l / t >= best - 40 { items.append((id, l / t)) }
        items.sort { $0.logit > $1.logit || ($0.logit == $1.logit && $0.id < $1.id) }
        if p.topK > 0 && p.topK < items.count { items.removeSubrange(p.topK...) }
        let m = items[0].logit
        var probs = items.map { expf($0.logit - m) }
        var sum = probs.reduce(0, +)
        for i in probs.indices { probs[i] /= sum }
        var keep = probs.count
        if p.topP < 1 {
            // Keep the smallest prefix whose mass reaches top_p (at least one token).
            var acc: Float = 0
            for i in probs.indices {
                acc += probs[i]
                if acc >= p.topP { keep = i + 1; break }
            }
        }
        if p.minP > 0 {
            let threshold = p.minP * probs[0]
            var n = 0
            while n < keep && probs[n] >= threshold { n += 1 }
            keep = max(1, n)
        }
        sum = probs[0..<keep].reduce(0, +)
        return (0..<keep).map { (id: items[$0].id, p: probs[$0] / sum) }
    }
}
