// Module PanguChat: chat templates, thinking modes, reasoning and tool-call splitting for Pangu models.
//
// Pipeline used by the engine/CLI:
//
//   1. Prompt:   let set = try ChatTemplateSet(checkpointDirectory: dir)   // falls back to ChatTemplate.pangu
//                let prompt = try set.prompt(messages: msgs, tools: tools, thinking: .fast)
//      (Jinja2-compatible interpreter with Hugging Face's apply_chat_template settings; the tokenizer adds BOS.)
//   2. Generate until EOS `[unused10]` (id 45892).
//   3. Stream:   var r = ReasoningSplitter()          // [unused16]…[unused17] → reasoning, rest → answer
//                var t = ToolCallParser()             // [unused11][{…}][unused12] → tool calls
//                for chunk in decodedText { let d = r.feed(chunk); show(d.reasoning); events += t.feed(d.content) }
//                let last = r.finish(); events += t.feed(last.content) + t.finish()
//
//      Decode generated ids with special tokens kept (the markers must appear in the text).
//   4. History:  append ToolPrompt.assistantMessage(content: answer, calls: calls) and .tool(result) turns.
//
// Files: Lexer / Parser / ParserExpressions / AST / Evaluator / Operations / Methods / Filters / Strftime
// (template engine), Value / JSON (value model, json.dumps-compatible output), ChatTemplate, ChatTemplateSet, ThinkingMode,
// ReasoningSplitter, ToolCallParser / JSONSpanScanner, ToolPrompt.

// Parity: checked byte-for-byte against jinja2 on 13 real chat templates × conversations, ~170 feature snippets and
// ~2000 grammar-generated random templates (scripts/chat/make_template_goldens.py). Known differences:
//   * Python object reprs with memory addresses (generators, range objects, `loop`) print differently.
//   * No Markup type: `escape` output escapes again if escaped twice; autoescape is off (as in HF).
//   * Integers are 64-bit (overflow is an error, Python would use a big int).
//   * Unsupported: include/extends/block/import, filters wordwrap/urlize/urlencode/xmlattr/filesizeformat/pprint/random,
//     str.format specs like `{:>5}`. Unknown filters/tags are errors (like jinja2), never crashes.
//   * `render(messages:)` defaults to `addGenerationPrompt: true` (HF's default is false).

/// Version and provenance of the PanguChat module.
public enum PanguChatInfo {
    /// The jinja2 behaviour the interpreter is checked against (goldens in Tests/PanguChatTests/Fixtures).
    public static let jinjaReference = "jinja2 3.1 ImmutableSandboxedEnvironment, trim_blocks=True, lstrip_blocks=True"
}
