// Speculative decoding in chat sessions and the continuous-batching scheduler: greedy output must be exactly the
// plain decoder's (text, tokens, log-probabilities, finish reason, usage), whatever the drafter proposes; the
// KV caches must be rolled back past every rejection (a cache keeping a rejected draft's keys/values changes the
// following tokens), and a sequence that stops inside an accepted draft run must stop where plain decoding stops.
import Foundation
import PanguEngine
import PanguModels
import PanguRuntime
import PanguTestSupport
import XCTest

final class SpeculativeServingTests: XCTestCase {
    static let engine = SchedulerTests.engine
    /// Same tokenizer, other weights and one layer: its drafts are often rejected.
    static let draftEngine: Engine = {
        let dir = try! makeTemporaryDirectory("pangu-spec-draft")
        var p = TestModelPreset.tiny
        p.layers = 1
        try! TestCheckpointWriter.write(p, dtype: .f32, seed: 12, to: dir)
        return try! Engine(directory: dir, prefault: false)
    }()

    /// The drafters under test: prompt lookup, a different model (rejections), the target itself (every draft
    /// accepted, so runs end on the budget or a stop string inside an accepted run).
    static func drafters() -> [(name: String, make: @Sendable () -> Drafter)] {
        let draft = draftEngine.model, target = engine.model
        return [("lookup", { PromptLookupDrafter(ngram: 2) }), ("draft model", { ModelDrafter(model: draft) }),
                ("self", { ModelDrafter(model: target) })]
    }

    func testChatRepliesEqualPlainDecoding() throws {
        let e = Self.engine
        try e.checkDraft(Self.draftEngine)
        let turns = ["hello there hello there", "say it again: hello there"]
        func converse(_ drafting: SpeculativeDrafting?) throws -> [String] {
            let s = ChatSession(engine: e, system: "be brief", thinking: .fast, sampling: .greedy, maxTokens: 20)
            s.drafting = drafting
            var replies: [String] = []
            for t in turns {
                var streamed = ""
                let r = try s.send(t) { streamed += $0.reasoning + $0.content; return true }
                replies.append(r.raw + "|\(streamed)|\(r.finish)|\(r.generatedTokens)|\(r.reusedTokens)")
            }
            return replies
        }
        let plain = try converse(nil)
        for (name, make) in Self.drafters() {
            for draftMax in name == "draft model" ? [1, 4] : [3] {
                let drafting = try SpeculativeDrafting(drafter: make(), draftMax: draftMax)
                XCTAssertEqual(try converse(drafting), plain, "\(name), draft max \(draftMax)")
                let st = drafting.statistics
                XCTAssertGreaterThan(st.drafted, 0, name)
                if name == "self" { XCTAssertEqual(st.accepted, st.drafted, "a model drafting for itself") }
                if name == "draft model" { XCTAssertLessThan(st.accepted, st.drafted, "the test needs rejections") }
            }
        }
    }

