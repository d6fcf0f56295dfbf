// ToolCallParser vs a Python reference implementation of PANGU.md §10 (scripts/chat/stream_goldens.py).
import Foundation
import XCTest
@testable import PanguChat

final class ToolCallParserTests: XCTestCase {
    struct Case {
        let output: String
        let content: String
        let calls: [(name: String, arguments: JinjaValue, json: String)]
    }

    func cases() throws -> [Case] {
        let d = try loadFixture("stream_goldens")
        guard case let .array(items)? = d["tools"] else { throw ChatTemplateError("bad fixture") }
        return items.compactMap { item in
            guard case let .dict(c) = item, case let .array(calls)? = c["calls"] else { return nil }
            return Case(output: str(c["output"])!, content: str(c["content"])!, calls: calls.compactMap { v in
                guard case let .dict(x) = v else { return nil }
                return (str(x["name"])!, x["arguments"]!, str(x["arguments_json"])!)
            })
        }
    }

    func check(_ calls: [ParsedToolCall], _ c: Case, _ what: String) {
        XCTAssertEqual(calls.map(\.name), c.calls.map(\.name), what)
        XCTAssertEqual(calls.map(\.arguments), c.calls.map(\.arguments), what)
        XCTAssertEqual(calls.map(\.argumentsJSON), c.calls.map(\.json), what)
    }

    func testNonStreamingMatchesReference() throws {
        let all = try cases()
        XCTAssertGreaterThanOrEqual(all.count, 6)
        for c in all {
            let r = ToolCallParser.parse(c.output)
            XCTAssertEqual(r.content, c.content, c.output)
            check(r.calls, c, c.output)
        }
    }

    func testEveryTwoChunkSplitStreamsNamesAndArguments() throws {
        var n = 0
        for c in try cases() {
            let u = Array(c.output.unicodeScalars)
            for i in 0...u.count {
                var p = ToolCallParser()
                var events = p.feed(String(String.UnicodeScalarView(u[..<i])))
                events += p.feed(String(String.UnicodeScalarView(u[i...])))
                events += p.finish()
                check(p.calls, c, "split \(i) of \(c.output)")
                var content = "", names: [Int: String] = [:], args: [Int: String] = [:], decoded: [ParsedToolCall] = []
                for e in events {
                    switch e {
                    case let .content(s): content += s
                    case let .invalid(s): content += s
                    case let .name(k, name):
                        XCTAssertNil(names[k], "name emitted twice")
                        names[k] = name
                    case let .arguments(k, d):
                        XCTAssertNotNil(names[k], "arguments before name")
                        args[k, default: ""] += d
                    case let .calls(cs): decoded += cs
                    }
                }
                XCTAssertFalse(content.contains("[unused11]") && !c.output.contains("not json"), "marker leaked")
                XCTAssertEqual(try pyStrip(content, nil, mode: 0), c.content)
                check(decoded, c, "events of split \(i)")
                XCTAssertEqual((0..<c.calls.count).map { names[$0] }, c.calls.map(\.name))
                for (k, call) in c.calls.enumerated() {
                    // The streamed raw arguments text must be the JSON of that call's arguments.
                    var streamed = try JSONCoding.parse(args[k] ?? "null")
                    if case let .string(s) = streamed, let inner = try? JSONCoding.parse(s) { streamed = inner }
                    XCTAssertEqual(streamed, call.arguments, "streamed args of call \(k), split \(i)")
                }
                n += 1
            }
        }
        print("tool call parser: \(n) chunkings checked")
    }

    func testNameIsEmittedBeforeTheSpanCloses() {
        var p = ToolCallParser()
        var ev = p.feed("Checking.[unused11][{\"name\": \"get_wea")
        XCTAssertEqual(ev, [.content("Checking.")])
        ev = p.feed("ther\", \"arguments\": {\"loc")
        XCTAssertEqual(ev.first, .name(index: 0, name: "get_weather"))
        ev = p.feed("ation\": \"Paris\"}}][unused1")
        XCTAssertTrue(ev.allSatisfy { if case .arguments = $0 { return true } else { return false } })
        ev = p.feed("2]")
        XCTAssertEqual(ev, [.calls([ParsedToolCall(name: "get_weather", arguments: ["location": "Paris"])])])
    }

