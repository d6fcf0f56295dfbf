// POST /v1/chat/completions body → prompt tokens and per-sequence settings: messages (text parts only),
// tools shown through the chat template or PanguChat's tool prompt, tool_choice, response_format,
// thinking mode (reasoning_effort / chat_template_kwargs), logprobs.
import PanguChat
import PanguEngine
import PanguRuntime

/// A validated chat completion request.
struct ChatRequest {
    var model: String?
    var options: GenerationOptions
    var prompt: [Int]
    var startsInReasoning = false
    var parseToolCalls = false
    var constraint: (@Sendable () throws -> LogitsConstraint)?
    /// nil: no logprobs; k: chosen token plus k alternatives.
    var logprobs: Int?

    init(_ f: RequestFields, model m: ServerModel) throws {
        model = try f.string("model")
        try m.check(model: model)
        options = try GenerationOptions(f, defaults: m.defaultSampling,
                                        maxTokensFields: ["max_completion_tokens", "max_tokens"])
        guard let rawMessages = try f.array("messages") else {
            throw APIError.invalid("Missing required parameter: 'messages'", param: "messages", code: "missing_required_parameter")
        }
        guard !rawMessages.isEmpty else {
            throw APIError.invalid("'messages' must contain at least one message", param: "messages", code: "invalid_value")
        }
        let thinking = try Self.thinkingMode(f)
        let tools = try Self.tools(f)
        let choice = try Self.toolChoice(f, tools: tools)
        let shownTools = choice == .none ? [] : tools
        let template = try m.templates.select(hasTools: !shownTools.isEmpty)
        var messages: [ChatMessage] = []
        for (i, raw) in rawMessages.enumerated() {
            messages.append(try Self.message(RequestFields(raw, path: "messages[\(i)]"),
                                             inlineToolCalls: !template.rendersTools))
        }
        var extra: [String: JinjaValue] = [:]
        if let kwargs = try f.object("chat_template_kwargs") {
            for (k, v) in kwargs.dict.pairs { extra[k] = v }
        }
        let text: String
        do {
            text = try m.templates.prompt(messages: messages, tools: shownTools.map(\.definition), thinking: thinking,
                                          extra: extra)
        } catch {
            throw APIError.invalid("The chat template could not render these messages: \(error)", param: "messages")
        }
        prompt = m.tokenizer.encode(text, addSpecialTokens: true)
        startsInReasoning = Self.endsInsideReasoning(text)
        parseToolCalls = !shownTools.isEmpty

        if case let .function(name) = choice, !tools.contains(where: { $0.name == name }) {
            throw APIError.invalid("tool_choice names '\(name)', which is not in 'tools'", param: "tool_choice",
                                   code: "invalid_value")
        }
        switch choice {
        case .required, .function:
            let forced: String? = if case let .function(name) = choice { name } else { nil }
            let b = try Self.builder(m, param: "tool_choice")
            do {
                constraint = try b.toolCalls(tools.map { ($0.name, $0.parametersJSON) }, forcedName: forced,
                                             allowReasoning: thinking != .fast)
            } catch {
                throw APIError.invalid("Invalid tool parameters schema: \(error)", param: "tools", code: "invalid_json_schema")
            }
        case .auto, .none:
            constraint = try Self.responseFormat(f, model: m, allowReasoning: thinking != .fast)
        }
        if try f.bool("logprobs") ?? false {
            logprobs = try f.int("top_logprobs", in: 0...20) ?? 0
        } else if try f.int("top_logprobs") != nil {
            throw APIError.invalid("'top_logprobs' requires 'logprobs' to be true", param: "top_logprobs")
        }
    }

    /// The generation requests, one per choice.
    func requests(model m: ServerModel) throws -> [GenerationRequest] {
        try options.requests(prompt: prompt, contextLength: m.contextLength, promptParam: "messages") { r in
            r.logprobs = logprobs
            r.constraint = constraint
            r.startsInReasoning = startsInReasoning
            r.splitReasoning = true
            r.parseToolCalls = parseToolCalls
        }
    }

    // MARK: - Thinking mode