    /// `SequenceDecoder.verify` on hand-made logits (vocabulary 5, id 3 ends the sequence): the round stops at the
    /// first rejection with the target's token, at an accepted end-of-sequence draft, at the budget, and adds a
    /// bonus token after a fully accepted run; a non-finite logit is `DecodeError.nonFiniteLogits`.
    func testVerifyStopsAtRejectionEndOfSequenceAndBudget() throws {
        func rows(_ argmaxes: [Int]) -> [Float] {
            argmaxes.flatMap { best in (0..<5).map { $0 == best ? 2 : Float($0) * 0.1 } }
        }
        func run(_ drafts: [Int], _ best: [Int], maxTokens: Int = 10) throws -> (accepted: Int, steps: [DecodeStep], d: SequenceDecoder) {
            let d = try SequenceDecoder(context: [0, 1], settings: DecodeSettings(sampling: .greedy, eosTokenIds: [3],
                                                                                 maxTokens: maxTokens))
            var steps: [DecodeStep] = []
            let accepted = try d.verify(drafts: drafts.map { ($0, nil) }, rows: rows(best), vocabularySize: 5) {
                steps.append($0)
                return true
            }
            return (accepted, steps, d)
        }
        var r = try run([1, 2, 4], [1, 4, 4, 0])
        XCTAssertEqual(r.accepted, 1)
        XCTAssertEqual(r.d.generated, [1, 4], "the first draft, then the target's token instead of the second")
        XCTAssertNil(r.d.finish)
        r = try run([2, 3, 4], [2, 3, 4, 0])
        XCTAssertEqual(r.accepted, 2)
        XCTAssertEqual(r.d.generated, [2])
        XCTAssertEqual(r.steps, [.token(2, logprobs: nil, finish: nil), .end(logprobs: nil)])
        XCTAssertEqual(r.d.finish, .stop)
        r = try run([1, 1, 1], [1, 1, 1, 1], maxTokens: 2)
        XCTAssertEqual(r.accepted, 2)
        XCTAssertEqual(r.d.generated, [1, 1])
        XCTAssertEqual(r.d.finish, .length)
        r = try run([4, 2], [4, 2, 0])
        XCTAssertEqual(r.accepted, 2)
        XCTAssertEqual(r.d.generated, [4, 2, 0], "every draft accepted, then the bonus token")
        let d = try SequenceDecoder(context: [0], settings: DecodeSettings(sampling: .greedy, eosTokenIds: [], maxTokens: 4))
        var bad = rows([1, 1])
        bad[7] = .nan
        XCTAssertThrowsError(try d.verify(drafts: [(1, nil)], rows: bad, vocabularySize: 5) { _ in true }) { e in
            guard case let .nonFiniteLogits(token, position, _)? = e as? DecodeError else { return XCTFail("\(e)") }
            XCTAssertEqual([token, position], [2, 2])
        }
        // Rows that do not match the drafts are refused.
        XCTAssertThrowsError(try d.verify(drafts: [(1, nil)], rows: rows([1]), vocabularySize: 5) { _ in true })
    }

    func testVocabularyMismatchIsAnError() throws {
        let other = try ModelRegistry.load(directory: fixture("tiny-f32"))
        XCTAssertNotEqual(other.info.vocabularySize, Self.engine.model.info.vocabularySize)
        let speculation = SchedulerSpeculation(draftMax: 3) { ModelDrafter(model: other) }
        XCTAssertThrowsError(try Scheduler(engine: Self.engine, configuration: .init(speculation: speculation))) { e in
            XCTAssertTrue("\(e)".contains("vocabulary"), "\(e)")
        }
    }

