// ReasoningSplitter vs the official openPangu parse (goldens computed in Python by scripts/chat/stream_goldens.py).
import Foundation
import XCTest
@testable import PanguChat

final class ReasoningSplitterTests: XCTestCase {
    struct Case {
        let output: String
        let wellFormed: Bool
        let markers: ReasoningMarkers
        let thinking: String
        let content: String
    }

    func cases() throws -> [Case] {
        let d = try loadFixture("stream_goldens")
        guard case let .array(items)? = d["reasoning"] else { throw ChatTemplateError("bad fixture") }
        return items.compactMap { item in
            guard case let .dict(c) = item else { return nil }
            return Case(output: str(c["output"])!, wellFormed: c["well_formed"] == .bool(true),
                        markers: str(c["markers"]) == "think" ? .think : .pangu,
                        thinking: str(c["thinking"])!, content: str(c["content"])!)
        }
    }

    /// Feeds `chunks`, checks the deltas add up to the final result, returns it.
    func stream(_ chunks: [String], _ m: ReasoningMarkers, startsInReasoning: Bool = false) -> ReasoningParse {
        var s = ReasoningSplitter(markers: m, startsInReasoning: startsInReasoning)
        var r = "", c = ""
        for ch in chunks { let d = s.feed(ch); r += d.reasoning; c += d.content }
        let d = s.finish()
        r += d.reasoning; c += d.content
        XCTAssertEqual(ReasoningParse(reasoning: r, content: c), s.result, "deltas do not add up for \(chunks)")
        return s.result
    }

    func testOfficialParseMatchesPython() throws {
        let all = try cases()
        XCTAssertGreaterThan(all.count, 10)
        for c in all {
            XCTAssertEqual(officialReasoningParse(c.output, markers: c.markers),
                           ReasoningParse(reasoning: c.thinking, content: c.content), c.output.debugDescription)
        }
    }

    func testEveryTwoAndThreeChunkSplitOfWellFormedOutputs() throws {
        var splits = 0
        for c in try cases() where c.wellFormed {
            let expected = ReasoningParse(reasoning: c.thinking, content: c.content)
            let u = Array(c.output.unicodeScalars)
            func s(_ a: Int, _ b: Int) -> String { var v = String.UnicodeScalarView(); v.append(contentsOf: u[a..<b]); return String(v) }
            XCTAssertEqual(stream([c.output], c.markers), expected)
            for i in 0...u.count {
                XCTAssertEqual(stream([s(0, i), s(i, u.count)], c.markers), expected, "split at \(i): \(c.output.debugDescription)")
                splits += 1
                for j in i...u.count where (j - i) % 3 == 0 || j - i < 12 {
                    let r = stream([s(0, i), s(i, j), s(j, u.count)], c.markers)
                    if r != expected { XCTFail("3-split \(i),\(j) of \(c.output.debugDescription): \(r)") }
                    splits += 1
                }
            }
            // One scalar at a time.
            XCTAssertEqual(stream(u.map { String($0) }, c.markers), expected)
        }
        print("reasoning splitter: \(splits) chunkings of well-formed outputs equal the official parse")
    }

    func testByteChunksSplittingMultibyteCharacters() throws {
        var splits = 0
        for c in try cases() where c.wellFormed {
            let expected = ReasoningParse(reasoning: c.thinking, content: c.content)
            let bytes = Array(c.output.utf8)
            for i in 0...bytes.count {
                for j in stride(from: i, through: bytes.count, by: 2) {
                    var s = ReasoningSplitter(markers: c.markers)
                    var r = "", t = ""
                    for part in [bytes[..<i], bytes[i..<j], bytes[j...]] {
                        let d = s.feed(bytes: Array(part))
                        r += d.reasoning; t += d.content
                    }
                    let d = s.finish()
                    r += d.reasoning; t += d.content
                    if ReasoningParse(reasoning: r, content: t) != expected {
                        XCTFail("byte split \(i),\(j) of \(c.output.debugDescription): \(r.debugDescription) / \(t.debugDescription)")
                    }
                    splits += 1
                }
            }
        }
        print("reasoning splitter: \(splits) byte chunkings equal the official parse")
    }

