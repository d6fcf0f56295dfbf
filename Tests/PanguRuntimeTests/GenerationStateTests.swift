// The per-sequence generation state against hand-computed expectations: penalties over the whole sequence
// (cached prefix included), constraint masking, NaN/inf logits, log-probabilities, EOS and budget, stop strings
// (never emitted, held back only while they could still match), UTF-8-safe chunks, reasoning and tool-call deltas.
import Foundation
import PanguChat
import PanguEngine
import PanguRuntime
import PanguTestSupport
import PanguTokenizer
import XCTest

/// Allows only `allowed`; records accepted tokens.
final class OnlyConstraint: LogitsConstraint {
    let allowed: Set<Int>
    var accepted: [Int] = []
    init(_ allowed: Set<Int>) { self.allowed = allowed }
    func mask(_ logits: inout [Float]) { for i in logits.indices where !allowed.contains(i) { logits[i] = -.infinity } }
    func accept(_ token: Int) throws { accepted.append(token) }
    var isComplete: Bool { false }
}

final class SequenceDecoderTests: XCTestCase {
    func decoder(_ context: [Int], _ s: SamplingParameters = .greedy, eos: [Int] = [], max: Int = 10,
                 presence: Float = 0, frequency: Float = 0, logprobs: Int? = nil,
                 constraint: LogitsConstraint? = nil) throws -> SequenceDecoder {
        var settings = DecodeSettings(sampling: s, eosTokenIds: eos, maxTokens: max, logprobs: logprobs)
        settings.presencePenalty = presence
        settings.frequencyPenalty = frequency
        return try SequenceDecoder(context: context, settings: settings, constraint: constraint)
    }

    func token(_ step: DecodeStep) -> Int? {
        if case let .token(id, _, _) = step { return id }
        return nil
    }

    func testRepetitionPenaltyCoversTheWholeContext() throws {
        // Token 2 (logit 3) appears only in the cached history: penalty 2 makes it 1.5 < token 1's 2.
        let logits: [Float] = [1, 2, 3, 0.5]
        var p = SamplingParameters.greedy
        p.repetitionPenalty = 2
        XCTAssertEqual(token(try decoder([0], p).step(logits)), 2)
        XCTAssertEqual(token(try decoder([2, 0], p).step(logits)), 1)
    }

    func testPresenceAndFrequencyPenalties() throws {
        // Token 1 occurs 3 times: presence 0.2 → 1.5 − 0.2 = 1.3 (> 1, still chosen); + frequency 0.2 → 0.7 (< 1).
        let logits: [Float] = [1, 1.5, 0]
        XCTAssertEqual(token(try decoder([1, 1, 1], presence: 0.2).step(logits)), 1)
        XCTAssertEqual(token(try decoder([1, 1, 1], presence: 0.2, frequency: 0.2).step(logits)), 0)
        // Generated tokens count too: after emitting 1 once, presence 0.6 puts it at 0.9 < 1.
        let d = try decoder([5], presence: 0.6)
        XCTAssertEqual(token(try d.step([1, 1.5, 0, 0, 0, 0])), 1)
        XCTAssertEqual(token(try d.step([1, 1.5, 0, 0, 0, 0])), 0)
    }

    func testNonFiniteLogitsAreAnErrorNotACrash() throws {
        for bad in [Float.nan, .infinity, -.infinity] {
            let d = try decoder([1, 2])
            XCTAssertThrowsError(try d.step([0, bad, 1])) { error in
                guard case let .nonFiniteLogits(token, position, _)? = error as? DecodeError else {
                    return XCTFail("\(error)")
                }
                XCTAssertEqual(token, 1)
                XCTAssertEqual(position, 2)
            }
        }
    }

    func testConstraintMasksBeforeSamplingAndRejectingAllIsAnError() throws {
        let only3 = OnlyConstraint([3])
        let d = try decoder([0], constraint: only3)
        XCTAssertEqual(token(try d.step([5, 4, 3, 1, 0])), 3)
        XCTAssertEqual(only3.accepted, [3])
        let none = try decoder([0], constraint: OnlyConstraint([]))
        XCTAssertThrowsError(try none.step([1, 2])) { XCTAssertTrue($0 is DecodeError, "\($0)") }
    }

