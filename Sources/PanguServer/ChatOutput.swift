// Turning generation events into OpenAI chat completion objects: the whole `chat.completion`, or
// `chat.completion.chunk` deltas for streaming (role first, then reasoning/content text, tool calls as
// OpenAI streams them: first the id, type and function name, then argument fragments).
import Foundation
import PanguChat
import PanguEngine

/// The output of one chat choice, accumulated and turned into deltas.
struct ChatChoiceState {
    var reasoning = ""
    var content = ""
    /// Calls streamed so far by index: id, name and the argument text sent.
    var streamed: [Int: (id: String, name: String, arguments: String)] = [:]
    /// Authoritative decoded calls (closed spans), in order, with their ids.
    var calls: [(id: String, call: ParsedToolCall)] = []
    var logprobs: [TokenLogprob] = []
    var summary: GenerationSummary?
    var sentRole = false

    /// Applies a delta and returns the streaming `delta` object's fields (empty when there is nothing to send).
    mutating func apply(_ d: GenerationDelta) -> [(String, JinjaValue)] {
        var out: [(String, JinjaValue)] = []
        var text = d.content
        // Content outside tool-call spans normally arrives in `content`; take it from the parser's events only
        // when a service reports it there alone.
        if text.isEmpty {
            for e in d.toolCalls {
                switch e {
                case let .content(s), let .invalid(s): text += s
                default: break
                }
            }
        }
        if !d.reasoning.isEmpty {
            reasoning += d.reasoning
            out.append(("reasoning_content", .string(d.reasoning)))
            out.append(("reasoning", .string(d.reasoning)))
        }
        if !text.isEmpty {
            content += text
            out.append(("content", .string(text)))
        }
        var toolDeltas: [JinjaValue] = []
        for e in d.toolCalls {
            switch e {
            case let .name(index, name):
                let id = streamed[index]?.id ?? Self.newCallId()
                streamed[index] = (id, name, "")
                toolDeltas.append(Self.callDelta(index: index, id: id, name: name, arguments: ""))
            case let .arguments(index, fragment):
                guard streamed[index] != nil, !fragment.isEmpty else { continue }
                streamed[index]!.arguments += fragment
                toolDeltas.append(JSON.object([("index", .int(index)),
                                               ("function", JSON.object([("arguments", .string(fragment))]))]))
            case let .calls(parsed):
                for call in parsed {
                    let index = calls.count
                    if let s = streamed[index] {
                        if s.arguments.isEmpty {
                            streamed[index]!.arguments = call.argumentsJSON
                            toolDeltas.append(JSON.object([("index", .int(index)),
                                                           ("function", JSON.object([("arguments", .string(call.argumentsJSON))]))]))
                        }
                        calls.append((s.id, call))
                    } else {
                        let id = Self.newCallId()
                        streamed[index] = (id, call.name, call.argumentsJSON)
                        toolDeltas.append(Self.callDelta(index: index, id: id, name: call.name, arguments: call.argumentsJSON))
                        calls.append((id, call))
                    }
                }
            case .content, .invalid: break
            }
        }
        if !toolDeltas.isEmpty { out.append(("tool_calls", .array(toolDeltas))) }
        logprobs += d.logprobs
        return out
    }

    static func callDelta(index: Int, id: String, name: String, arguments: String) -> JinjaValue {
        JSON.object([("index", .int(index)), ("id", .string(id)), ("type", "function"),
                     ("function", JSON.object([("name", .string(name)), ("arguments", .string(arguments))]))])
    }

    static func newCallId() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        return "call_" + String((0..<24).map { _ in alphabet.randomElement()! })
    }

    /// OpenAI's finish reason for this choice.
    var finishReason: String {
        switch summary?.finish {
        case .length?: return "length"
        case .toolCalls?: return "tool_calls"
        default: return calls.isEmpty ? "stop" : "tool_calls"
        }
    }

    /// The non-streaming `message` (text trimmed as the CLI shows it).
    var message: JinjaValue {
        let answer = content.trimmingCharacters(in: .whitespacesAndNewlines)
        let thought = reasoning.trimmingCharacters(in: .whitespacesAndNewlines)
        var m: [(String, JinjaValue)] = [("role", "assistant"),
                                          ("content", answer.isEmpty && !calls.isEmpty ? .none : .string(answer))]
        if !thought.isEmpty {
            m.append(("reasoning_content", .string(thought)))
            m.append(("reasoning", .string(thought)))
        }
        if !calls.isEmpty {
            m.append(("tool_calls", .array(calls.map { id, c in
                JSON.object([("id", .string(id)), ("type", "function"),
                             ("function", JSON.object([("name", .string(c.name)), ("arguments", .string(c.argumentsJSON))]))])
            })))
        }
        m.append(("refusal", .none))
        return JSON.object(m)
    }
}

/// Log-probability JSON in OpenAI's shapes.
enum LogprobJSON {
    /// -inf (a masked token) and NaN are not JSON: report OpenAI's floor value instead.
    static func number(_ x: Float) -> JinjaValue { x.isFinite ? .double(Double(x)) : .double(-9999) }

    static func bytes(_ s: String) -> JinjaValue { .array(s.utf8.map { .int(Int($0)) }) }

    /// Chat: `{"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}], "refusal": null}`.
    static func chat(_ items: [TokenLogprob]) -> JinjaValue {
        JSON.object([("content", .array(items.map { t in
            JSON.object([("token", .string(t.text)), ("logprob", number(t.logprob)), ("bytes", .array(t.bytes.map { .int(Int($0)) })),
                         ("top_logprobs", .array(t.top.map { alt in
                             JSON.object([("token", .string(alt.text)), ("logprob", number(alt.logprob)), ("bytes", bytes(alt.text))])
                         }))])
        })), ("refusal", .none)])
    }

    /// Legacy completions: `{"tokens", "token_logprobs", "top_logprobs", "text_offset"}`; offsets count Unicode
    /// scalars (Python string indices) from the start of the choice's text, continuing from `offset`.
    static func legacy(_ items: [TokenLogprob], offset: inout Int) -> JinjaValue {
        var offsets: [JinjaValue] = []
        for t in items {
            offsets.append(.int(offset))
            offset += t.text.unicodeScalars.count
        }
        return JSON.object([
            ("tokens", .array(items.map { .string($0.text) })),
            ("token_logprobs", .array(items.map { number($0.logprob) })),
            ("top_logprobs", .array(items.map { t in
                .dict(OrderedDictionary(t.top.map { ($0.text, number($0.logprob)) }))
            })),
            ("text_offset", .array(offsets)),
        ])
    }
}

/// Usage totals: prompt tokens once per prompt (choices of one prompt share it), completion tokens summed.
func usageJSON(_ summaries: [(prompt: Int, summary: GenerationSummary)]) -> JinjaValue {
    var promptTokens: [Int: Int] = [:], cached: [Int: Int] = [:]
    var completion = 0
    for (p, s) in summaries {
        promptTokens[p] = s.promptTokens
        cached[p] = s.cachedPromptTokens
        completion += s.completionTokens
    }
    let prompt = promptTokens.values.reduce(0, +)
    return JSON.object([("prompt_tokens", .int(prompt)), ("completion_tokens", .int(completion)),
                        ("total_tokens", .int(prompt + completion)),
                        ("prompt_tokens_details", JSON.object([("cached_tokens", .int(cached.values.reduce(0, +)))]))])
}

/// A response id like OpenAI's (`chatcmpl-…`, `cmpl-…`).
func responseId(_ prefix: String) -> String {
    prefix + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
}
