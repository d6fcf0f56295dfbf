// Fuzz harness `jinja`: a chat template from untrusted text (lexer, parser), rendered with a conversation that
// has tools, tool calls and reasoning. Must end with output or a ChatTemplateError, within the step and output
// budgets. See Docs/Fuzzing.md.
import Foundation
import PanguChat
import PanguFuzzSupport

@main enum Harness {
    static func main() {
        func json(_ text: String) -> JinjaValue {
            do { return try JSONCoding.parse(text) } catch { fatalError("harness JSON: \(error)") }
        }
        let messages: [ChatMessage] = [
            .system("You are helpful."), .user("Hi {{ x }} [unused9]"),
            ChatMessage(role: "assistant", content: "Sure.", reasoningContent: "think",
                        toolCalls: [ChatToolCall(id: "c1", name: "get", arguments: json(#"{"q": "a\"b"}"#))]),
            .tool(#"{"r": [1, 2.5, null]}"#, name: "get", toolCallId: "c1"), .user("again"),
        ]
        let tools = [json(#"{"type": "function", "function": {"name": "get", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}"#)]
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        runHarness { bytes in
            guard let template = try? ChatTemplate(String(decoding: bytes, as: UTF8.self)) else { return }
            if bytes.count % 4 == 3 {
                _ = try? template.render(messages: [], addGenerationPrompt: false, thinking: .fast, now: now)
            } else {
                _ = try? template.render(messages: messages, tools: tools, now: now)
            }
        }
    }
}