    func testLogprobsAreLogSoftmaxOfRawLogits() throws {
        // softmax([0, ln 2, ln 3]) = [1/6, 2/6, 3/6].
        let logits: [Float] = [0, Float(log(2.0)), Float(log(3.0))]
        guard case let .token(id, lp?, nil) = try decoder([9], logprobs: 2).step(logits) else { return XCTFail() }
        XCTAssertEqual(id, 2)
        XCTAssertEqual(lp.logprob, Float(log(0.5)), accuracy: 1e-6)
        XCTAssertEqual(lp.top.map(\.token), [2, 1])
        XCTAssertEqual(lp.top[1].logprob, Float(log(1.0 / 3)), accuracy: 1e-6)
        // The penalty changes the choice (ln 3 / 2 < ln 2) but not the reported raw log-probabilities.
        var p = SamplingParameters.greedy
        p.repetitionPenalty = 2
        guard case let .token(id2, lp2?, _) = try decoder([2], p, logprobs: 0).step(logits) else { return XCTFail() }
        XCTAssertEqual(id2, 1)
        XCTAssertEqual(lp2.logprob, Float(log(2.0 / 6)), accuracy: 1e-6)
        XCTAssertEqual(lp2.top.count, 0)
    }

    func testTopLogprobsOrderAndTies() throws {
        let logits: [Float] = [0.5, 2, -1, 2, 3, 0.5, 1]
        // Sorted by logit, ties by id: 4 (3), 1 (2), 3 (2), 6 (1), 0 (0.5), 5 (0.5), 2 (-1).
        for n in [1, 3, 5, 7, 100] {
            let lp = SequenceDecoder.logprobs(logits, chosen: 4, top: n)
            XCTAssertEqual(lp.top.map(\.token), Array([4, 1, 3, 6, 0, 5, 2].prefix(n)), "top \(n)")
        }
    }

    func testEOSEndsWithoutEmittingAndBudgetEndsWithLength() throws {
        let d = try decoder([1], eos: [0])
        XCTAssertEqual(try d.step([9, 1, 1]), .end(logprobs: nil))
        XCTAssertEqual(d.finish, .stop)
        XCTAssertEqual(d.generated, [])
        XCTAssertThrowsError(try d.step([9, 1, 1]), "an ended sequence takes no more steps")
        let b = try decoder([1], max: 2)
        XCTAssertEqual(try b.step([0, 9, 1]), .token(1, logprobs: nil, finish: nil))
        XCTAssertEqual(try b.step([0, 1, 9]), .token(2, logprobs: nil, finish: .length))
        XCTAssertEqual(b.generated, [1, 2])
        XCTAssertEqual(b.context, [1, 1, 2])
    }

    func testInvalidSettingsAreRejected() throws {
        for p in [SamplingParameters(temperature: .nan), SamplingParameters(temperature: -1),
                  SamplingParameters(topP: 1.5), SamplingParameters(minP: .nan), SamplingParameters(topK: -2),
                  SamplingParameters(repetitionPenalty: 0)] {
            XCTAssertThrowsError(try decoder([1], p), "\(p)")
        }
        XCTAssertThrowsError(try decoder([1], presence: .infinity))
        XCTAssertThrowsError(try decoder([1], max: -1))
        XCTAssertThrowsError(try decoder([1], logprobs: -1))
    }

    func testSeededSamplingDependsOnlyOnTheSequence() throws {
        let p = SamplingParameters(temperature: 1, seed: 77)
        let logits: [Float] = [0.1, 0.3, 0.2, 0.25, 0.15]
        let a = try decoder([0], p, max: 50), b = try decoder([0], p, max: 50), other = try decoder([0], SamplingParameters(temperature: 1, seed: 1), max: 50)
        var ta: [Int] = [], tb: [Int] = []
        for _ in 0..<30 { ta.append(token(try a.step(logits))!) }
        for _ in 0..<30 { _ = try other.step(logits); tb.append(token(try b.step(logits))!) }
        XCTAssertEqual(ta, tb)
    }
}

final class GenerationStateTests: XCTestCase {
    static let tokenizer = try! BuiltinTokenizer.tinyPangu()
    let eos = 1037  // [unused10]

    /// Logits that make greedy decoding pick `id`.
    func forcing(_ id: Int) -> [Float] {
        var l = [Float](repeating: 0, count: Self.tokenizer.vocabularySize)
        l[id] = 10
        return l
    }

