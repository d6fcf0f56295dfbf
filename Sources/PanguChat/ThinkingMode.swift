// openPangu-Embedded V1.1 thinking modes (PANGU.md §1.7).

/// How much the model should reason before answering (openPangu-Embedded V1.1).
///
/// The official mechanism is a plain-text suffix on the user's prompt: the engine applies it from an API option
/// (``ChatTemplate/render(messages:addGenerationPrompt:tools:thinking:bosToken:eosToken:extra:now:)``), never by
/// asking users to type it.
/// - ``slow``: default. Nothing is appended; the model reasons inside `[unused16]…[unused17]`, then answers.
/// - ``fast``: appends `" /no_think"` to the last user message; the reasoning block is empty.
/// - ``auto``: appends `" /auto_think"`; the model decides per question whether to reason.
/// V1.0 and Pro MoE only document slow thinking; the suffixes are harmless text there.
public enum ThinkingMode: String, Sendable, CaseIterable {
    /// Always reason first (model default).
    case slow
    /// No reasoning (`/no_think`).
    case fast
    /// Model chooses (`/auto_think`).
    case auto

    /// The text appended to the last user message (empty for ``slow``).
    public var promptSuffix: String {
        switch self {
        case .slow: return ""
        case .fast: return " /no_think"
        case .auto: return " /auto_think"
        }
    }

    /// Returns `messages` with ``promptSuffix`` appended to the content of the last `user` message.
    /// A user message with `nil` content is treated as empty text. No user message: unchanged.
    public func apply(to messages: [ChatMessage]) -> [ChatMessage] {
        guard self != .slow, let i = messages.lastIndex(where: { $0.role == "user" }) else { return messages }
        var out = messages
        out[i].content = (out[i].content ?? "") + promptSuffix
        return out
    }
}
