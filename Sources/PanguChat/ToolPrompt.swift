// How available tools are shown to Pangu models (the official template renders no `tools`).

/// Builds the tool-description block that PanguChat injects into the system turn.
///
/// The official openPangu `chat_template` ignores `tools` (PANGU.md §10), so the engine chooses this
/// documented format. The block is appended to the first system message (separated by a blank line) or becomes
/// a new system message at the start when there is none. It reads (one JSON schema per line, `json.dumps`
/// style with `ensure_ascii=False`, key order preserved):
///
/// ```
/// # 工具 / Tools
/// 你可以调用以下工具。You may call the following tools:
/// {"type": "function", "function": {"name": "get_weather", ...}}
/// ...
/// 调用工具时，输出 [unused11] 后接 JSON 数组 [{"name": 工具名, "arguments": {参数}}]，再输出 [unused12]。
/// To call tools, output [unused11] followed by a JSON array [{"name": ..., "arguments": {...}}] and then [unused12].
/// ```
///
/// The markers are written literally; Hugging Face-style tokenizers map them to the special tokens
/// (`[unused11]` = 45920, `[unused12]` = 45932). Tool results go back as `tool` messages
/// (rendered `[unused9]工具：…[unused10]` by the official template).
public enum ToolPrompt {
    /// The block text for `tools` (each a JSON-schema tool definition, OpenAI/HF shape).
    public static func block(tools: [JinjaValue], markers: ToolCallMarkers = .pangu) throws -> String {
        var lines = ["# 工具 / Tools", "你可以调用以下工具。You may call the following tools:"]
        for t in tools {
            do { lines.append(try JSONCoding.dumps(t)) } catch let e as TemplateRuntimeFailure {
                throw ChatTemplateError("tool schema is not JSON-serialisable: \(e.message)")
            }
        }
        lines.append("调用工具时，输出 \(markers.open) 后接 JSON 数组 [{\"name\": 工具名, \"arguments\": {参数}}]，再输出 \(markers.close)。")
        lines.append("To call tools, output \(markers.open) followed by a JSON array [{\"name\": ..., \"arguments\": {...}}] and then \(markers.close).")
        return lines.joined(separator: "\n")
    }

    /// An assistant history turn for the official Pangu template, which renders only `content` (no
    /// `tool_calls`): the calls are written inline exactly as the model emits them,
    /// `content + open + [{"name": …, "arguments": {…}}, …] + close`, so the model sees its own earlier calls.
    /// ``ToolCallParser`` parses this text back to the same calls.
    public static func assistantMessage(content: String, calls: [ParsedToolCall],
                                        markers: ToolCallMarkers = .pangu) throws -> ChatMessage {
        guard !calls.isEmpty else { return .assistant(content) }
        let array = JinjaValue.array(calls.map { .dict(OrderedDictionary([("name", .string($0.name)), ("arguments", $0.arguments)])) })
        let json: String
        do { json = try JSONCoding.dumps(array) } catch let e as TemplateRuntimeFailure {
            throw ChatTemplateError("tool call arguments are not JSON-serialisable: \(e.message)")
        }
        return .assistant(content + markers.open + json + markers.close)
    }

    /// Returns `messages` with the tool block injected into the system turn (see type documentation).
    /// Empty `tools` leaves the messages unchanged.
    public static func inject(tools: [JinjaValue], into messages: [ChatMessage],
                              markers: ToolCallMarkers = .pangu) throws -> [ChatMessage] {
        guard !tools.isEmpty else { return messages }
        let text = try block(tools: tools, markers: markers)
        var out = messages
        if let first = out.first, first.role == "system" {
            let existing = first.content ?? ""
            out[0].content = existing.isEmpty ? text : existing + "\n\n" + text
        } else {
            out.insert(.system(text), at: 0)
        }
        return out
    }
}
