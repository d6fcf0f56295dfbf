// POST /v1/completions: plain text completion (no chat template, no reasoning split) of one or several prompts
// (a string, a list of strings, a list of token ids or a list of such lists), with the legacy logprobs shape.
import Foundation
import Hummingbird
import PanguChat
import PanguEngine

extension PanguServer {
    /// The prompts of a completion request as token ids (text gets BOS, as the CLI's `generate`).
    static func completionPrompts(_ f: RequestFields, model m: ServerModel) throws -> [[Int]] {
        guard let v = f.value("prompt") else {
            throw APIError.invalid("Missing required parameter: 'prompt'", param: "prompt", code: "missing_required_parameter")
        }
        func ids(_ items: [JinjaValue], _ path: String) throws -> [Int] {
            try items.map { item in
                guard case let .int(id) = item, id >= 0, id < m.tokenizer.vocabularySize else {
                    throw APIError.invalid("'\(path)' must hold token ids between 0 and \(m.tokenizer.vocabularySize - 1)",
                                           param: "prompt", code: "invalid_value")
                }
                return id
            }
        }
        let wrong = APIError.invalid("'prompt' must be a string, an array of strings, an array of token ids or an array of such arrays",
                                     param: "prompt", code: "invalid_type")
        switch v {
        case let .string(s): return [m.tokenizer.encode(s, addSpecialTokens: true)]
        case let .array(items) where items.isEmpty: throw APIError.invalid("'prompt' must not be empty", param: "prompt")
        case let .array(items):
            switch items[0] {
            case .int: return [try ids(items, "prompt")]
            case .string:
                return try items.map { item in
                    guard case let .string(s) = item else { throw wrong }
                    return m.tokenizer.encode(s, addSpecialTokens: true)
                }
            case .array:
                return try items.enumerated().map { i, item in
                    guard case let .array(inner) = item, !inner.isEmpty else { throw wrong }
                    return try ids(inner, "prompt[\(i)]")
                }
            default: throw wrong
            }
        default: throw wrong
        }
    }

    func completions(_ f: RequestFields, model m: ServerModel) async throws -> Response {
        let request = try CompletionRequest(f, model: m)
        let (options, prompts, logprobs, echo) = (request.options, request.prompts, request.logprobs, request.echo)
        let requests = try request.requests(model: m)
        let echoed = echo ? prompts.map { m.tokenizer.decode(Array($0.drop(while: { $0 == m.tokenizer.bosTokenId }))) } : []
        let n = options.n
        let streams = try ChoiceStreams(requests, model: m, metrics: metrics)
        let id = responseId("cmpl-"), created = Int(Date().timeIntervalSince1970)
        @Sendable func finish(_ s: GenerationSummary?) -> String { s?.finish == .length ? "length" : "stop" }
        if !options.stream {
            var texts = [String](repeating: "", count: requests.count)
            var lps = [[TokenLogprob]](repeating: [], count: requests.count)
            var sums = [GenerationSummary?](repeating: nil, count: requests.count)
            do {
                for try await (i, event) in streams.events {
                    switch event {
                    case let .delta(d): texts[i] += d.reasoning + d.content; lps[i] += d.logprobs
                    case let .finished(s): sums[i] = s
                    }
                }
            } catch {
                throw APIError(status: .internalServerError, message: "generation failed: \(error)", type: "server_error")
            }
            let choices: [JinjaValue] = (0..<requests.count).map { i in
                var offset = 0
                return JSON.object([("index", .int(i)), ("text", .string((echo ? echoed[i / n] : "") + texts[i])),
                                    ("logprobs", logprobs == nil ? .none : LogprobJSON.legacy(lps[i], offset: &offset)),
                                    ("finish_reason", .string(finish(sums[i])))])
            }
            return jsonResponse(JSON.object([
                ("id", .string(id)), ("object", "text_completion"), ("created", .int(created)), ("model", .string(m.id)),
                ("choices", .array(choices)),
                ("usage", usageJSON((0..<requests.count).compactMap { i in sums[i].map { (i / n, $0) } })),
                ("system_fingerprint", .none),
            ]))
        }
        let includeUsage = options.includeUsage, count = requests.count
        @Sendable func chunk(_ choices: [JinjaValue], usage: JinjaValue? = nil) -> String {
            var c: [(String, JinjaValue)] = [("id", .string(id)), ("object", "text_completion"), ("created", .int(created)),
                                             ("model", .string(m.id)), ("system_fingerprint", .none), ("choices", .array(choices))]
            if includeUsage { c.append(("usage", usage ?? .none)) }
            return "data: " + JSON.encode(JSON.object(c)) + "\n\n"
        }
        return sseResponse(streams) { write in
            var offsets = [Int](repeating: 0, count: count)
            var sums = [GenerationSummary?](repeating: nil, count: count)
            if echo {
                for i in 0..<count {
                    try await write(chunk([JSON.object([("index", .int(i)), ("text", .string(echoed[i / n])),
                                                        ("logprobs", .none), ("finish_reason", .none)])]))
                }
            }
            for try await (i, event) in streams.events {
                switch event {
                case let .delta(d):
                    let text = d.reasoning + d.content
                    guard !text.isEmpty || !d.logprobs.isEmpty else { continue }
                    let lp = logprobs == nil ? JinjaValue.none : LogprobJSON.legacy(d.logprobs, offset: &offsets[i])
                    try await write(chunk([JSON.object([("index", .int(i)), ("text", .string(text)), ("logprobs", lp),
                                                        ("finish_reason", .none)])]))
                case let .finished(s):
                    sums[i] = s
                    try await write(chunk([JSON.object([("index", .int(i)), ("text", ""), ("logprobs", .none),
                                                        ("finish_reason", .string(finish(s)))])]))
                }
            }
            if includeUsage {
                try await write(chunk([], usage: usageJSON((0..<count).compactMap { i in sums[i].map { (i / n, $0) } })))
            }
        }
    }
}

/// A validated text completion request.
struct CompletionRequest {
    var options: GenerationOptions
    /// Token ids of every prompt (several prompts give several choices each).
    var prompts: [[Int]]
    /// nil: no logprobs; k: chosen token plus k alternatives.
    var logprobs: Int?
    /// Whether the prompt text is returned in front of the completion.
    var echo: Bool

    init(_ f: RequestFields, model m: ServerModel) throws {
        try m.check(model: try f.string("model"))
        options = try GenerationOptions(f, defaults: m.defaultSampling, maxTokensFields: ["max_tokens"])
        prompts = try PanguServer.completionPrompts(f, model: m)
        logprobs = try f.int("logprobs", in: 0...20)
        echo = try f.bool("echo") ?? false
        if echo && logprobs != nil {
            throw APIError.invalid("'echo' together with 'logprobs' is not supported", param: "echo")
        }
        if try f.value("suffix") != nil && f.string("suffix") != "" {
            throw APIError.invalid("'suffix' is not supported", param: "suffix")
        }
    }

    /// The generation requests: `n` per prompt, prompt by prompt.
    func requests(model m: ServerModel) throws -> [GenerationRequest] {
        var requests: [GenerationRequest] = []
        for p in prompts {
            requests += try options.requests(prompt: p, contextLength: m.contextLength, promptParam: "prompt") { r in
                r.logprobs = logprobs
                r.splitReasoning = false
                r.parseToolCalls = false
            }
        }
        return requests
    }
}
