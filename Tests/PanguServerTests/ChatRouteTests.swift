// /v1/chat/completions through the router: response shapes, SSE framing, usage chunk, reasoning, tool calls,
// request mapping (thinking mode, sampling, constraints).
import Foundation
import HummingbirdTesting
import PanguChat
import PanguEngine
@testable import PanguServer
import PanguTestSupport
import XCTest

final class ChatRouteTests: ServerTestCase {
    func testNonStreamingShapeUsageAndReasoning() async throws {
        let service = Self.helloService()
        try await app(makeServer(service)).test(.router) { client in
            let r = try await post(client, "/v1/chat/completions",
                                   #"{"model":"tiny","messages":[{"role":"user","content":"Hi"}],"max_tokens":20}"#)
            XCTAssertEqual(r.status, 200, r.body)
            let body = try json(r.body)
            XCTAssertEqual(body["object"] as? String, "chat.completion")
            XCTAssertTrue((body["id"] as? String ?? "").hasPrefix("chatcmpl-"))
            XCTAssertEqual(body["model"] as? String, "tiny")
            let choice = try XCTUnwrap((body["choices"] as? [[String: Any]])?.first)
            XCTAssertEqual(choice["finish_reason"] as? String, "stop")
            let message = try XCTUnwrap(choice["message"] as? [String: Any])
            XCTAssertEqual(message["role"] as? String, "assistant")
            XCTAssertEqual(message["content"] as? String, "Hello world")
            XCTAssertEqual(message["reasoning_content"] as? String, "think")
            XCTAssertEqual(message["reasoning"] as? String, "think")
            let usage = try XCTUnwrap(body["usage"] as? [String: Any])
            let prompt = service.requests[0].prompt.count
            XCTAssertEqual(usage["prompt_tokens"] as? Int, prompt)
            XCTAssertEqual(usage["completion_tokens"] as? Int, 3)
            XCTAssertEqual(usage["total_tokens"] as? Int, prompt + 3)
        }
        // The prompt is the chat template's rendering, tokenized with BOS.
        let expected = try Self.templates.prompt(messages: [.user("Hi")], thinking: .slow)
        XCTAssertEqual(service.requests[0].prompt, Self.tokenizer.encode(expected, addSpecialTokens: true))
        XCTAssertEqual(service.requests[0].maxTokens, 20)
        XCTAssertTrue(service.requests[0].splitReasoning)
        XCTAssertFalse(service.requests[0].parseToolCalls)
    }

    func testStreamingFramingDeltasAndUsageChunk() async throws {
        try await app(makeServer(Self.helloService())).test(.router) { client in
            let r = try await post(client, "/v1/chat/completions",
                                   #"{"messages":[{"role":"user","content":"Hi"}],"stream":true,"stream_options":{"include_usage":true}}"#)
            XCTAssertEqual(r.status, 200)
            XCTAssertEqual(r.headers[.contentType], "text/event-stream")
            let ev = events(r.body)
            XCTAssertEqual(ev.last, "[DONE]")
            let chunks = try ev.dropLast().map { try json($0) }
            for c in chunks {
                XCTAssertEqual(c["object"] as? String, "chat.completion.chunk")
                XCTAssertTrue(c.keys.contains("usage"), "with include_usage every chunk carries usage (null or final)")
            }
            let usageChunk = try XCTUnwrap(chunks.last)
            XCTAssertEqual((usageChunk["choices"] as? [Any])?.count, 0)
            XCTAssertEqual((usageChunk["usage"] as? [String: Any])?["completion_tokens"] as? Int, 3)
            let choiceChunks = chunks.dropLast().compactMap { ($0["choices"] as? [[String: Any]])?.first }
            let deltas = choiceChunks.compactMap { $0["delta"] as? [String: Any] }
            XCTAssertEqual(deltas.first?["role"] as? String, "assistant")
            XCTAssertEqual(deltas.compactMap { $0["content"] as? String }.joined(), "Hello world")
            XCTAssertEqual(deltas.compactMap { $0["reasoning_content"] as? String }.joined(), "think")
            XCTAssertEqual(choiceChunks.compactMap { $0["finish_reason"] as? String }, ["stop"])
            XCTAssertEqual(choiceChunks.last?["finish_reason"] as? String, "stop")
        }
    }

    func testStreamingWithoutUsageHasNoUsageKey() async throws {
        try await app(makeServer(Self.helloService())).test(.router) { client in
            let r = try await post(client, "/v1/chat/completions", #"{"messages":[{"role":"user","content":"Hi"}],"stream":true}"#)
            let chunks = try events(r.body).dropLast().map { try json($0) }
            XCTAssertFalse(chunks.isEmpty)
            XCTAssertTrue(chunks.allSatisfy { !$0.keys.contains("usage") && ($0["choices"] as? [Any])?.count == 1 })
        }
    }

    func testThinkingModeSamplingAndStopMapping() async throws {
        let service = Self.helloService()
        try await app(makeServer(service)).test(.router) { client in
            for (extra, suffix) in [(#""reasoning_effort":"low""#, "/no_think"), (#""reasoning_effort":"medium""#, "/auto_think"),
                                    (#""chat_template_kwargs":{"enable_thinking":false}"#, "/no_think"),
                                    (#""chat_template_kwargs":{"think":"auto"}"#, "/auto_think")] {
                let r = try await post(client, "/v1/chat/completions",
                                       #"{"messages":[{"role":"user","content":"Hi"}],"#
                                       + extra + #","temperature":0.5,"top_p":0.9,"top_k":7,"min_p":0.1,"seed":42,"stop":["x","yz"],"presence_penalty":0.5,"frequency_penalty":-0.5,"repetition_penalty":1.1,"n":2}"#)
                XCTAssertEqual(r.status, 200, r.body)
                let req = service.requests[service.requests.count - 1]
                XCTAssertTrue(Self.tokenizer.decode(req.prompt).contains(suffix), "\(extra) → \(suffix)")
                XCTAssertEqual(try json(r.body)["choices"].map { ($0 as? [Any])?.count }, 2)
            }
        }
        let a = service.requests[0], b = service.requests[1]
        XCTAssertEqual(a.sampling.temperature, 0.5)
        XCTAssertTrue(a.sampling.doSample)
        XCTAssertEqual(a.sampling.topP, 0.9)
        XCTAssertEqual(a.sampling.topK, 7)
        XCTAssertEqual(a.sampling.minP, 0.1)
        XCTAssertEqual(a.sampling.repetitionPenalty, 1.1)
        XCTAssertEqual(a.stop, ["x", "yz"])
        XCTAssertEqual(a.presencePenalty, 0.5)
        XCTAssertEqual(a.frequencyPenalty, -0.5)
        XCTAssertEqual(a.sampling.seed, 42)
        XCTAssertEqual(b.sampling.seed, 43, "choice i of n uses seed + i")
        XCTAssertEqual(a.maxTokens, 1024 - a.prompt.count, "no max_tokens: up to the context")
    }

    func testToolCallsStreamedAndWhole() async throws {
        let service = FakeGenerationService { _ in
            var d1 = GenerationDelta(); d1.toolCalls = [.name(index: 0, name: "get_weather"), .arguments(index: 0, delta: #"{"city""#)]
            var d2 = GenerationDelta(); d2.toolCalls = [.arguments(index: 0, delta: #": "Paris"}"#)]
            var d3 = GenerationDelta()
            d3.toolCalls = [.calls([ParsedToolCall(name: "get_weather", arguments: ["city": "Paris"])])]
            return .init(deltas: [d1, d2, d3], finish: .toolCalls)
        }
        let tools = #""tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]"#
        try await app(makeServer(service)).test(.router) { client in
            let whole = try await post(client, "/v1/chat/completions", #"{"messages":[{"role":"user","content":"Weather?"}],"# + tools + "}")
            let choice = try XCTUnwrap((try json(whole.body)["choices"] as? [[String: Any]])?.first)
            XCTAssertEqual(choice["finish_reason"] as? String, "tool_calls")
            let message = try XCTUnwrap(choice["message"] as? [String: Any])
            XCTAssertTrue(message["content"] is NSNull)
            let call = try XCTUnwrap((message["tool_calls"] as? [[String: Any]])?.first)
            XCTAssertEqual(call["type"] as? String, "function")
            XCTAssertTrue((call["id"] as? String ?? "").hasPrefix("call_"))
            let fn = try XCTUnwrap(call["function"] as? [String: Any])
            XCTAssertEqual(fn["name"] as? String, "get_weather")
            XCTAssertEqual(try json(fn["arguments"] as? String ?? "") as NSDictionary, ["city": "Paris"])

            let streamed = try await post(client, "/v1/chat/completions",
                                          #"{"messages":[{"role":"user","content":"Weather?"}],"stream":true,"# + tools + "}")
            let choices = try events(streamed.body).dropLast().compactMap { try (json($0)["choices"] as? [[String: Any]])?.first }
            let calls = choices.compactMap { ($0["delta"] as? [String: Any])?["tool_calls"] as? [[String: Any]] }.flatMap { $0 }
            XCTAssertEqual(calls.first?["type"] as? String, "function")
            XCTAssertNotNil(calls.first?["id"])
            XCTAssertEqual((calls.first?["function"] as? [String: Any])?["name"] as? String, "get_weather")
            XCTAssertTrue(calls.dropFirst().allSatisfy { $0["id"] == nil && $0["index"] as? Int == 0 })
            let args = calls.compactMap { ($0["function"] as? [String: Any])?["arguments"] as? String }.joined()
            XCTAssertEqual(try json(args) as NSDictionary, ["city": "Paris"])
            XCTAssertEqual(choices.last?["finish_reason"] as? String, "tool_calls")
        }
        XCTAssertTrue(service.requests[0].parseToolCalls)
        let prompt = Self.tokenizer.decode(service.requests[0].prompt)
        XCTAssertTrue(prompt.contains("get_weather") && prompt.contains("[unused11]"), "tools shown through ToolPrompt")
    }

    func testToolChoiceAndResponseFormatBuildConstraints() async throws {
        let service = Self.helloService(), constraints = RecordingConstraints()
        let tools = #""tools":[{"type":"function","function":{"name":"a"}},{"type":"function","function":{"name":"b"}}]"#
        try await app(makeServer(service, constraints: constraints)).test(.router) { client in
            let base = #"{"messages":[{"role":"user","content":"x"}],"#
            var r = try await post(client, "/v1/chat/completions", base + tools + #","tool_choice":"required"}"#)
            XCTAssertEqual(r.status, 200, r.body)
            r = try await post(client, "/v1/chat/completions", base + tools + #","tool_choice":{"type":"function","function":{"name":"b"}}}"#)
            XCTAssertEqual(r.status, 200, r.body)
            r = try await post(client, "/v1/chat/completions", base + tools + #","tool_choice":{"type":"function","function":{"name":"zzz"}}}"#)
            XCTAssertEqual(r.status, 400)
            XCTAssertEqual(try error(r.body)["param"] as? String, "tool_choice")
            r = try await post(client, "/v1/chat/completions", base + tools + #","tool_choice":"none"}"#)
            XCTAssertEqual(r.status, 200)
            r = try await post(client, "/v1/chat/completions", base + #""response_format":{"type":"json_object"},"reasoning_effort":"low"}"#)
            XCTAssertEqual(r.status, 200)
            r = try await post(client, "/v1/chat/completions",
                               base + #""response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"type":"object"}}}}"#)
            XCTAssertEqual(r.status, 200)
            r = try await post(client, "/v1/chat/completions",
                               base + #""response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"reject":1}}}}"#)
            XCTAssertEqual(r.status, 400)
            XCTAssertEqual(try error(r.body)["code"] as? String, "invalid_json_schema")
        }
        XCTAssertEqual(constraints.calls, ["tools:a,b:*", "tools:a,b:b", "object fast", #"schema:{"type":"object"}"#],
                       "fast thinking allows no reasoning before the constrained text")
        XCTAssertEqual(service.requests.map { $0.constraint != nil }, [true, true, false, true, true])
        XCTAssertFalse(service.requests[2].parseToolCalls, "tool_choice none: no tools, no parsing")
    }

    func testHistoryWithToolCallsAndTextParts() async throws {
        let service = Self.helloService()
        try await app(makeServer(service)).test(.router) { client in
            let r = try await post(client, "/v1/chat/completions", #"""
                {"messages":[{"role":"system","content":[{"type":"text","text":"Be brief."}]},
                 {"role":"user","content":"Weather?"},
                 {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Paris\"}"}}]},
                 {"role":"tool","tool_call_id":"call_1","content":"sunny"}]}
                """#)
            XCTAssertEqual(r.status, 200, r.body)
        }
        let prompt = Self.tokenizer.decode(service.requests[0].prompt)
        XCTAssertTrue(prompt.contains("Be brief."))
        XCTAssertTrue(prompt.contains(#"[unused11][{"name": "get_weather", "arguments": {"city": "Paris"}}][unused12]"#), prompt)
        XCTAssertTrue(prompt.contains("sunny"))
    }
}
