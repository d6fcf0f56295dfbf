// A multi-turn conversation that keeps its KV cache between turns: each turn renders the whole conversation with
// the chat template, tokenizes it, reuses the longest prefix already in the cache and only runs the new tokens.
import Foundation
import PanguChat
import PanguModels
import PanguRuntime

/// One assistant reply.
public struct ChatReply: Sendable {
    /// Reasoning text (between the think markers), trimmed.
    public var reasoning: String
    /// The answer, trimmed.
    public var content: String
    /// Everything the model generated, markers included.
    public var raw: String
    /// Why generation ended.
    public var finish: FinishReason
    /// Prompt tokens processed this turn (after cache reuse) and tokens generated.
    public var promptTokens: Int, reusedTokens: Int, generatedTokens: Int
}

/// A conversation with a model, reusing the KV cache across turns.
public final class ChatSession {
    /// The engine.
    public let engine: Engine
    /// The conversation so far (system, user and assistant turns).
    public private(set) var messages: [ChatMessage] = []
    /// Thinking mode applied to every user turn.
    public var thinking: ThinkingMode
    /// Sampling parameters.
    public var sampling: SamplingParameters
    /// Cap on tokens per reply.
    public var maxTokens: Int
    /// Speculative decoding for every reply (nil: plain decoding). A model drafter keeps its own cache across
    /// turns, reusing its prefix like the session's. Check a draft model's vocabulary first (`Engine.checkDraft`,
    /// `SpeculativeDrafting.check`).
    public var drafting: SpeculativeDrafting?
    private let cache: KVCache
    /// Exactly the tokens whose keys/values are in `cache`.
    private var cachedTokens: [Int] = []

    /// Starts a conversation, optionally with a system prompt.
    public init(engine: Engine, system: String? = nil, thinking: ThinkingMode = .slow, sampling: SamplingParameters,
                maxTokens: Int = 2048) {
        self.engine = engine
        self.thinking = thinking
        self.sampling = sampling
        self.maxTokens = maxTokens
        cache = engine.model.makeCache()
        if let system, !system.isEmpty { messages.append(.system(system)) }
    }

    /// Tokens currently held in the KV cache.
    public var cachedTokenCount: Int { cache.count }

    /// Sends a user message and streams the reply: `onDelta` receives reasoning and answer text separately as it
    /// is generated and returns false to stop (the partial reply is kept in the conversation).
    public func send(_ text: String, onDelta: (ReasoningDelta) -> Bool = { _ in true }) throws -> ChatReply {
        messages.append(.user(text))
        let prompt: String
        do { prompt = try engine.templates.prompt(messages: messages, thinking: thinking) } catch {
            messages.removeLast()
            throw EngineError.chatTemplate("\(error)")
        }
        let tokens = engine.tokenizer.encode(prompt, addSpecialTokens: true)
        // Reuse the longest common prefix; at least one token must be run to get logits.
        var reuse = 0
        while reuse < min(tokens.count - 1, cachedTokens.count) && tokens[reuse] == cachedTokens[reuse] { reuse += 1 }
        cache.truncate(to: reuse)
        cachedTokens.removeSubrange(reuse...)
        let fresh = Array(tokens[reuse...])
        // A template may open the reasoning block itself at the end of the generation prompt.
        var splitter = ReasoningSplitter(prompt: prompt, markers: .pangu)
        var keepGoing = true
        let result: (text: String, tokens: [Int], finish: FinishReason)
        do {
            // The cached prefix is part of the sequence: the repetition penalty covers it too.
            result = try engine.stream(promptTokens: fresh, history: Array(tokens[..<reuse]), cache: cache,
                                       sampling: sampling, maxTokens: maxTokens,
                                       drafting: drafting) { piece in
                let delta = splitter.feed(piece)
                if !delta.isEmpty { keepGoing = onDelta(delta) }
                return keepGoing
            }
        } catch {
            messages.removeLast()
            cache.truncate(to: reuse)
            throw error
        }
        let last = splitter.finish()
        if !last.isEmpty { _ = onDelta(last) }
        cachedTokens += fresh
        cachedTokens += result.tokens.prefix(cache.count - cachedTokens.count)
        messages.append(.assistant(result.text))
        let parsed = splitter.result
        return ChatReply(reasoning: parsed.reasoning.trimmingCharacters(in: .whitespacesAndNewlines),
                         content: parsed.content.trimmingCharacters(in: .whitespacesAndNewlines),
                         raw: result.text, finish: result.finish, promptTokens: fresh.count, reusedTokens: reuse,
                         generatedTokens: result.tokens.count)
    }
}
