// The generation loop on token ids: prefill the prompt as one matrix, then decode one token per step with the
// KV cache, sampling each token and stopping on an EOS id or the token budget.
import PanguModels

/// Why generation ended.
public enum FinishReason: String, Sendable {
    /// An end-of-sequence token was produced (it is not included in the output).
    case stop
    /// The token budget was used up.
    case length
    /// The callback asked to stop.
    case cancelled
}

/// Runs prompt + decode loops for one sequence.
public struct TokenGenerator {
    /// The model.
    public let model: LanguageModel
    /// Ids that end generation.
    public var eosTokenIds: Set<Int>

    /// Creates a generator.
    public init(model: LanguageModel, eosTokenIds: [Int]) {
        self.model = model
        self.eosTokenIds = Set(eosTokenIds)
    }

    /// Appends `prompt` to `cache` (which may already hold earlier turns) and generates up to `maxTokens` tokens.
    /// `onToken` receives each new token and returns false to stop early.
    /// - Returns: the generated ids (without the EOS) and why generation ended.
    @discardableResult
    public func generate(prompt: [Int], cache: KVCache, sampling: SamplingParameters, maxTokens: Int,
                         onToken: (Int) -> Bool = { _ in true }) throws -> (tokens: [Int], finish: FinishReason) {
        guard !prompt.isEmpty else { throw RuntimeError.invalidRequest("the prompt has no tokens") }
        var sampler = Sampler(sampling)
        var context = prompt
        var out: [Int] = []
        guard maxTokens > 0 else { return ([], .length) }
        var logits = try model.forward([SequenceStep(tokens: prompt, cache: cache)])[0]
        while true {
            let next = sampler.sample(logits, context: context)
            if eosTokenIds.contains(next) { return (out, .stop) }
            out.append(next)
            context.append(next)
            if !onToken(next) { return (out, .cancelled) }
            if out.count >= maxTokens { return (out, .length) }
            if cache.count >= cache.maxPositions { return (out, .length) }
            logits = try model.forward([SequenceStep(tokens: [next], cache: cache)])[0]
        }
    }
}
