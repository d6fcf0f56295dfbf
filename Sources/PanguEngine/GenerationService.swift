// The boundary between request handling (HTTP, CLI) and the thread that owns the model: a request in, a stream of
// events out. Text-level work (detokenizing, stop strings, reasoning and tool-call splitting) happens on the
// model side so every front end streams the same thing.
import PanguChat
import PanguRuntime

/// One sequence to generate, with its prompt already tokenized.
public struct GenerationRequest: Sendable {
    /// Prompt token ids (chat template applied, BOS included).
    public var prompt: [Int]
    /// Sampling settings, seed included.
    public var sampling: SamplingParameters
    /// OpenAI-style penalties over the whole sequence (0 = off).
    public var presencePenalty: Float = 0
    public var frequencyPenalty: Float = 0
    /// Cap on generated tokens (reasoning included).
    public var maxTokens: Int
    /// Strings that end generation; never part of the returned text.
    public var stop: [String] = []
    /// nil: no log-probabilities; n: the chosen token's log-probability and the n most likely alternatives.
    public var logprobs: Int?
    /// Makes a fresh constraint for this sequence (JSON schema, forced tool call), or nil for free text.
    public var constraint: (@Sendable () throws -> LogitsConstraint)?
    /// True when the prompt itself opens the reasoning block (the model starts inside it).
    public var startsInReasoning: Bool = false
    /// Split reasoning markers out of the text into `reasoning` deltas.
    public var splitReasoning: Bool = true
    /// Parse tool-call spans into `toolCalls` deltas instead of content.
    public var parseToolCalls: Bool = false

    /// Creates a request.
    public init(prompt: [Int], sampling: SamplingParameters, maxTokens: Int) {
        self.prompt = prompt
        self.sampling = sampling
        self.maxTokens = maxTokens
    }
}

/// A generated token with its log-probability and the most likely alternatives (natural log, after
/// temperature-free softmax of the raw logits, as OpenAI reports them).
public struct TokenLogprob: Sendable, Equatable {
    public var token: Int
    public var text: String
    public var bytes: [UInt8]
    public var logprob: Float
    public var top: [(token: Int, text: String, logprob: Float)]

    public static func == (a: TokenLogprob, b: TokenLogprob) -> Bool {
        a.token == b.token && a.text == b.text && a.bytes == b.bytes && a.logprob == b.logprob
            && a.top.map(\.token) == b.top.map(\.token) && a.top.map(\.logprob) == b.top.map(\.logprob)
    }
}

/// New output of one step. Every string is valid UTF-8 on its own.
public struct GenerationDelta: Sendable {
    public var reasoning = ""
    public var content = ""
    /// Tool-call progress in the order it was parsed.
    public var toolCalls: [ToolCallEvent] = []
    /// Log-probabilities of the tokens behind this delta (when requested).
    public var logprobs: [TokenLogprob] = []

    public init() {}
}

/// Why a sequence ended, in OpenAI's words.
public enum GenerationFinish: String, Sendable {
    case stop, length, toolCalls = "tool_calls", cancelled
}

/// Totals reported when a sequence ends.
public struct GenerationSummary: Sendable {
    public var finish: GenerationFinish
    public var promptTokens: Int
    /// Prompt tokens whose keys/values were reused from the prefix cache.
    public var cachedPromptTokens: Int
    public var completionTokens: Int
    /// Seconds from submission to the first generated token.
    public var timeToFirstToken: Double

    public init(finish: GenerationFinish, promptTokens: Int, cachedPromptTokens: Int, completionTokens: Int,
                timeToFirstToken: Double) {
        self.finish = finish
        self.promptTokens = promptTokens
        self.cachedPromptTokens = cachedPromptTokens
        self.completionTokens = completionTokens
        self.timeToFirstToken = timeToFirstToken
    }
}

/// What a generation stream yields.
public enum GenerationEvent: Sendable {
    case delta(GenerationDelta)
    case finished(GenerationSummary)
}

/// Something that runs generation requests: the scheduler, or a fake in tests. Dropping (terminating) the
/// returned stream cancels the sequence and frees its cache at once.
public protocol GenerationService: Sendable {
    /// Queues `request`. Throws at once when it cannot be admitted (queue full, prompt + max tokens beyond the
    /// context); errors after that end the stream.
    func submit(_ request: GenerationRequest) throws -> AsyncThrowingStream<GenerationEvent, Error>
}
