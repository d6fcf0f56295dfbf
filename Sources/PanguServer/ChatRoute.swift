// POST /v1/chat/completions: a `chat.completion` object, or an SSE stream of `chat.completion.chunk`s ending
// with `data: [DONE]` (plus a usage chunk with empty `choices` when `stream_options.include_usage` is set).
import Foundation
import Hummingbird
import PanguChat
import PanguEngine

extension PanguServer {
    func chatCompletions(_ f: RequestFields, model m: ServerModel) async throws -> Response {
        let chat = try ChatRequest(f, model: m)
        let streams = try ChoiceStreams(try chat.requests(model: m), model: m, metrics: metrics)
        let id = responseId("chatcmpl-"), created = Int(Date().timeIntervalSince1970), n = chat.options.n
        let wantLogprobs = chat.logprobs != nil
        if !chat.options.stream {
            var choices = [ChatChoiceState](repeating: ChatChoiceState(), count: n)
            do {
                for try await (i, event) in streams.events {
                    switch event {
                    case let .delta(d): _ = choices[i].apply(d)
                    case let .finished(s): choices[i].summary = s
                    }
                }
            } catch {
                throw APIError(status: .internalServerError, message: "generation failed: \(error)", type: "server_error")
            }
            let body = JSON.object([
                ("id", .string(id)), ("object", "chat.completion"), ("created", .int(created)), ("model", .string(m.id)),
                ("choices", .array(choices.enumerated().map { i, c in
                    JSON.object([("index", .int(i)), ("message", c.message),
                                 ("logprobs", wantLogprobs ? LogprobJSON.chat(c.logprobs) : .none),
                                 ("finish_reason", .string(c.finishReason))])
                })),
                ("usage", usageJSON(choices.compactMap { $0.summary.map { (0, $0) } })),
                ("system_fingerprint", .none),
            ])
            return jsonResponse(body)
        }
        let includeUsage = chat.options.includeUsage
        @Sendable func chunk(_ choices: [JinjaValue], usage: JinjaValue? = nil) -> String {
            var c: [(String, JinjaValue)] = [("id", .string(id)), ("object", "chat.completion.chunk"), ("created", .int(created)),
                                             ("model", .string(m.id)), ("system_fingerprint", .none), ("choices", .array(choices))]
            if includeUsage { c.append(("usage", usage ?? .none)) }
            return "data: " + JSON.encode(JSON.object(c)) + "\n\n"
        }
        @Sendable func choice(_ i: Int, _ delta: [(String, JinjaValue)], logprobs: JinjaValue = .none, finish: String? = nil) -> JinjaValue {
            JSON.object([("index", .int(i)), ("delta", JSON.object(delta)), ("logprobs", logprobs),
                         ("finish_reason", finish.map { .string($0) } ?? .none)])
        }
        return sseResponse(streams) { writer in
            var choices = [ChatChoiceState](repeating: ChatChoiceState(), count: n)
            for try await (i, event) in streams.events {
                switch event {
                case let .delta(d):
                    var fields = choices[i].apply(d)
                    if !choices[i].sentRole {
                        choices[i].sentRole = true
                        fields.insert(("role", "assistant"), at: 0)
                        if !fields.contains(where: { $0.0 == "content" }) { fields.insert(("content", ""), at: 1) }
                    }
                    guard !fields.isEmpty || !d.logprobs.isEmpty else { continue }
                    try await writer(chunk([choice(i, fields, logprobs: wantLogprobs ? LogprobJSON.chat(d.logprobs) : .none)]))
                case let .finished(s):
                    choices[i].summary = s
                    var fields: [(String, JinjaValue)] = []
                    if !choices[i].sentRole {
                        choices[i].sentRole = true
                        fields = [("role", "assistant"), ("content", "")]
                    }
                    try await writer(chunk([choice(i, fields, finish: choices[i].finishReason)]))
                }
            }
            if includeUsage {
                try await writer(chunk([], usage: usageJSON(choices.compactMap { $0.summary.map { (0, $0) } })))
            }
        }
    }

    /// A JSON response.
    func jsonResponse(_ value: JinjaValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: JSON.encode(value))))
    }

    /// An SSE response: `produce` writes `data: …` events; `data: [DONE]` follows. A failed write (the client went
    /// away) or any error ends the body and cancels every sequence of the request. An error after the stream began
    /// is sent as a `data: {"error": …}` event, which the OpenAI SDKs raise.
    func sseResponse(_ streams: ChoiceStreams,
                     _ produce: @escaping @Sendable (_ write: (String) async throws -> Void) async throws -> Void) -> Response {
        let logger = self.logger
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: ResponseBody { writer in
                defer { streams.cancel() }
                var clientGone = false
                do {
                    try await produce { text in
                        do { try await writer.write(ByteBuffer(string: text)) } catch {
                            clientGone = true
                            throw error
                        }
                    }
                } catch {
                    if clientGone {
                        logger.info("client disconnected mid-stream; sequences cancelled")
                        throw error
                    }
                    let e = APIError(status: .internalServerError, message: "generation failed: \(error)", type: "server_error")
                    try await writer.write(ByteBuffer(string: "data: " + JSON.encode(e.body) + "\n\n"))
                }
                try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                try await writer.finish(nil)
            })
    }
}
