// Multi-turn chat on the built-in tiny model: reusing the KV cache between turns must give exactly the tokens a
// fresh run over the whole conversation gives, and streamed text must equal the full decode.
import Foundation
import PanguChat
import PanguEngine
import PanguRuntime
import PanguTestSupport
import XCTest

final class ChatSessionTests: XCTestCase {
    static let engine: Engine = {
        let dir = try! makeTemporaryDirectory("pangu-chat")
        try! TestCheckpointWriter.write(.tiny, dtype: .f32, seed: 11, to: dir)
        return try! Engine(directory: dir, prefault: false)
    }()

    func testSecondTurnWithCacheEqualsFreshSession() throws {
        let e = Self.engine
        let s = ChatSession(engine: e, system: "be brief", thinking: .fast, sampling: .greedy, maxTokens: 12)
        _ = try s.send("hello there")
        let second = try s.send("and now?")
        XCTAssertGreaterThan(second.reusedTokens, 0, "the second turn must reuse the first turn's cache")
        // A fresh cache fed the whole rendered history (assistant turn as produced) must produce the same reply.
        let history = s.messages
        let prompt = try e.templates.prompt(messages: Array(history.dropLast()), thinking: .fast)
        let ids = e.tokenizer.encode(prompt, addSpecialTokens: true)
        let generator = TokenGenerator(model: e.model, eosTokenIds: e.eosTokenIds)
        let direct = try generator.generate(prompt: ids, cache: e.model.makeCache(), sampling: .greedy, maxTokens: 12)
        XCTAssertEqual(e.tokenizer.decode(direct.tokens, skipSpecialTokens: false), second.raw)
    }

    /// The repetition penalty covers the whole conversation: a turn that reuses the cache must pick the same tokens
    /// as a fresh run over the full prompt (which penalises every prompt token, as Hugging Face does).
    func testRepetitionPenaltyCoversTheCachedPrefix() throws {
        let e = Self.engine
        var sampling = SamplingParameters.greedy
        sampling.repetitionPenalty = 1.8
        let s = ChatSession(engine: e, system: "be brief", thinking: .fast, sampling: sampling, maxTokens: 12)
        _ = try s.send("hello there hello there")
        let second = try s.send("hello again")
        XCTAssertGreaterThan(second.reusedTokens, 0)
        let prompt = try e.templates.prompt(messages: Array(s.messages.dropLast()), thinking: .fast)
        let ids = e.tokenizer.encode(prompt, addSpecialTokens: true)
        let generator = TokenGenerator(model: e.model, eosTokenIds: e.eosTokenIds)
        let direct = try generator.generate(prompt: ids, cache: e.model.makeCache(), sampling: sampling, maxTokens: 12)
        XCTAssertEqual(e.tokenizer.decode(direct.tokens, skipSpecialTokens: false), second.raw)
    }

    func testStreamedTextEqualsDecodeAndThinkingModeIsRendered() throws {
        let e = Self.engine
        var streamed = ""
        let result = try e.complete("你好, world", sampling: SamplingParameters(temperature: 0.9, seed: 5), maxTokens: 30) {
            streamed += $0
            return true
        }
        XCTAssertEqual(streamed, e.tokenizer.decode(result.tokens, skipSpecialTokens: false))
        XCTAssertEqual(streamed, result.text)
        let fast = try e.templates.prompt(messages: [.user("hi")], thinking: .fast)
        XCTAssertTrue(fast.contains("hi /no_think"), fast)
    }

    func testStopCallbackCancelsAndPromptTooLongIsAnError() throws {
        let e = Self.engine
        var n = 0
        let r = try e.complete("abc", sampling: .greedy, maxTokens: 50) { _ in n += 1; return n < 3 }
        XCTAssertEqual(r.finish, .cancelled)
        let long = String(repeating: "word ", count: 5000)
        XCTAssertThrowsError(try e.complete(long, sampling: .greedy, maxTokens: 5) { _ in true }) { error in
            XCTAssertTrue("\(error)".contains("context length"), "\(error)")
        }
    }
}
