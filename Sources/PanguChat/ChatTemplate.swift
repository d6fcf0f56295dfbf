// Public chat-template API: compile a Jinja chat template once, render conversations like Hugging Face's
// `tokenizer.apply_chat_template(..., tokenize=False)`.
import Foundation

/// One function call requested by the assistant (OpenAI / Hugging Face message shape).
public struct ChatToolCall: Sendable, Equatable {
    /// Optional call id (some templates print it).
    public var id: String?
    /// Function name.
    public var name: String
    /// Arguments object (usually a `.dict`); templates typically `tojson` it.
    public var arguments: JinjaValue

    /// Creates a tool call.
    public init(id: String? = nil, name: String, arguments: JinjaValue) {
        self.id = id
        self.name = name
        self.arguments = arguments
    }

    /// `{"id"?, "type": "function", "function": {"name", "arguments"}}` as templates expect it.
    public var templateValue: JinjaValue {
        var d = OrderedDictionary()
        if let id { d["id"] = .string(id) }
        d["type"] = "function"
        d["function"] = .dict(OrderedDictionary([("name", .string(name)), ("arguments", arguments)]))
        return .dict(d)
    }
}

/// A chat message as passed to the template.
public struct ChatMessage: Sendable, Equatable {
    /// "system", "user", "assistant", "tool" or "function".
    public var role: String
    /// Text content; `nil` renders as Python `None` (e.g. assistant turns that only call tools).
    public var content: String?
    /// Reasoning text of a previous assistant turn (`reasoning_content`), if any.
    public var reasoningContent: String?
    /// Tool calls of an assistant turn.
    public var toolCalls: [ChatToolCall]
    /// Optional `name` field (tool name for tool results in some templates).
    public var name: String?
    /// Optional `tool_call_id` for tool results.
    public var toolCallId: String?
    /// Extra keys copied into the message dictionary verbatim.
    public var extra: OrderedDictionary

    /// Creates a message.
    public init(role: String, content: String?, reasoningContent: String? = nil, toolCalls: [ChatToolCall] = [],
                name: String? = nil, toolCallId: String? = nil, extra: OrderedDictionary = OrderedDictionary()) {
        self.role = role
        self.content = content
        self.reasoningContent = reasoningContent
        self.toolCalls = toolCalls
        self.name = name
        self.toolCallId = toolCallId
        self.extra = extra
    }

    /// Convenience constructors.
    public static func system(_ text: String) -> ChatMessage { ChatMessage(role: "system", content: text) }
    /// A user turn.
    public static func user(_ text: String) -> ChatMessage { ChatMessage(role: "user", content: text) }
    /// An assistant turn.
    public static func assistant(_ text: String?, toolCalls: [ChatToolCall] = []) -> ChatMessage {
        ChatMessage(role: "assistant", content: text, toolCalls: toolCalls)
    }
    /// A tool result turn.
    public static func tool(_ text: String, name: String? = nil, toolCallId: String? = nil) -> ChatMessage {
        ChatMessage(role: "tool", content: text, name: name, toolCallId: toolCallId)
    }

    /// The dictionary the template sees: `role`, `content`, then optional keys only when set.
    public var templateValue: JinjaValue {
        var d = OrderedDictionary()
        d["role"] = .string(role)
        d["content"] = content.map { .string($0) } ?? JinjaValue.none
        if let reasoningContent { d["reasoning_content"] = .string(reasoningContent) }
        if !toolCalls.isEmpty { d["tool_calls"] = .array(toolCalls.map(\.templateValue)) }
        if let name { d["name"] = .string(name) }
        if let toolCallId { d["tool_call_id"] = .string(toolCallId) }
        for (k, v) in extra.pairs { d[k] = v }
        return .dict(d)
    }
}

/// A compiled Jinja chat template.
///
/// Rendering follows Hugging Face `apply_chat_template`: jinja2 `ImmutableSandboxedEnvironment` with
/// `trim_blocks=True`, `lstrip_blocks=True`, loop controls (`break`/`continue`), `{% generation %}` accepted,
/// globals `raise_exception`, `strftime_now`, `range`, `namespace`, `dict`, and `tojson` implemented as
/// `json.dumps(x, ensure_ascii=False, indent=…, separators=…, sort_keys=…)`.
///
/// Known deliberate difference: Python list/dict mutators (`append`, `update`, …) raise
/// "access to attribute … is unsafe", exactly like the immutable sandbox.
public struct ChatTemplate: Sendable {
    /// Template source as given.
    public let source: String
    private let nodes: [Node]
    /// Variable/attribute names the template mentions (used to detect whether it renders `tools`).
    public let referencedNames: Set<String>

