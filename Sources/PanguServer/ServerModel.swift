// What the HTTP layer needs from a loaded model: tokenizer and chat templates (prompts are rendered and tokenized
// here, so a bad request fails before it reaches the model thread), limits, and the generation service.
import PanguChat
import PanguEngine
import PanguRuntime
import PanguTokenizer

/// Builds decoding constraints for `response_format` and forced tool calls. Errors thrown here (an invalid or
/// unsupported schema) become 400 responses. `allowReasoning`: a reasoning block may precede the constrained
/// text (false in fast thinking mode, where the model must answer at once). `PanguGrammar` provides the
/// implementation (``GrammarConstraintBuilder``).
public protocol ConstraintBuilder: Sendable {
    /// Any JSON object (`response_format: {"type": "json_object"}`).
    func jsonObject(allowReasoning: Bool) throws -> @Sendable () throws -> LogitsConstraint
    /// A JSON document valid against `schemaJSON` (`response_format: {"type": "json_schema"}`).
    func jsonSchema(_ schemaJSON: String, allowReasoning: Bool) throws -> @Sendable () throws -> LogitsConstraint
    /// A tool-call span calling one of `tools` (or exactly `forcedName`).
    func toolCalls(_ tools: [(name: String, parametersJSON: String)], forcedName: String?, allowReasoning: Bool) throws
        -> @Sendable () throws -> LogitsConstraint
}

/// Sequence counts of the generation service, for `/metrics`.
public struct ServiceLoad: Sendable {
    /// Sequences being decoded.
    public var running: Int
    /// Sequences queued, not yet admitted.
    public var waiting: Int
    /// Speculative decoding totals since the start: draft tokens proposed, and accepted by the target.
    public var draftedTokens: Int, acceptedDraftTokens: Int
    /// Creates counts.
    public init(running: Int, waiting: Int, draftedTokens: Int = 0, acceptedDraftTokens: Int = 0) {
        self.running = running
        self.waiting = waiting
        self.draftedTokens = draftedTokens
        self.acceptedDraftTokens = acceptedDraftTokens
    }
}

/// A loaded model as the server sees it.
public struct ServerModel: Sendable {
    /// The id reported by `/v1/models` and in responses; requests naming another model get 404.
    public var id: String
    /// Tokenizer for prompts, `/tokenize` and `/detokenize`.
    public var tokenizer: HuggingFaceTokenizer
    /// Chat templates of the checkpoint.
    public var templates: ChatTemplateSet
    /// Prompt + generated tokens allowed per request (`--context`).
    public var contextLength: Int
    /// Sampling defaults for fields a request leaves out (the checkpoint's generation_config.json).
    public var defaultSampling: SamplingParameters
    /// Runs the sequences.
    public var service: any GenerationService
    /// Constrained decoding, or nil when this build has none (such requests then get 400).
    public var constraints: (any ConstraintBuilder)?
    /// Running/waiting sequence counts of `service`, when it reports them.
    public var load: (@Sendable () -> ServiceLoad)?
    /// Unix time the model was loaded (`created` in `/v1/models`).
    public var created: Int

    /// Creates a model description.
    public init(id: String, tokenizer: HuggingFaceTokenizer, templates: ChatTemplateSet, contextLength: Int,
                defaultSampling: SamplingParameters, service: any GenerationService,
                constraints: (any ConstraintBuilder)? = nil, created: Int) {
        self.id = id
        self.tokenizer = tokenizer
        self.templates = templates
        self.contextLength = contextLength
        self.defaultSampling = defaultSampling
        self.service = service
        self.constraints = constraints
        self.created = created
    }

    /// The model id a request may name: ours, or anything when the request leaves it out.
    func check(model: String?) throws {
        if let model, model != id { throw APIError.modelNotFound(model) }
    }

    /// Submits, turning admission failures into HTTP errors.
    func submit(_ request: GenerationRequest) throws -> AsyncThrowingStream<GenerationEvent, Error> {
        do { return try service.submit(request) } catch {
            if let e = error as? APIError { throw e }
            switch error {
            case SchedulerError.queueFull:
                throw APIError.unavailable("The server is busy: too many requests are waiting. Retry shortly.",
                                           retryAfterSeconds: 1, code: "queue_full")
            case SchedulerError.shuttingDown:
                throw APIError.unavailable("The server is shutting down", retryAfterSeconds: 5, code: "shutting_down")
            case let SchedulerError.contextExceeded(prompt, maxTokens, limit):
                throw APIError.invalid("This model's maximum context length is \(limit) tokens. However, you requested \(prompt + maxTokens) tokens (\(prompt) in the prompt, \(maxTokens) in the completion).",
                                       param: "max_tokens", code: "context_length_exceeded")
            case let SchedulerError.invalidRequest(detail):
                throw APIError.invalid(detail)
            case let EngineError.promptTooLong(tokens, context):
                throw APIError.invalid("This model's maximum context length is \(context) tokens, but the request needs \(tokens)",
                                       code: "context_length_exceeded")
            case let RuntimeError.invalidRequest(detail):
                throw APIError.invalid(detail)
            default:
                throw APIError(status: .internalServerError, message: "generation could not start: \(error)",
                               type: "server_error")
            }
        }
    }
}
