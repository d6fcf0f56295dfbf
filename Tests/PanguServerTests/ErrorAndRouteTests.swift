// Status codes and error bodies, authentication, /v1/completions, /tokenize, /detokenize, /v1/models,
// /health before and after loading, /metrics, and cancellation of a request's sequences.
import Foundation
import HummingbirdTesting
import PanguChat
@testable import PanguEngine
@testable import PanguServer
import PanguTestSupport
import XCTest

final class ErrorAndRouteTests: ServerTestCase {
    func testBadRequestsGetOpenAIErrors() async throws {
        let service = Self.helloService()
        try await app(makeServer(service)).test(.router) { client in
            let cases: [(String, String, Int, String?)] = [
                ("/v1/chat/completions", "{not json", 400, nil),
                ("/v1/chat/completions", "[1,2]", 400, nil),
                ("/v1/chat/completions", #"{"model":"tiny"}"#, 400, "messages"),
                ("/v1/chat/completions", #"{"messages":"hi"}"#, 400, "messages"),
                ("/v1/chat/completions", #"{"messages":[{"role":"user","content":"x"}],"temperature":"hot"}"#, 400, "temperature"),
                ("/v1/chat/completions", #"{"messages":[{"role":"user","content":"x"}],"max_tokens":5000}"#, 400, "max_tokens"),
                ("/v1/chat/completions", #"{"messages":[{"role":"user","content":"x"}],"n":0}"#, 400, "n"),
                ("/v1/chat/completions", #"{"messages":[{"role":"wizard","content":"x"}]}"#, 400, "messages[0].role"),
                ("/v1/chat/completions", #"{"messages":[{"role":"user","content":"x"}],"stop":[1]}"#, 400, "stop"),
                ("/v1/chat/completions", #"{"messages":[{"role":"user","content":"x"}],"model":"gpt-9"}"#, 404, "model"),
                ("/v1/chat/completions", #"{"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"}}"#, 400, "response_format"),
                ("/v1/completions", #"{"prompt":7}"#, 400, "prompt"),
                ("/v1/completions", #"{"max_tokens":3}"#, 400, "prompt"),
                ("/v1/completions", #"{"prompt":[1,99999]}"#, 400, "prompt"),
                ("/tokenize", #"{"text":"x"}"#, 400, "content"),
                ("/detokenize", #"{"tokens":["a"]}"#, 400, "tokens"),
                ("/v1/nothing", "{}", 404, nil),
            ]
            for (uri, body, status, param) in cases {
                let r = try await post(client, uri, body)
                XCTAssertEqual(r.status, status, "\(uri) \(body): \(r.body)")
                let e = try error(r.body)
                XCTAssertEqual(e["param"] as? String, param, "\(uri) \(body)")
            }
            let long = try await post(client, "/v1/chat/completions",
                                      #"{"messages":[{"role":"user","content":"x"}],"max_tokens":5000}"#)
            XCTAssertEqual(try error(long.body)["code"] as? String, "context_length_exceeded")
        }
        XCTAssertTrue(service.requests.isEmpty, "no bad request reaches the service")
    }

    func testQueueFullIs503WithRetryAfterAndDoesNotDisturbOthers() async throws {
        let service = FakeGenerationService { r in
            if r.maxTokens == 7 { throw SchedulerError.queueFull(waiting: 64) }
            return .init(deltas: [FakeGenerationService.content("ok")], finish: .stop)
        }
        try await app(makeServer(service)).test(.router) { client in
            let full = try await post(client, "/v1/chat/completions", #"{"messages":[{"role":"user","content":"x"}],"max_tokens":7}"#)
            XCTAssertEqual(full.status, 503)
            XCTAssertNotNil(full.headers[.retryAfter])
            XCTAssertEqual(try error(full.body)["code"] as? String, "queue_full")
            let ok = try await post(client, "/v1/chat/completions", #"{"messages":[{"role":"user","content":"x"}],"max_tokens":8}"#)
            XCTAssertEqual(ok.status, 200)
        }
    }

    func testFailureMidStreamIsAnErrorEventThenDone() async throws {
        let service = FakeGenerationService { _ in
            .init(deltas: [FakeGenerationService.content("partial")], finish: .stop,
                  failure: SchedulerError.modelFailed("NaN in layer 3"))
        }
        try await app(makeServer(service)).test(.router) { client in
            let r = try await post(client, "/v1/chat/completions", #"{"messages":[{"role":"user","content":"x"}],"stream":true}"#)
            XCTAssertEqual(r.status, 200)
            let ev = events(r.body)
            XCTAssertEqual(ev.last, "[DONE]")
            let e = try error(ev[ev.count - 2])
            XCTAssertTrue((e["message"] as? String ?? "").contains("NaN in layer 3"))
            let whole = try await post(client, "/v1/chat/completions", #"{"messages":[{"role":"user","content":"x"}]}"#)
            XCTAssertEqual(whole.status, 500)
            XCTAssertEqual(try error(whole.body)["type"] as? String, "server_error")
        }
    }

    func testAPIKey() async throws {
        try await app(makeServer(Self.helloService(), apiKey: "sekret")).test(.router) { client in
            let chat = #"{"messages":[{"role":"user","content":"x"}]}"#
            for key in [nil, "wrong", "sekre", "sekrett"] {
                let r = try await post(client, "/v1/chat/completions", chat, key: key)
                XCTAssertEqual(r.status, 401, "key \(key ?? "none")")
                XCTAssertEqual(try error(r.body)["code"] as? String, "invalid_api_key")
                let models = try await get(client, "/v1/models", key: key)
                XCTAssertEqual(models.status, 401)
                let metrics = try await get(client, "/metrics", key: key)
                XCTAssertEqual(metrics.status, 401)
            }
            let ok = try await post(client, "/v1/chat/completions", chat, key: "sekret")
            XCTAssertEqual(ok.status, 200)
            let models = try await get(client, "/v1/models", key: "sekret")
            XCTAssertEqual(models.status, 200)
            let health = try await get(client, "/health")
            XCTAssertEqual(health.status, 200, "/health needs no key")
        }
    }

    func testHealthBeforeAndAfterLoading() async throws {
        let server = makeServer(Self.helloService(), loaded: false)
        try await app(server).test(.router) { client in
            let before = try await get(client, "/health")
            XCTAssertEqual(before.status, 503)
            XCTAssertEqual(try error(before.body)["code"] as? String, "model_loading")
            let completion = try await post(client, "/v1/completions", #"{"prompt":"a"}"#)
            XCTAssertEqual(completion.status, 503)
            server.setModel(ServerModel(id: "tiny", tokenizer: Self.tokenizer, templates: Self.templates, contextLength: 64,
                                        defaultSampling: .greedy, service: Self.helloService(), created: 0))
            let after = try await get(client, "/health")
            XCTAssertEqual(after.status, 200)
        }
    }

    func testModels() async throws {
        try await app(makeServer(Self.helloService())).test(.router) { client in
            let list = try json(try await get(client, "/v1/models").body)
            XCTAssertEqual(list["object"] as? String, "list")
            let model = try XCTUnwrap((list["data"] as? [[String: Any]])?.first)
            XCTAssertEqual(model["id"] as? String, "tiny")
            XCTAssertEqual(model["object"] as? String, "model")
            let one = try await get(client, "/v1/models/tiny")
            XCTAssertEqual(one.status, 200)
            let other = try await get(client, "/v1/models/other")
            XCTAssertEqual(other.status, 404)
        }
    }

    func testCompletionsLegacyLogprobsNAndUsage() async throws {
        @Sendable func lp(_ text: String, _ token: Int) -> TokenLogprob {
            TokenLogprob(token: token, text: text, bytes: Array(text.utf8), logprob: -0.5,
                         top: [(token, text, -0.5), (9, "z", -2)])
        }
        let service = FakeGenerationService { _ in
            var d1 = FakeGenerationService.content("ab"); d1.logprobs = [lp("a", 1), lp("b", 2)]
            var d2 = FakeGenerationService.content("é"); d2.logprobs = [lp("é", 3)]
            return .init(deltas: [d1, d2], finish: .length)
        }
        try await app(makeServer(service)).test(.router) { client in
            let r = try await post(client, "/v1/completions", #"{"prompt":["x","y z"],"n":2,"logprobs":2,"max_tokens":3,"stop":"\n"}"#)
            XCTAssertEqual(r.status, 200, r.body)
            let body = try json(r.body)
            XCTAssertEqual(body["object"] as? String, "text_completion")
            let choices = try XCTUnwrap(body["choices"] as? [[String: Any]])
            XCTAssertEqual(choices.map { $0["index"] as? Int }, [0, 1, 2, 3])
            XCTAssertEqual(choices[0]["text"] as? String, "abé")
            XCTAssertEqual(choices[0]["finish_reason"] as? String, "length")
            let logprobs = try XCTUnwrap(choices[0]["logprobs"] as? [String: Any])
            XCTAssertEqual(logprobs["tokens"] as? [String], ["a", "b", "é"])
            XCTAssertEqual(logprobs["token_logprobs"] as? [Double], [-0.5, -0.5, -0.5])
            XCTAssertEqual(logprobs["text_offset"] as? [Int], [0, 1, 2])
            XCTAssertEqual((logprobs["top_logprobs"] as? [[String: Double]])?.first, ["a": -0.5, "z": -2])
            let usage = try XCTUnwrap(body["usage"] as? [String: Any])
            let prompts = service.requests.map(\.prompt.count)
            XCTAssertEqual(usage["prompt_tokens"] as? Int, prompts[0] + prompts[2], "each prompt counted once")
            XCTAssertEqual(usage["completion_tokens"] as? Int, 12)

            let s = try await post(client, "/v1/completions",
                                   #"{"prompt":"x","stream":true,"logprobs":1,"stream_options":{"include_usage":true}}"#)
            let chunks = try events(s.body).dropLast().map { try json($0) }
            let texts = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["text"] as? String }
            XCTAssertEqual(texts.joined(), "abé")
            let offsets = chunks.compactMap {
                (($0["choices"] as? [[String: Any]])?.first?["logprobs"] as? [String: Any])?["text_offset"] as? [Int]
            }
            XCTAssertEqual(offsets.flatMap { $0 }, [0, 1, 2], "offsets continue across chunks")
            XCTAssertEqual((chunks.last?["choices"] as? [Any])?.count, 0)
            XCTAssertEqual((chunks.last?["usage"] as? [String: Any])?["completion_tokens"] as? Int, 3)
        }
        XCTAssertEqual(service.requests[0].stop, ["\n"])
        XCTAssertEqual(service.requests[0].logprobs, 2)
        XCTAssertFalse(service.requests[0].splitReasoning, "raw completions keep the markers in the text")
        XCTAssertEqual(service.requests[0].prompt, Self.tokenizer.encode("x", addSpecialTokens: true))
    }

    func testTokenizeDetokenize() async throws {
        let tokenizer = Self.tokenizer
        try await app(makeServer(Self.helloService())).test(.router) { client in
            let text = "Hello 世界 [unused9]"
            let t = try json(try await post(client, "/tokenize", #"{"content":"Hello 世界 [unused9]"}"#).body)
            let ids = try XCTUnwrap(t["tokens"] as? [Int])
            XCTAssertEqual(ids, tokenizer.encode(text, addSpecialTokens: false))
            let withBOS = try json(try await post(client, "/tokenize", #"{"content":"Hi","add_special":true}"#).body)
            XCTAssertEqual(withBOS["tokens"] as? [Int], tokenizer.encode("Hi", addSpecialTokens: true))
            let pieces = try json(try await post(client, "/tokenize", #"{"content":"Hi","with_pieces":true}"#).body)
            let first = try XCTUnwrap((pieces["tokens"] as? [[String: Any]])?.first)
            XCTAssertNotNil(first["id"] as? Int)
            XCTAssertNotNil(first["piece"])
            let body = "{\"tokens\":[" + ids.map(String.init).joined(separator: ",") + "]}"
            let d = try json(try await post(client, "/detokenize", body).body)
            XCTAssertEqual(d["content"] as? String, text)
        }
    }

    func testMetricsCountRequestsAndTokens() async throws {
        try await app(makeServer(Self.helloService())).test(.router) { client in
            _ = try await post(client, "/v1/chat/completions", #"{"messages":[{"role":"user","content":"x"}]}"#)
            _ = try await post(client, "/v1/chat/completions", "{bad")
            let text = try await get(client, "/metrics").body
            XCTAssertTrue(text.contains(#"pangu_http_requests_total{route="/v1/chat/completions",method="POST",status="200"} 1"#), text)
            XCTAssertTrue(text.contains(#"pangu_http_requests_total{route="/v1/chat/completions",method="POST",status="400"} 1"#), text)
            XCTAssertTrue(text.contains("pangu_generation_tokens_total 3"), text)
            XCTAssertTrue(text.contains("pangu_time_to_first_token_seconds_count 1"), text)
            XCTAssertTrue(text.contains("pangu_sequences_running"), text)
        }
    }

    /// The service reports speculative totals; the counters follow them (each scrape adds what is new).
    func testMetricsReportSpeculativeTotals() {
        let metrics = ServerMetrics()
        var text = metrics.exposition(load: ServiceLoad(running: 1, waiting: 0, draftedTokens: 9, acceptedDraftTokens: 4))
        XCTAssertTrue(text.contains("pangu_speculative_draft_tokens_total 9"), text)
        XCTAssertTrue(text.contains("pangu_speculative_accepted_tokens_total 4"), text)
        text = metrics.exposition(load: ServiceLoad(running: 0, waiting: 0, draftedTokens: 15, acceptedDraftTokens: 4))
        XCTAssertTrue(text.contains("pangu_speculative_draft_tokens_total 15"), text)
        XCTAssertTrue(text.contains("pangu_speculative_accepted_tokens_total 4"), text)
    }

    func testCancellingAChoiceStreamCancelsEverySequence() async throws {
        let service = FakeGenerationService { _ in
            .init(deltas: (0..<1000).map { _ in FakeGenerationService.content("x") }, finish: .stop, pause: .milliseconds(5))
        }
        let model = ServerModel(id: "tiny", tokenizer: Self.tokenizer, templates: Self.templates, contextLength: 64,
                                defaultSampling: .greedy, service: service, created: 0)
        let metrics = ServerMetrics()
        let streams = try ChoiceStreams([GenerationRequest(prompt: [1], sampling: .greedy, maxTokens: 10),
                                         GenerationRequest(prompt: [1], sampling: .greedy, maxTokens: 10)],
                                        model: model, metrics: metrics)
        var seen = 0
        for try await _ in streams.events {
            seen += 1
            if seen == 3 { break }
        }
        streams.cancel()
        for _ in 0..<200 where service.cancelledCount < 2 { try await Task.sleep(for: .milliseconds(10)) }
        XCTAssertEqual(service.cancelledCount, 2)
        XCTAssertEqual(service.finishedCount, 0)
        for _ in 0..<200 where metrics.activeSequences.load(ordering: .relaxed) != 0 { try await Task.sleep(for: .milliseconds(10)) }
        XCTAssertEqual(metrics.activeSequences.load(ordering: .relaxed), 0)
    }
}