    /// True when the template reads the `tools` variable (HF tool-calling templates). The official Pangu
    /// template does not, so ``prompt(messages:tools:thinking:addGenerationPrompt:extra:)`` injects a
    /// ``ToolPrompt`` system block instead.
    public var rendersTools: Bool { referencedNames.contains("tools") }

    /// The official openPangu-Embedded `chat_template` (PANGU.md §1.7), used when a checkpoint has none.
    public static let panguSource = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '[unused9]系统：[unused10]' }}{% endif %}{% if message['role'] == 'system' %}{{ '[unused9]系统：' + message['content'] + '[unused10]' }}{% endif %}{% if message['role'] == 'assistant' %}{{'[unused9]助手：' + message['content'] + '[unused10]'}}{% endif %}{% if message['role'] == 'tool' %}{{'[unused9]工具：' + message['content'] + '[unused10]'}}{% endif %}{% if message['role'] == 'function' %}{{'[unused9]方法：' + message['content'] + '[unused10]'}}{% endif %}{% if message['role'] == 'user' %}{{'[unused9]用户：' + message['content'] + '[unused10]'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '[unused9]助手：' }}{% endif %}"

    /// The built-in Pangu template, compiled.
    public static let pangu: ChatTemplate = try! ChatTemplate(panguSource)

    /// Compiles a template; throws ``ChatTemplateError`` (with line/column) on syntax errors.
    public init(_ source: String) throws {
        self.source = source
        var lexer = Lexer(source, options: LexerOptions())
        let tokens = try lexer.run()
        referencedNames = Set(tokens.compactMap { if case let .name(n) = $0.kind { return n } else { return nil } })
        var parser = Parser(tokens: tokens)
        nodes = try parser.parseTemplate()
    }

    /// Renders with an explicit context (every top-level variable the template may read).
    /// - Parameter now: the time `strftime_now` reports (local time zone).
    public func render(context: [String: JinjaValue], now: Date = Date()) throws -> String {
        let globals = Scope(parent: nil)
        let namespaces = NamespaceList()
        for (k, v) in makeGlobals(now: now, onNamespace: { namespaces.items.append($0) }) { globals.vars[k] = v }
        let root = Scope(parent: globals)
        for (k, v) in context { root.vars[k] = v }
        let ev = Evaluator(globals: globals)
        defer {
            ev.releaseCycles()
            // `{% set ns.me = ns %}` makes a namespace hold itself.
            for ns in namespaces.items { ns.attributes = OrderedDictionary() }
            namespaces.items.removeAll()
        }
        var out = ""
        try ev.render(nodes, root, &out)
        return out
    }

    /// Renders a conversation like `apply_chat_template(messages, tools=…, add_generation_prompt=…, **extra)`.
    ///
    /// - Parameters:
    ///   - messages: the conversation.
    ///   - addGenerationPrompt: append the assistant-turn opener (Pangu: `[unused9]助手：`).
    ///   - tools: JSON-schema tool definitions passed as `tools` (HF passes `None` when absent). The official
    ///     Pangu template ignores `tools`; use ``ToolPrompt/inject(tools:into:)`` first for Pangu.
    ///   - thinking: Pangu V1.1 thinking mode; `.fast`/`.auto` append ` /no_think`/` /auto_think` to the last
    ///     user message before rendering (see ``ThinkingMode``). `.slow` (default) changes nothing.
    ///   - bosToken: value of `bos_token` (Pangu `<s>`).
    ///   - eosToken: value of `eos_token` (Pangu `[unused10]`).
    ///   - continueFinalMessage: HF `continue_final_message`: the output ends right after the last message's
    ///     text (for prefilling an assistant answer); incompatible with `addGenerationPrompt`.
    ///   - extra: further template variables (e.g. `enable_thinking`); they override the defaults above.
    ///   - now: the time `strftime_now` reports.
    public func render(messages: [ChatMessage], addGenerationPrompt: Bool = true, tools: [JinjaValue]? = nil,
                       thinking: ThinkingMode = .slow, bosToken: String = "<s>", eosToken: String = "[unused10]",
                       continueFinalMessage: Bool = false,
                       extra: [String: JinjaValue] = [:], now: Date = Date()) throws -> String {
        if continueFinalMessage && addGenerationPrompt {
            throw ChatTemplateError("continue_final_message and add_generation_prompt are not compatible. Use continue_final_message when you want the model to continue the final message, and add_generation_prompt when you want to add a header that will prompt it to start a new assistant message instead.")
        }
        let msgs = thinking.apply(to: messages)
        var ctx: [String: JinjaValue] = [
            "messages": .array(msgs.map(\.templateValue)),
            "tools": tools.map { .array($0) } ?? .none,
            "documents": .none,
            "add_generation_prompt": .bool(addGenerationPrompt),
            "bos_token": .string(bosToken),
            "eos_token": .string(eosToken),
            "unk_token": "<unk>",
            "pad_token": "<unk>",
        ]
        for (k, v) in extra { ctx[k] = v }
        let rendered = try render(context: ctx, now: now)
        guard continueFinalMessage else { return rendered }
        return try Self.cutAfterFinalMessage(rendered, final: msgs.last?.content ?? "")
    }

    /// HF `continue_final_message`: cut the rendering right after the final message's text so generation
    /// continues it (the end-of-turn the template printed after it is removed).
    static func cutAfterFinalMessage(_ rendered: String, final: String) throws -> String {
        let r = Array(rendered.unicodeScalars), f = Array(final.unicodeScalars)
        let stripped = Array(((try? pyStrip(final, nil, mode: 0)) ?? final).unicodeScalars)
        let lstripped = Array(((try? pyStrip(final, nil, mode: 1)) ?? final).unicodeScalars)
        var loc: Int? = nil
        var i = r.count - stripped.count
        while i >= 0 {
            if r[i..<i + stripped.count].elementsEqual(stripped) { loc = i; break }
            i -= 1
        }
        guard let at = loc else {
            throw ChatTemplateError("continue_final_message is set but the final message does not appear in the chat after applying the chat template! This can happen if the chat template deletes portions of the final message. Please verify the chat template and final message in your chat to ensure they are compatible.")
        }
        let simpleEnd = min(at + lstripped.count, r.count)
        let end = r[at..<simpleEnd].elementsEqual(f) ? simpleEnd : at + stripped.count
        var v = String.UnicodeScalarView()
        v.append(contentsOf: r[..<end])
        return String(v)
    }
}