    func testAssistantHistoryTurnRoundTrips() throws {
        for c in try cases() where !c.calls.isEmpty {
            let calls = c.calls.map { ParsedToolCall(name: $0.name, arguments: $0.arguments) }
            let msg = try ToolPrompt.assistantMessage(content: "Calling.", calls: calls)
            let back = ToolCallParser.parse(msg.content!)
            XCTAssertEqual(back.content, "Calling.")
            XCTAssertEqual(back.calls, calls)
            let prompt = try ChatTemplate.pangu.render(messages: [.user("q"), msg], addGenerationPrompt: false)
            XCTAssertTrue(prompt.hasSuffix("[unused9]助手：" + msg.content! + "[unused10]"))
        }
    }

    func testMalformedAndHostileInputNeverCrashes() throws {
        // Unterminated span with a complete array: parsed at finish.
        var p = ToolCallParser()
        _ = p.feed("x[unused11][{\"name\": \"f\", \"arguments\": {\"a\": 1}}]")
        XCTAssertEqual(p.finish(), [.calls([ParsedToolCall(name: "f", arguments: ["a": 1])])])
        // Unterminated span with partial JSON: reported as invalid text, not dropped.
        p = ToolCallParser()
        _ = p.feed("x[unused11][{\"name\": \"f\", \"argu")
        XCTAssertEqual(p.finish(), [.invalid("[unused11][{\"name\": \"f\", \"argu")])
        XCTAssertTrue(p.calls.isEmpty)
        // Deep nesting is an error, not a stack overflow.
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        XCTAssertThrowsError(try JSONCoding.parse(deep))
        XCTAssertEqual(ToolCallParser.parse("[unused11]" + deep + "[unused12]").calls, [])
        // Invalid JSON pieces.
        for bad in ["", "x", "-", "[1,]", "{\"a\" 1}", "\"\\u12\"", "nul", "[1] 2", "01x", "1e", "{\"a\":}"] {
            XCTAssertThrowsError(try JSONCoding.parse(bad), bad)
        }
        XCTAssertEqual(try JSONCoding.parse(" {\"a\": [1, 2.0, -3e2, true, null, \"\\ud83d\\ude00\"]} "),
                       ["a": [1, 2.0, -300.0, true, nil, "😀"]])
    }

    func testAlternativeMarkers() {
        let r = ToolCallParser.parse("x<|tool_call_start|>[{\"name\": \"f\", \"arguments\": {}}]<|tool_call_end|>", markers: .panguV2)
        XCTAssertEqual(r.content, "x")
        XCTAssertEqual(r.calls.map(\.name), ["f"])
    }
}

final class ChatPipelineTests: XCTestCase {
    /// Generated text → ReasoningSplitter → ToolCallParser, streamed in chunks of every size 1…12.
    func testReasoningThenToolCallsStreaming() throws {
        let d = try loadFixture("stream_goldens")
        guard case let .array(items)? = d["pipeline"] else { return XCTFail("bad fixture") }
        var runs = 0
        for case let .dict(c) in items {
            let output = Array(str(c["output"])!.unicodeScalars)
            guard case let .array(callsV)? = c["calls"] else { return XCTFail("bad fixture") }
            let expectedCalls = callsV.compactMap { v -> ParsedToolCall? in
                guard case let .dict(x) = v else { return nil }
                return ParsedToolCall(name: str(x["name"])!, arguments: x["arguments"]!)
            }
            for size in 1...12 {
                var r = ReasoningSplitter()
                var t = ToolCallParser()
                var reasoning = ""
                var pos = 0
                while pos < output.count {
                    let chunk = String(String.UnicodeScalarView(output[pos..<min(pos + size, output.count)]))
                    pos += size
                    let delta = r.feed(chunk)
                    reasoning += delta.reasoning
                    _ = t.feed(delta.content)
                }
                let last = r.finish()
                reasoning += last.reasoning
                _ = t.feed(last.content)
                _ = t.finish()
                XCTAssertEqual(reasoning, str(c["thinking"]))
                XCTAssertEqual(try pyStrip(t.content, nil, mode: 0), str(c["content"]))
                XCTAssertEqual(t.calls, expectedCalls)
                runs += 1
            }
        }
        print("pipeline: \(runs) streamed runs match the Python reference")
    }
}