    /// Greedy requests (several concurrent, staggered prefill, one with log-probabilities, one with a stop string
    /// inside the output, budgets that end inside a draft run, one constrained) give exactly the plain scheduler's
    /// output; sampled ones run too, with one logprob entry per generated token.
    func testSchedulerGreedyOutputEqualsPlainDecoding() async throws {
        let e = Self.engine
        let eos = Set(e.eosTokenIds)
        var requests: [GenerationRequest] = []
        for i in 0..<6 {
            let text = String(repeating: "word\(i) 你好 ", count: 1 + (i * 5) % 7)
            var r = GenerationRequest(prompt: e.tokenizer.encode(text, addSpecialTokens: true), sampling: .greedy,
                                      maxTokens: [5, 17, 9, 30, 2, 12][i])
            r.splitReasoning = false
            if i == 1 { r.logprobs = 2 }
            if i == 3 { r.constraint = { BanConstraint(eos) } }
            if i == 5 { r.sampling.repetitionPenalty = 1.3 }
            requests.append(r)
        }
        let plainScheduler = try Scheduler(engine: e, configuration: .init(parallel: 1, prefixCacheEntries: 0))
        var expected: [Collected] = []
        for r in requests { expected.append(try await collect(try plainScheduler.submit(r))) }
        // A stop string from the middle of request 3's output (30 tokens, no end of sequence): speculation must
        // stop exactly where plain decoding does, usage included.
        let long = expected[3].content
        XCTAssertGreaterThan(long.count, 12, "the stop-string request needs a long output")
        let cut = long.index(long.startIndex, offsetBy: long.count / 2)
        var stopped = requests[3]
        stopped.stop = [String(long[cut...].prefix(2))]
        requests.append(stopped)
        expected.append(try await collect(try plainScheduler.submit(stopped)))
        XCTAssertEqual(expected.last!.finish, .stop)
        XCTAssertLessThan(expected.last!.completionTokens, 30)
        await plainScheduler.shutdown(cancelInFlight: false)

        for (name, make) in Self.drafters() {
            let s = try Scheduler(engine: e, configuration: .init(
                parallel: 4, prefillChunk: 11, prefixCacheEntries: 2,
                speculation: SchedulerSpeculation(draftMax: 4, makeDrafter: make)))
            var tasks: [Task<Collected, Error>] = []
            for (i, r) in requests.enumerated() {
                let stream = try s.submit(r)
                tasks.append(Task { try await collect(stream) })
                if i % 3 == 2 { try await Task.sleep(nanoseconds: 2_000_000) }
            }
            // Sampled requests share the batch (their tokens differ from plain sampling's, legitimately).
            var sampled = requests[2]
            sampled.sampling = SamplingParameters(temperature: 0.9, topK: 30, seed: 7)
            sampled.logprobs = 1
            let sampledTask = Task { [stream = try s.submit(sampled)] in try await collect(stream) }
            for (i, t) in tasks.enumerated() {
                let got = try await t.value
                XCTAssertNil(firstDifference(got, expected[i]), "\(name): request \(i) differs with speculation")
                XCTAssertEqual(got.completionTokens, expected[i].completionTokens, "\(name): usage of request \(i)")
            }
            let other = try await sampledTask.value
            XCTAssertEqual(other.logprobs.count, other.completionTokens)
            XCTAssertNotNil(other.finish)
            let m = s.metrics
            XCTAssertGreaterThan(m.draftedTokens, 0, name)
            print("speculative scheduler, \(name): \(m.acceptedDraftTokens) of \(m.draftedTokens) drafts accepted")
            // (Even the target drafting for itself sees rejections here: its drafts ignore request 3's constraint.)
            if name != "draft model" { XCTAssertGreaterThan(m.acceptedDraftTokens, 0, name) }
            if name == "lookup" { XCTAssertLessThan(m.acceptedDraftTokens, m.draftedTokens, "the test needs rejections") }
            if name == "draft model" { XCTAssertLessThan(m.acceptedDraftTokens, m.draftedTokens, name) }
            await s.shutdown(cancelInFlight: false)
            XCTAssertEqual(s.metrics.running, 0)
        }
    }

    func testCancellationFreesASpeculatingSequence() async throws {
        let e = Self.engine
        let s = try Scheduler(engine: e, configuration: .init(
            parallel: 2, prefixCacheEntries: 0,
            speculation: SchedulerSpeculation(draftMax: 4) { [draft = Self.draftEngine.model] in ModelDrafter(model: draft) }))
        var r = GenerationRequest(prompt: e.tokenizer.encode("cancel me", addSpecialTokens: true),
                                  sampling: .greedy, maxTokens: 3000)
        r.splitReasoning = false
        let eos = Set(e.eosTokenIds)
        r.constraint = { BanConstraint(eos) }
        let task = Task {
            for try await _ in try s.submit(r) {}
        }
        let started = await eventually { s.metrics.generatedTokens > 5 && s.metrics.draftedTokens > 0 }
        XCTAssertTrue(started, "\(s.metrics)")
        task.cancel()
        let freed = await eventually { s.metrics.running == 0 && s.metrics.cancelled == 1 && s.metrics.kvCacheBytes == 0 }
        XCTAssertTrue(freed, "cancelled sequence still running: \(s.metrics)")
        await s.shutdown(cancelInFlight: true)
    }
}