    /// `reasoning_effort` (low → fast, medium → auto, high → slow; OpenAI's `minimal`/`none` → fast) and the
    /// `chat_template_kwargs` keys `thinking` / `enable_thinking` (false → fast, true → slow) and `think`
    /// ("fast" / "auto" / "slow"). The kwargs win when both are given. Default: the model's default (slow).
    static func thinkingMode(_ f: RequestFields) throws -> ThinkingMode {
        var mode = ThinkingMode.slow
        if let effort = try f.string("reasoning_effort") {
            switch effort {
            case "none", "minimal", "low": mode = .fast
            case "medium": mode = .auto
            case "high": mode = .slow
            default:
                throw APIError.invalid("'reasoning_effort' must be one of none, minimal, low, medium, high; got '\(effort)'",
                                       param: "reasoning_effort", code: "invalid_value")
            }
        }
        if let kw = try f.object("chat_template_kwargs") {
            for key in ["thinking", "enable_thinking"] {
                if let on = try kw.bool(key) { mode = on ? .slow : .fast }
            }
            if let think = try kw.string("think") {
                guard let m = ThinkingMode(rawValue: think) else {
                    throw APIError.invalid("'chat_template_kwargs.think' must be fast, auto or slow; got '\(think)'",
                                           param: "chat_template_kwargs.think", code: "invalid_value")
                }
                mode = m
            }
        }
        return mode
    }

    /// True when the rendered prompt leaves a reasoning block open (the model starts inside it).
    static func endsInsideReasoning(_ prompt: String, markers: ReasoningMarkers = .pangu) -> Bool {
        var trimmed = Substring(prompt)
        while let last = trimmed.last, last.isWhitespace { trimmed = trimmed.dropLast() }
        return trimmed.hasSuffix(markers.open)
    }

    // MARK: - Messages

    static func message(_ f: RequestFields, inlineToolCalls: Bool) throws -> ChatMessage {
        guard let role = try f.string("role") else {
            throw APIError.invalid("'\(f.name("role"))' is required", param: f.name("role"), code: "missing_required_parameter")
        }
        let content = try text(f, "content")
        switch role {
        case "system", "developer", "user":
            return ChatMessage(role: role == "developer" ? "system" : role, content: content ?? "")
        case "tool", "function":
            return ChatMessage(role: role, content: content ?? "", name: try f.string("name"),
                               toolCallId: try f.string("tool_call_id"))
        case "assistant":
            var calls: [ChatToolCall] = []
            for (i, raw) in (try f.array("tool_calls") ?? []).enumerated() {
                let c = try RequestFields(raw, path: f.name("tool_calls[\(i)]"))
                guard let fn = try c.object("function"), let name = try fn.string("name") else {
                    throw APIError.invalid("'\(c.name("function.name"))' is required", param: c.name("function.name"))
                }
                var args: JinjaValue = .dict(OrderedDictionary())
                if let a = try fn.string("arguments"), !a.isEmpty {
                    do { args = try JSONCoding.parse(a) } catch {
                        throw APIError.invalid("'\(fn.name("arguments"))' is not valid JSON: \(error)", param: fn.name("arguments"))
                    }
                }
                calls.append(ChatToolCall(id: try c.string("id"), name: name, arguments: args))
            }
            if inlineToolCalls {
                let parsed = calls.map { ParsedToolCall(name: $0.name, arguments: $0.arguments) }
                do { return try ToolPrompt.assistantMessage(content: content ?? "", calls: parsed) } catch {
                    throw APIError.invalid("\(error)", param: f.name("tool_calls"))
                }
            }
            return ChatMessage(role: "assistant", content: content, reasoningContent: try f.string("reasoning_content"),
                               toolCalls: calls)
        default:
            throw APIError.invalid("'\(f.name("role"))' must be system, developer, user, assistant or tool; got '\(role)'",
                                   param: f.name("role"), code: "invalid_value")
        }
    }

    /// `content` as text: a string, or an array of `{"type": "text", "text": …}` parts (joined).
    static func text(_ f: RequestFields, _ key: String) throws -> String? {
        guard let v = f.value(key) else { return nil }
        switch v {
        case let .string(s): return s
        case let .array(parts):
            var out = ""
            for (i, p) in parts.enumerated() {
                let part = try RequestFields(p, path: f.name("\(key)[\(i)]"))
                guard try part.string("type") == "text", let t = try part.string("text") else {
                    throw APIError.invalid("'\(part.path)': only text content parts are supported", param: part.path,
                                           code: "invalid_value")
                }
                out += t
            }
            return out
        default:
            throw APIError.invalid("'\(f.name(key))' must be a string or an array of text parts", param: f.name(key),
                                   code: "invalid_type")
        }
    }

