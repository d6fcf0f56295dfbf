// The scheduler's public value types: submission errors, monitoring counters, speculative-decoding settings.
// Speculative decoding (Docs/Speculative.md): each decoding sequence gets its own drafter; its drafts join the
// step's one batched forward pass like a prefill chunk with logits at every position, the sequence's
// `GenerationState` verifies them and the scheduler rolls its KV cache back.
import PanguRuntime

/// Errors the scheduler throws at submission (the HTTP layer maps them to status codes).
public enum SchedulerError: Error, CustomStringConvertible, Equatable {
    /// The waiting queue is full (HTTP 503 + Retry-After).
    case queueFull(waiting: Int)
    /// Prompt + max tokens exceed the per-request context (HTTP 400).
    case contextExceeded(promptTokens: Int, maxTokens: Int, limit: Int)
    /// The request itself is invalid (HTTP 400).
    case invalidRequest(String)
    /// The scheduler is shutting down or stopped (HTTP 503).
    case shuttingDown
    /// A forward pass failed; every sequence in that step ends with this error.
    case modelFailed(String)

    public var description: String {
        switch self {
        case let .queueFull(waiting): return "the server is busy: \(waiting) requests are already waiting"
        case let .contextExceeded(prompt, maxTokens, limit):
            return "the prompt has \(prompt) tokens and up to \(maxTokens) may be generated, but the context limit is "
                + "\(limit) tokens per request"
        case let .invalidRequest(detail): return detail
        case .shuttingDown: return "the server is shutting down"
        case let .modelFailed(detail): return "the model failed: \(detail)"
        }
    }
}

/// Counters for monitoring. A snapshot; totals count since the scheduler started.
public struct SchedulerMetrics: Sendable, Equatable {
    /// Sequences being prefilled or decoded.
    public var running = 0
    /// Requests queued for a free slot.
    public var waiting = 0
    /// Tokens generated (all sequences).
    public var generatedTokens = 0
    /// Prompt tokens submitted, and those of them whose keys/values came from the prefix cache.
    public var promptTokens = 0
    public var cachedPromptTokens = 0
    /// Forward steps run, their total and last wall time in seconds, and the tokens in the last step.
    public var steps = 0
    public var stepSeconds = 0.0
    public var lastStepSeconds = 0.0
    public var lastStepTokens = 0
    /// Requests finished, by outcome.
    public var completed = 0
    public var cancelled = 0
    public var failed = 0
    public var rejected = 0
    /// Bytes of KV-cache blocks in use (running sequences and the prefix cache).
    public var kvCacheBytes = 0
    /// Speculative decoding: draft tokens proposed and accepted by the target (Docs/Speculative.md).
    public var draftedTokens = 0
    public var acceptedDraftTokens = 0
}

/// How the scheduler drafts: one drafter per sequence, made when the sequence starts decoding and dropped (with
/// a draft model's own cache) when it ends.
public struct SchedulerSpeculation: Sendable {
    /// Most draft tokens per sequence and step (fewer while acceptance is low).
    public var draftMax: Int
    /// Makes the drafter of one sequence: a `PromptLookupDrafter`, or a `ModelDrafter` over a draft model whose
    /// vocabulary was checked against the target (`Engine.checkDraft`).
    public var makeDrafter: @Sendable () -> Drafter
    /// Whether draft lengths may use measured step times (false: acceptance alone, so sampled output repeats for
    /// a seed; `SpeculativeDrafting.init`).
    public var costAware: Bool

    /// Creates the settings.
    public init(draftMax: Int, costAware: Bool = true, makeDrafter: @escaping @Sendable () -> Drafter) {
        self.draftMax = draftMax
        self.costAware = costAware
        self.makeDrafter = makeDrafter
    }
}
