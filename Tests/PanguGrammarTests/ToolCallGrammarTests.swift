import Foundation
import PanguChat
import PanguGrammar
import PanguTokenizer
import XCTest

/// Forced tool calls: sampled outputs are `[unused11]` + JSON array + `[unused12]`, parse with the chat layer's
/// ToolCallParser, name known tools, and carry arguments valid against the tool's parameters schema.
final class ToolCallGrammarTests: XCTestCase {
    static let tools: [(name: String, parametersJSON: String)] = [
        ("get_weather", """
        {"type":"object","properties":{"city":{"type":"string","minLength":1,"maxLength":10},
         "unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["city"],"additionalProperties":false}
        """),
        ("add", #"{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer","minimum":0,"maximum":9}},"required":["a","b"]}"#),
        ("ping", "{}"),
    ]

    func sampleCalls(forced: String?) throws -> [(text: String, calls: [ParsedToolCall])] {
        let tok = try BuiltinTokenizer.tinyPangu()
        let vocab = GrammarVocabulary(tokenizer: tok)
        let g = try TokenGrammar.toolCalls(Self.tools, forcedName: forced, open: "[unused11]", close: "[unused12]",
                                           vocabulary: vocab)
        let eos = tok.eosTokenIds[0]
        let bias = GrammarSamplingTests.closingBias(vocab)
        var out: [(String, [ParsedToolCall])] = []
        for seed in 0..<UInt64(16) {
            let c = g.makeConstraint(eosTokenIds: [eos], reasoning: nil)
            let (ids, done) = try sample(c, vocabularySize: vocab.count, eos: eos, seed: seed, maxTokens: 400, bias: bias)
            guard done else { continue }
            XCTAssertEqual(ids.first, vocab.specialTokens["[unused11]"], "no text before the call")
            XCTAssertEqual(ids.last, vocab.specialTokens["[unused12]"])
            let text = tok.decode(ids)
            let parsed = ToolCallParser.parse(text)
            XCTAssertEqual(parsed.content, "", text)
            XCTAssertFalse(parsed.calls.isEmpty, text)
            out.append((text, parsed.calls))
        }
        XCTAssertGreaterThanOrEqual(out.count, 8)
        return out
    }

    func validate(_ samples: [(text: String, calls: [ParsedToolCall])]) throws {
        var pairs: [(schema: String, document: String)] = []
        for (text, calls) in samples {
            for call in calls {
                guard let tool = Self.tools.first(where: { $0.name == call.name }) else {
                    XCTFail("unknown tool \(call.name) in \(text)")
                    continue
                }
                guard case .dict = call.arguments else { XCTFail("arguments not an object: \(text)"); continue }
                let schema = tool.parametersJSON == "{}" ? #"{"type":"object"}"# : tool.parametersJSON
                pairs.append((schema, call.argumentsJSON))
                if call.name == "add" {
                    let args = try JSONSerialization.jsonObject(with: Data(call.argumentsJSON.utf8)) as? [String: Any]
                    XCTAssertNotNil(args?["a"] as? Int, text)
                    XCTAssertNotNil(args?["b"] as? Int, text)
                }
            }
        }
        if let bad = try pythonInvalidIndices(pairs) {
            for i in bad { XCTFail("jsonschema rejects arguments \(pairs[i].document) for \(pairs[i].schema)") }
            print("tool calls: \(pairs.count) sampled argument objects validated by python jsonschema")
        }
    }

    func testAnyToolCall() throws {
        let samples = try sampleCalls(forced: nil)
        try validate(samples)
        print("tool call example: \(samples[0].text.debugDescription)")
    }

    func testForcedToolCall() throws {
        let samples = try sampleCalls(forced: "add")
        for (text, calls) in samples { XCTAssert(calls.allSatisfy { $0.name == "add" }, text) }
        try validate(samples)
    }

    /// Recognizer checks on exact texts over the byte vocabulary (markers as special token ids).
    func testToolCallRecognition() throws {
        let vocab = GrammarFixtures.byteVocabulary()
        let g = try TokenGrammar.toolCalls(Self.tools, forcedName: nil, open: "[unused11]", close: "[unused12]",
                                           vocabulary: vocab)
        func ok(_ body: String, open: Int = GrammarFixtures.toolOpen, close: Int = GrammarFixtures.toolClose) throws -> Bool {
            try recognizes(g, tokens: [open] + Array(body.utf8).map(Int.init) + [close], vocabularySize: vocab.count,
                           eos: GrammarFixtures.eos)
        }
        XCTAssertTrue(try ok(#"[{"name": "add", "arguments": {"a": -4, "b": 9}}]"#))
        XCTAssertTrue(try ok(#"[{"name":"ping","arguments":{}}, {"name":"get_weather","arguments":{"city":"Paris"}}]"#))
        XCTAssertFalse(try ok(#"[{"name": "add", "arguments": {"a": -4, "b": 10}}]"#))
        XCTAssertFalse(try ok(#"[{"name": "sub", "arguments": {}}]"#))
        XCTAssertFalse(try ok(#"[]"#))
        XCTAssertFalse(try ok(#"[{"name":"ping","arguments":{}}]"#, close: GrammarFixtures.eos))
        XCTAssertFalse(try ok(#"[{"name":"ping","arguments":{}}]"#, open: GrammarFixtures.otherSpecial))
        // The marker must be the special token, not its spelling in bytes.
        XCTAssertFalse(try recognizes(g, tokens: Array("[unused11][]".utf8).map(Int.init), vocabularySize: vocab.count,
                                      eos: GrammarFixtures.eos))
        // With reasoning: the first token is the reasoning open token or the tool-call open marker, nothing else.
        let c = g.makeConstraint(eosTokenIds: [GrammarFixtures.eos], reasoning: (GrammarFixtures.thinkOpen, GrammarFixtures.thinkClose))
        var logits = [Float](repeating: 0, count: vocab.count)
        c.mask(&logits)
        XCTAssertEqual(logits.indices.filter { logits[$0].isFinite }, [GrammarFixtures.toolOpen, GrammarFixtures.thinkOpen])
        try c.accept(GrammarFixtures.thinkOpen)
        for b in "I should call add.".utf8 { try c.accept(Int(b)) }
        try c.accept(GrammarFixtures.thinkClose)
        logits = [Float](repeating: 0, count: vocab.count)
        c.mask(&logits)
        XCTAssertEqual(logits.indices.filter { logits[$0].isFinite }, [GrammarFixtures.toolOpen])
        let forced = try TokenGrammar.toolCalls(Self.tools, forcedName: "ping", open: "[unused11]", close: "[unused12]",
                                                vocabulary: vocab)
        XCTAssertFalse(try recognizes(forced, tokens: [GrammarFixtures.toolOpen] + Array(#"[{"name":"add","arguments":{"a":1,"b":2}}]"#.utf8).map(Int.init) + [GrammarFixtures.toolClose],
                                      vocabularySize: vocab.count, eos: GrammarFixtures.eos))
    }
}