extension ChatTemplate {
    /// Engine entry point: the prompt text for generating the next assistant turn.
    ///
    /// * `tools` non-empty and the template renders `tools` → passed to the template (HF behaviour);
    ///   otherwise (official Pangu template) → injected as a system block by ``ToolPrompt/inject(tools:into:markers:)``.
    /// * `thinking` → ``ThinkingMode/apply(to:)`` (Pangu V1.1 `/no_think`, `/auto_think` suffixes).
    /// * Pangu special tokens are the defaults for `bos_token`/`eos_token`; `extra` adds/overrides variables.
    /// The result does not start with BOS; the tokenizer adds `<s>` when encoding, as HF does.
    public func prompt(messages: [ChatMessage], tools: [JinjaValue] = [], thinking: ThinkingMode = .slow,
                       addGenerationPrompt: Bool = true, extra: [String: JinjaValue] = [:]) throws -> String {
        if tools.isEmpty || rendersTools {
            return try render(messages: messages, addGenerationPrompt: addGenerationPrompt,
                              tools: tools.isEmpty ? nil : tools, thinking: thinking, extra: extra)
        }
        let injected = try ToolPrompt.inject(tools: tools, into: messages)
        return try render(messages: injected, addGenerationPrompt: addGenerationPrompt, tools: nil, thinking: thinking,
                          extra: extra)
    }
}

/// The namespaces one render created.
private final class NamespaceList {
    var items: [JinjaNamespace] = []
}