    /// Feeds `ids` (then EOS if the state is still running); returns every delta.
    func run(_ ids: [Int], stop: [String] = [], split: Bool = false, tools: Bool = false,
             maxTokens: Int = 100) throws -> (deltas: [GenerationDelta], state: GenerationState) {
        var r = GenerationRequest(prompt: [1], sampling: .greedy, maxTokens: maxTokens)
        r.stop = stop
        r.splitReasoning = split
        r.parseToolCalls = tools
        let s = try GenerationState(request: r, eosTokenIds: [eos], tokenizer: Self.tokenizer)
        var deltas: [GenerationDelta] = []
        for id in ids + [eos] where !s.isDone {
            deltas.append(try s.step(forcing(id)).delta)
        }
        return (deltas, s)
    }

    func ids(_ text: String) -> [Int] { Self.tokenizer.encode(text, addSpecialTokens: false) }

    func testStopStringIsNeverEmittedAndHoldsBackOnlyPossiblePrefixes() throws {
        // Pieces: "He" "llo" "▁world" "." "▁By" "e".
        let text = ids("Hello world. Bye")
        let (d, s) = try run(text, stop: ["o w"])
        // "He" is emitted at once; after "llo" the final "o" could start "o w" and is held back.
        XCTAssertEqual(d.map(\.content), ["He", "ll", ""])
        XCTAssertEqual(s.rawText, "Hell")
        XCTAssertEqual(s.finish, .stop)
        XCTAssertEqual(s.decoder.generated.count, 3, "generation stops at the token completing the stop string")
        // Several stop strings: the earliest in the text wins.
        XCTAssertEqual(try run(text, stop: ["Bye", "."]).state.rawText, "Hello world")
        // A held prefix that never completes is released.
        let (d2, s2) = try run(text, stop: ["world!"])
        XCTAssertEqual(d2.map(\.content), ["He", "llo", " ", "world.", " By", "e", ""])
        XCTAssertEqual(s2.rawText, "Hello world. Bye")
        XCTAssertEqual(s2.finish, .stop)
        // Budget ending in the middle of a possible stop string flushes it.
        let (_, s3) = try run(text, stop: ["world!"], maxTokens: 3)
        XCTAssertEqual(s3.rawText, "Hello world")
        XCTAssertEqual(s3.finish, .length)
    }

    func testSplitCharactersAreHeldUntilComplete() throws {
        // 中 = E4 B8 AD as three byte-fallback tokens.
        let bytes = ["<0xE4>", "<0xB8>", "<0xAD>"].map { Self.tokenizer.pieceToId($0)! }
        var r = GenerationRequest(prompt: [1], sampling: .greedy, maxTokens: 10)
        r.splitReasoning = false
        r.logprobs = 0
        let s = try GenerationState(request: r, eosTokenIds: [eos], tokenizer: Self.tokenizer)
        let d = try bytes.map { try s.step(forcing($0)).delta }
        XCTAssertEqual(d.map(\.content), ["", "", "中"])
        XCTAssertEqual(d[0].logprobs.first?.bytes, [0xE4], "a byte token's logprob entry carries its byte")
    }

    func testReasoningAndContentAreSplit() throws {
        let (d, s) = try run(ids("[unused16]think[unused17]answer"), split: true)
        XCTAssertEqual(d.map(\.reasoning).joined(), "think")
        XCTAssertEqual(d.map(\.content).joined(), "answer")
        XCTAssertEqual(s.finish, .stop)
    }

    func testToolCallsBecomeToolCallDeltasAndFinishToolCalls() throws {
        let (d, s) = try run(ids("ok [unused11][{\"name\":\"f\",\"arguments\":{\"a\":1}}][unused12]"), split: true,
                             tools: true)
        XCTAssertEqual(d.map(\.content).joined(), "ok ")
        let events = d.flatMap(\.toolCalls)
        XCTAssertTrue(events.contains(.name(index: 0, name: "f")), "\(events)")
        guard case let .calls(calls)? = events.last else { return XCTFail("\(events)") }
        XCTAssertEqual(calls.map(\.name), ["f"])
        XCTAssertEqual(calls[0].argumentsJSON, "{\"a\": 1}")
        XCTAssertEqual(s.finish, .toolCalls)
    }

    func testEmptyStopStringIsRejected() {
        var r = GenerationRequest(prompt: [1], sampling: .greedy, maxTokens: 1)
        r.stop = [""]
        XCTAssertThrowsError(try GenerationState(request: r, eosTokenIds: [eos], tokenizer: Self.tokenizer))
    }
}
