// The text-level façade: a loaded model plus its tokenizer and chat template, as a user's checkpoint directory
// provides them (tokenizer.model, tokenizer_config.json with added tokens and chat_template).
import Foundation
import PanguChat
import PanguModels
import PanguRuntime
import PanguTokenizer

/// Errors of the engine façade.
public enum EngineError: Error, CustomStringConvertible {
    /// A text command needs a tokenizer the checkpoint directory lacks.
    case noTokenizer(directory: String, reason: String)
    /// The tokenizer and the model disagree (ids beyond the model's vocabulary).
    case tokenizerMismatch(detail: String)
    /// The chat template could not be parsed or rendered.
    case chatTemplate(String)
    /// The prompt does not fit the context.
    case promptTooLong(tokens: Int, contextLength: Int)

    public var description: String {
        switch self {
        case let .noTokenizer(directory, reason): return "no usable tokenizer in \(directory): \(reason)"
        case let .tokenizerMismatch(detail): return "tokenizer does not match the model: \(detail)"
        case let .chatTemplate(detail): return "chat template: \(detail)"
        case let .promptTooLong(tokens, context):
            return "the prompt has \(tokens) tokens but the context length is \(context)"
        }
    }
}

/// A model with its tokenizer and chat template: everything needed to go from text to text.
public final class Engine: @unchecked Sendable {
    /// Model and generation defaults.
    public let loaded: LoadedModel
    /// The tokenizer from `tokenizer.model` + `tokenizer_config.json`.
    public let tokenizer: HuggingFaceTokenizer
    /// The checkpoint's chat templates (chat_template.jinja / tokenizer_config.json), or the built-in Pangu
    /// template when it has none.
    public let templates: ChatTemplateSet
    /// Ids that end a reply: generation_config.json's, config.json's and the tokenizer's EOS.
    public let eosTokenIds: [Int]

    /// Wraps a loaded model, reading the tokenizer from the same directory.
    public init(loaded: LoadedModel) throws {
        self.loaded = loaded
        let dir = loaded.directory
        if let gguf = loaded.gguf {
            tokenizer = try GGUFTokenizer.load(gguf)
        } else {
            guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("tokenizer.model").path) else {
                throw EngineError.noTokenizer(directory: dir.path, reason: "tokenizer.model is missing")
            }
            do { tokenizer = try HuggingFaceTokenizer(directory: dir) } catch {
                throw EngineError.noTokenizer(directory: dir.path, reason: "\(error)")
            }
        }
        let vocab = loaded.model.info.vocabularySize
        if tokenizer.vocabularySize > vocab {
            throw EngineError.tokenizerMismatch(
                detail: "the tokenizer has \(tokenizer.vocabularySize) ids, the model's vocabulary is \(vocab)")
        }
        do {
            if loaded.gguf != nil {
                templates = try ChatTemplateSet(chatTemplateValue: tokenizer.chatTemplate.map { .string($0) }
                                                ?? .string(ChatTemplate.panguSource))
            } else {
                templates = try ChatTemplateSet(checkpointDirectory: dir)
            }
        } catch {
            throw EngineError.chatTemplate("\(error)")
        }
        var eos = loaded.generationConfig.eosTokenIds
        for id in loaded.model.info.eosTokenIds + tokenizer.eosTokenIds where !eos.contains(id) { eos.append(id) }
        eosTokenIds = eos
    }

    /// Loads a checkpoint directory (or the built-in tiny model when nil).
    public convenience init(directory: URL?, prefault: Bool = true, progress: ((Int, Int) -> Void)? = nil) throws {
        let dir = try directory ?? BuiltinModel.directory()
        try self.init(loaded: LoadedModel(directory: dir, prefault: prefault, progress: progress))
    }

    /// The model.
    public var model: LanguageModel { loaded.model }

    /// Streams a plain text completion of `prompt` (no chat template). `onText` gets each UTF-8-complete piece
    /// of text and returns false to stop.
    @discardableResult
    public func complete(_ prompt: String, sampling: SamplingParameters, maxTokens: Int,
                         onText: (String) -> Bool) throws -> (text: String, tokens: [Int], finish: FinishReason) {
        let ids = tokenizer.encode(prompt, addSpecialTokens: true)
        return try stream(promptTokens: ids, cache: model.makeCache(), sampling: sampling, maxTokens: maxTokens,
                          onText: onText)
    }

    /// Appends `promptTokens` to `cache` (which already holds `history`, counted by the repetition penalty) and
    /// streams generated text (special tokens kept, so reasoning markers reach the caller's `ReasoningSplitter`).
    /// With `drafting`, decodes speculatively (Docs/Speculative.md): greedy output is token for token the same.
    func stream(promptTokens: [Int], history: [Int] = [], cache: KVCache, sampling: SamplingParameters,
                maxTokens: Int, drafting: SpeculativeDrafting? = nil,
                onText: (String) -> Bool) throws -> (text: String, tokens: [Int], finish: FinishReason) {
        guard !promptTokens.isEmpty else { throw RuntimeError.invalidRequest("the prompt has no tokens") }
        let needed = cache.count + promptTokens.count
        if needed >= cache.maxPositions {
            throw EngineError.promptTooLong(tokens: needed, contextLength: cache.maxPositions)
        }
        var request = GenerationRequest(prompt: promptTokens, sampling: sampling,
                                        maxTokens: max(0, min(maxTokens, cache.maxPositions - needed)))
        request.splitReasoning = false
        let state = try GenerationState(request: request, history: history, eosTokenIds: eosTokenIds,
                                        tokenizer: tokenizer)
        var text = ""
        var keepGoing = true
        func deliver(_ delta: GenerationDelta) {
            guard !delta.content.isEmpty else { return }
            text += delta.content
            if keepGoing { keepGoing = onText(delta.content) }
        }
        if request.maxTokens > 0 {
            var logits = try model.forward([SequenceStep(tokens: promptTokens, cache: cache)])[0]
            var (delta, next) = try state.step(logits)
            deliver(delta)
            while next != nil {
                if !keepGoing { deliver(state.cancel()); break }
                if let drafting {
                    // The cache holds the sequence but `next`; a round feeds it with the drafts and rolls back.
                    try drafting.round(model: model, cache: cache, decoder: state.decoder) { drafts, rows in
                        let r = try state.step(rows: rows, drafts: drafts, vocabularySize: model.info.vocabularySize)
                        (delta, next) = (r.delta, r.next)
                        return r.accepted
                    }
                } else {
                    logits = try model.forward([SequenceStep(tokens: [next!], cache: cache)])[0]
                    (delta, next) = try state.step(logits)
                }
                deliver(delta)
            }
        } else {
            deliver(state.cancel())
        }
        let finish: FinishReason = keepGoing ? (state.decoder.finish ?? .length) : .cancelled
        return (text, state.decoder.generated, finish)
    }
}