    // MARK: - Tools

    struct Tool {
        var name: String
        var parametersJSON: String
        /// `{"type": "function", "function": {...}}` as the client sent it (key order kept).
        var definition: JinjaValue
    }

    enum ToolChoice: Equatable { case none, auto, required, function(String) }

    static func tools(_ f: RequestFields) throws -> [Tool] {
        guard let raw = try f.array("tools") else { return [] }
        return try raw.enumerated().map { i, item in
            let t = try RequestFields(item, path: "tools[\(i)]")
            guard try t.string("type") == "function", let fn = try t.object("function") else {
                throw APIError.invalid("'tools[\(i)]' must be {\"type\": \"function\", \"function\": {...}}", param: "tools[\(i)]")
            }
            guard let name = try fn.string("name"), !name.isEmpty else {
                throw APIError.invalid("'tools[\(i)].function.name' is required", param: "tools[\(i)].function.name")
            }
            var params = "{\"type\":\"object\",\"properties\":{}}"
            if let p = fn.value("parameters") {
                guard case .dict = p else {
                    throw APIError.invalid("'tools[\(i)].function.parameters' must be an object",
                                           param: "tools[\(i)].function.parameters")
                }
                params = JSON.encode(p)
            }
            return Tool(name: name, parametersJSON: params, definition: item)
        }
    }

    static func toolChoice(_ f: RequestFields, tools: [Tool]) throws -> ToolChoice {
        guard let v = f.value("tool_choice") else { return tools.isEmpty ? .none : .auto }
        let choice: ToolChoice
        switch v {
        case .string("none"): choice = .none
        case .string("auto"): choice = .auto
        case .string("required"): choice = .required
        case .dict:
            let c = try RequestFields(v, path: "tool_choice")
            guard let fn = try c.object("function"), let name = try fn.string("name") else {
                throw APIError.invalid("'tool_choice.function.name' is required", param: "tool_choice")
            }
            choice = .function(name)
        default:
            throw APIError.invalid("'tool_choice' must be none, auto, required or {\"type\": \"function\", \"function\": {\"name\": ...}}",
                                   param: "tool_choice", code: "invalid_value")
        }
        if choice != .none && tools.isEmpty {
            throw APIError.invalid("'tool_choice' is set but 'tools' is empty", param: "tool_choice")
        }
        return choice
    }

    // MARK: - Constrained output

    static func builder(_ m: ServerModel, param: String) throws -> any ConstraintBuilder {
        guard let b = m.constraints else {
            throw APIError.invalid("constrained decoding is not available in this build", param: param)
        }
        return b
    }

    /// `response_format`: text (no constraint), json_object, or json_schema (`json_schema.schema`).
    static func responseFormat(_ f: RequestFields, model m: ServerModel, allowReasoning: Bool) throws -> (@Sendable () throws -> LogitsConstraint)? {
        guard let rf = try f.object("response_format") else { return nil }
        switch try rf.string("type") {
        case "text"?: return nil
        case "json_object"?:
            do { return try builder(m, param: "response_format").jsonObject(allowReasoning: allowReasoning) } catch let e as APIError { throw e } catch {
                throw APIError.invalid("response_format: \(error)", param: "response_format")
            }
        case "json_schema"?:
            guard let js = try rf.object("json_schema"), let schema = js.value("schema") else {
                throw APIError.invalid("'response_format.json_schema.schema' is required",
                                       param: "response_format.json_schema.schema", code: "missing_required_parameter")
            }
            guard case .dict = schema else {
                throw APIError.invalid("'response_format.json_schema.schema' must be an object",
                                       param: "response_format.json_schema.schema", code: "invalid_type")
            }
            do { return try builder(m, param: "response_format")
                .jsonSchema(JSON.encode(schema), allowReasoning: allowReasoning) } catch let e as APIError {
                throw e
            } catch {
                throw APIError.invalid("Invalid schema for response_format: \(error)",
                                       param: "response_format.json_schema.schema", code: "invalid_json_schema")
            }
        default:
            throw APIError.invalid("'response_format.type' must be text, json_object or json_schema",
                                   param: "response_format.type", code: "invalid_value")
        }
    }
}