    func testUnclosedReasoningIsReasoningWhileStreamingAndAtFinish() {
        var s = ReasoningSplitter()
        var r = ""
        for ch in ["[unu", "sed16]Let me ", "think about [unused1", "7 oops"] { r += s.feed(ch).reasoning }
        // Everything after the open marker is reasoning already while streaming (no closing marker seen).
        XCTAssertEqual(r, "Let me think about [unused17 oops")
        XCTAssertTrue(s.reasoningOpened)
        XCTAssertFalse(s.reasoningClosed)
        let d = s.finish()
        XCTAssertEqual(s.result.reasoning, "Let me think about [unused17 oops")
        XCTAssertEqual(s.result.content, "")
        XCTAssertEqual(d.content, "")
    }

    func testNoOpenMarkerIsAnswerUnlessPromptOpenedTheBlock() throws {
        let all = try cases()
        let plain = try XCTUnwrap(all.first { $0.output.hasPrefix("plain answer") })
        // Rule: no open marker -> the whole output up to the end marker is the answer.
        XCTAssertEqual(stream(["plain ans", "wer, no markers[unu", "sed10]"], .pangu),
                       ReasoningParse(reasoning: "", content: plain.content))
        // Prompt already opened the block: same as the official parse (which assumes the open is implicit).
        let opened = try XCTUnwrap(all.first { $0.output.hasPrefix("reasoning from an opened prompt") })
        for i in 0...opened.output.unicodeScalars.count {
            let u = Array(opened.output.unicodeScalars)
            let a = String(String.UnicodeScalarView(u[..<i])), b = String(String.UnicodeScalarView(u[i...]))
            XCTAssertEqual(stream([a, b], .pangu, startsInReasoning: true),
                           ReasoningParse(reasoning: opened.thinking, content: opened.content))
        }
    }

    func testPromptOpenedBlockDetection() throws {
        // DeepSeek-R1's generation prompt ends with "<think>\n" (rendered by jinja2 in the goldens).
        let data = try loadFixture("template_goldens")
        guard case let .array(cases)? = data["cases"] else { return XCTFail("fixture") }
        let r1 = try XCTUnwrap(cases.compactMap { v -> String? in
            guard case let .dict(c) = v, str(c["template"]) == "deepseek-r1", str(c["conversation"]) == "single_user",
                  case let .dict(ctx)? = c["context"], ctx["add_generation_prompt"] == .bool(true) else { return nil }
            return str(c["expected"])
        }.first)
        var s = ReasoningSplitter(prompt: r1, markers: .think)
        _ = s.feed("thinking...</think>\n\nanswer")
        _ = s.finish()
        XCTAssertEqual(s.result, ReasoningParse(reasoning: "thinking...", content: "answer"))
        // The Pangu prompt does not open the block.
        let pangu = try ChatTemplate.pangu.prompt(messages: [.user("hi")])
        s = ReasoningSplitter(prompt: pangu)
        _ = s.feed("plain")
        _ = s.finish()
        XCTAssertEqual(s.result, ReasoningParse(reasoning: "", content: "plain"))
        s = ReasoningSplitter(prompt: "x<think>a</think>", markers: .think)
        _ = s.feed("b")
        _ = s.finish()
        XCTAssertEqual(s.result.content, "b")
    }

    func testEndMarkerStopsEverythingAndIsStripped() {
        let r = ReasoningSplitter.split("[unused16]r[unused17]answer[unused10][unused9]用户：more")
        XCTAssertEqual(r, officialReasoningParse("[unused16]r[unused17]answer[unused10][unused9]用户：more"))
        XCTAssertFalse(r.content.contains("[unused"))
    }
}
