// The single-sequence generation loop on token ids (used by `pangu generate --token-ids` and tests): prefill the
// prompt as one matrix, then decode one token per step with the KV cache. Token choice and stopping are
// `SequenceDecoder`'s, the same per-sequence state the chat session and the server scheduler use.
import PanguModels

/// Why generation ended.
public enum FinishReason: String, Sendable {
    /// An end-of-sequence token was produced (it is not included in the output), or a stop string was found.
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

    /// Appends `prompt` to `cache` (which may already hold earlier turns, whose ids are `history`: they count for
    /// the repetition penalty) and generates up to `maxTokens` tokens.
    /// `onToken` receives each new token and returns false to stop early.
    /// - Returns: the generated ids (without the EOS) and why generation ended.
    @discardableResult
    public func generate(prompt: [Int], history: [Int] = [], cache: KVCache, sampling: SamplingParameters,
                         maxTokens: Int, onToken: (Int) -> Bool = { _ in true }) throws
        -> (tokens: [Int], finish: FinishReason) {
        guard !prompt.isEmpty else { throw RuntimeError.invalidRequest("the prompt has no tokens") }
        let decoder = try SequenceDecoder(
            context: history + prompt,
            settings: DecodeSettings(sampling: sampling, eosTokenIds: Array(eosTokenIds), maxTokens: max(0, maxTokens)))
        return try SequenceDecoder.run(decoder, model: model, prompt: prompt, cache: cache, onToken: onToken)
    }
}

extension SequenceDecoder {
    /// Drives `decoder` alone: runs `prompt` into `cache`, then one token per forward step until it finishes,
    /// the callback returns false, or the cache is full.
    public static func run(_ decoder: SequenceDecoder, model: LanguageModel, prompt: [Int], cache: KVCache,
                           onToken: (Int) -> Bool) throws -> (tokens: [Int], finish: FinishReason) {
        if let f = decoder.finish { return ([], f) }
        var logits = try model.forward([SequenceStep(tokens: prompt, cache: cache)])[0]
        while true {
            switch try decoder.step(logits) {
            case .end:
                return (decoder.generated, .stop)
            case let .token(id, _, finish):
                if !onToken(id) { decoder.cancel(); return (decoder.generated, .cancelled) }
                if let finish { return (decoder.generated, finish) }
                if cache.count >= cache.maxPositions { return (decoder.generated, .length) }
                logits = try model.forward([SequenceStep(tokens: [id], cache: cache)])[0]
            }
        }
    }
}
