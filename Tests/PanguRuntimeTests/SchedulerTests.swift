// The continuous-batching scheduler on the tiny random-weight model: batching must not change any request's tokens
// or log-probabilities (bit for bit), cancellation frees the sequence, admission errors are thrown at submit, and
// chunked prefill gives exactly the one-shot logits.
import Foundation
import PanguEngine
import PanguModels
import PanguRuntime
import PanguTensor
import PanguTestSupport
import XCTest

/// Collected output of one stream.
struct Collected: Equatable {
    var content = ""
    var reasoning = ""
    var logprobs: [TokenLogprob] = []
    var finish: GenerationFinish?
    var completionTokens = 0
}

func collect(_ stream: AsyncThrowingStream<GenerationEvent, Error>) async throws -> Collected {
    var c = Collected()
    for try await event in stream {
        switch event {
        case let .delta(d):
            c.content += d.content
            c.reasoning += d.reasoning
            c.logprobs += d.logprobs
        case let .finished(s):
            c.finish = s.finish
            c.completionTokens = s.completionTokens
        }
    }
    return c
}

/// nil when equal, else where the two outputs first differ (short, for assertion messages).
func firstDifference(_ a: Collected, _ b: Collected) -> String? {
    if a == b { return nil }
    for (i, (x, y)) in zip(a.logprobs, b.logprobs).enumerated() where x != y {
        return "token \(i): \(x.token) logprob \(x.logprob) top \(x.top.map(\.logprob)) vs \(y.token) logprob "
            + "\(y.logprob) top \(y.top.map(\.logprob))"
    }
    return "content \(a.content.debugDescription) vs \(b.content.debugDescription), finish \(String(describing: a.finish)) "
        + "vs \(String(describing: b.finish)), \(a.logprobs.count) vs \(b.logprobs.count) logprobs"
}

/// Polls `condition` for up to `seconds`.
func eventually(_ seconds: Double = 20, _ condition: () -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        try? await Task.sleep(nanoseconds: 5_000_000)
    }
    return condition()
}

final class SchedulerTests: XCTestCase {
    static let engine: Engine = {
        let dir = try! makeTemporaryDirectory("pangu-sched")
        try! TestCheckpointWriter.write(.tiny, dtype: .f32, seed: 11, to: dir)
        return try! Engine(directory: dir, prefault: false)
    }()

    /// 16 requests with different prompt lengths, greedy and seeded sampling, penalties and logprobs.
    static func requests(_ e: Engine) -> [GenerationRequest] {
        (0..<16).map { i in
            let text = String(repeating: "word\(i) 你好 ", count: 1 + (i * 7) % 9)
            let prompt = e.tokenizer.encode(text, addSpecialTokens: true)
            let sampling = i % 2 == 0 ? SamplingParameters.greedy
                : SamplingParameters(temperature: 0.8, topK: 20, topP: 0.95, repetitionPenalty: 1.1, seed: UInt64(i))
            var r = GenerationRequest(prompt: prompt, sampling: sampling, maxTokens: 4 + i % 4)
            r.logprobs = 3
            r.presencePenalty = i % 3 == 0 ? 0.5 : 0
            r.splitReasoning = false
            return r
        }
    }

    func testSixteenConcurrentRequestsEqualOneAtATime() async throws {
        let e = Self.engine
        let requests = Self.requests(e)
        let alone = try Scheduler(engine: e, configuration: .init(parallel: 1, prefixCacheEntries: 0))
        var expected: [Collected] = []
        for r in requests { expected.append(try await collect(try alone.submit(r))) }
        await alone.shutdown(cancelInFlight: false)

        // Staggered joins: a small prefill budget spreads prompts over several steps, and requests are submitted
        // while others are already decoding.
        let batched = try Scheduler(engine: e, configuration: .init(parallel: 16, prefillChunk: 13, prefixCacheEntries: 0))
        var tasks: [Task<Collected, Error>] = []
        for (i, r) in requests.enumerated() {
            let stream = try batched.submit(r)
            tasks.append(Task { try await collect(stream) })
            if i % 4 == 3 { try await Task.sleep(nanoseconds: 2_000_000) }
        }
        for (i, t) in tasks.enumerated() {
            let got = try await t.value
            XCTAssertNil(firstDifference(got, expected[i]), "request \(i) differs when batched")
            XCTAssertFalse(got.logprobs.isEmpty)
            XCTAssertEqual(got.logprobs.count, got.completionTokens, "one logprob entry per generated token")
        }
        XCTAssertGreaterThan(batched.metrics.generatedTokens, 0)
        await batched.shutdown(cancelInFlight: false)
    }

    /// Batch invariance holds with compressed KV caches too (f16, q8_0): each row is stored and read alike.
    func testCompressedCacheTypesAreBatchInvariant() async throws {
        let e = Self.engine
        let requests = Array(Self.requests(e).prefix(6))
        for type in [KVElementType.f16, .q8_0] {
            let alone = try Scheduler(engine: e, configuration: .init(parallel: 1, prefixCacheEntries: 0, cacheType: type))
            var expected: [Collected] = []
            for r in requests { expected.append(try await collect(try alone.submit(r))) }
            await alone.shutdown(cancelInFlight: false)
            let batched = try Scheduler(engine: e, configuration: .init(parallel: 6, prefillChunk: 9,
                                                                        prefixCacheEntries: 0, cacheType: type))
            let streams = try requests.map { try batched.submit($0) }
            for (i, stream) in streams.enumerated() {
                let got = try await collect(stream)
                XCTAssertNil(firstDifference(got, expected[i]), "\(type) request \(i) differs when batched")
            }
            await batched.shutdown(cancelInFlight: false)
        }
    }

    func testConsumerCancellationFreesTheSequence() async throws {
        let e = Self.engine
        let s = try Scheduler(engine: e, configuration: .init(parallel: 2, prefixCacheEntries: 0))
        var r = GenerationRequest(prompt: e.tokenizer.encode("cancel me", addSpecialTokens: true),
                                  sampling: .greedy, maxTokens: 3000)
        r.splitReasoning = false
        r.sampling = SamplingParameters(temperature: 1, seed: 3)
        // No end-of-sequence: the request must still be running when it is cancelled.
        let eos = Set(e.eosTokenIds)
        r.constraint = { BanConstraint(eos) }
        let task = Task {
            var n = 0
            for try await event in try s.submit(r) { if case .delta = event { n += 1 } }
            return n
        }
        let started = await eventually { s.metrics.generatedTokens > 2 }
        XCTAssertTrue(started)
        XCTAssertEqual(s.metrics.running, 1)
        task.cancel()
        let freed = await eventually { s.metrics.running == 0 && s.metrics.cancelled == 1 && s.metrics.kvCacheBytes == 0 }
        XCTAssertTrue(freed, "cancelled sequence still running: \(s.metrics)")
        XCTAssertLessThan(s.metrics.generatedTokens, 3000)
        // Dropping an unread stream cancels too.
        do { _ = try s.submit(r) }
        let dropped = await eventually { s.metrics.cancelled == 2 && s.metrics.running == 0 }
        XCTAssertTrue(dropped, "\(s.metrics)")
        await s.shutdown(cancelInFlight: true)
    }

    func testQueueFullAndContextLimitAreThrownAtSubmit() async throws {
        let e = Self.engine
        let prompt = e.tokenizer.encode("queue", addSpecialTokens: true)
        let limited = try Scheduler(engine: e, configuration: .init(parallel: 1, maxWaiting: 2, contextLimit: 64))
        XCTAssertThrowsError(try limited.submit(GenerationRequest(prompt: prompt, sampling: .greedy,
                                                                  maxTokens: 65 - prompt.count))) { error in
            XCTAssertEqual(error as? SchedulerError,
                           .contextExceeded(promptTokens: prompt.count, maxTokens: 65 - prompt.count, limit: 64))
        }
        let fits = try await collect(try limited.submit(GenerationRequest(prompt: prompt, sampling: .greedy,
                                                                          maxTokens: 64 - prompt.count)))
        XCTAssertNotNil(fits.finish)
        XCTAssertThrowsError(try limited.submit(GenerationRequest(prompt: [], sampling: .greedy, maxTokens: 1)))
        XCTAssertThrowsError(try limited.submit(GenerationRequest(prompt: [1, 999_999], sampling: .greedy, maxTokens: 1)))
        await limited.shutdown(cancelInFlight: false)

        // Long requests that cannot end early (no EOS): one runs, two wait, the fourth is refused.
        let s = try Scheduler(engine: e, configuration: .init(parallel: 1, maxWaiting: 2))
        var long = GenerationRequest(prompt: prompt, sampling: SamplingParameters(temperature: 1, seed: 1),
                                     maxTokens: 3000)
        long.splitReasoning = false
        let eos = Set(e.eosTokenIds)
        long.constraint = { BanConstraint(eos) }
        let first = try s.submit(long)
        let running = await eventually { s.metrics.running == 1 }
        XCTAssertTrue(running)
        let second = try s.submit(long), third = try s.submit(long)
        XCTAssertThrowsError(try s.submit(long)) { error in
            XCTAssertEqual(error as? SchedulerError, .queueFull(waiting: 2))
        }
        XCTAssertEqual(s.metrics.rejected, 1)
        await s.shutdown(cancelInFlight: true)
        for stream in [first, second, third] {
            let c = try await collect(stream)
            XCTAssertEqual(c.finish, .cancelled)
        }
        XCTAssertThrowsError(try s.submit(long)) { XCTAssertEqual($0 as? SchedulerError, .shuttingDown) }
    }

    func testGracefulShutdownFinishesInFlightRequests() async throws {
        let e = Self.engine
        let s = try Scheduler(engine: e, configuration: .init(parallel: 1))
        var r = GenerationRequest(prompt: e.tokenizer.encode("finish me", addSpecialTokens: true),
                                  sampling: .greedy, maxTokens: 8)
        r.splitReasoning = false
        let streams = [try s.submit(r), try s.submit(r)]
        var none = r
        none.maxTokens = 0
        let empty = try s.submit(none)
        await s.shutdown(cancelInFlight: false)
        let c = try await collect(empty)
        XCTAssertEqual(c.finish, .length)
        XCTAssertEqual(c.completionTokens, 0)
        XCTAssertEqual(c.content, "")
        for stream in streams {
            let c = try await collect(stream)
            XCTAssertNotEqual(c.finish, .cancelled)
            XCTAssertNotNil(c.finish)
        }
    }

    /// Prefill in chunks of 1, 7 and 30 tokens must give exactly the logits of one forward over the whole prompt.
    func testChunkedPrefillEqualsOneShot() throws {
        Kernels.batchInvariant = true
        let m = Self.engine.model
        let prompt = (0..<61).map { ($0 * 37 + 11) % m.info.vocabularySize }
        let whole = try m.forward([SequenceStep(tokens: prompt, cache: m.makeCache())])[0]
        for chunk in [1, 7, 30] {
            let cache = m.makeCache()
            var last: [Float] = []
            var i = 0
            while i < prompt.count {
                let n = min(chunk, prompt.count - i)
                last = try m.forward([SequenceStep(tokens: Array(prompt[i..<(i + n)]), cache: cache)])[0]
                i += n
            }
            let diff = zip(last, whole).filter { $0 != $1 }.count
            XCTAssertEqual(diff, 0, "chunk \(chunk): \(diff) logits differ from one-shot prefill")
        }
    }

    /// A sequence whose constraint throws ends with that error; the request batched with it is unaffected.
    func testErrorInOneSequenceEndsOnlyThatStream() async throws {
        let e = Self.engine
        var good = Self.requests(e)[2]
        good.logprobs = 2
        let alone = try Scheduler(engine: e, configuration: .init(parallel: 1))
        let expected = try await collect(try alone.submit(good))
        await alone.shutdown(cancelInFlight: false)

        let s = try Scheduler(engine: e, configuration: .init(parallel: 4, prefixCacheEntries: 0))
        var bad = good
        bad.maxTokens = 50
        bad.constraint = { FailingConstraint(after: 2) }
        let badStream = try s.submit(bad), goodStream = try s.submit(good)
        do {
            _ = try await collect(badStream)
            XCTFail("the failing constraint must end its stream with an error")
        } catch {
            XCTAssertTrue("\(error)".contains("constrained decoding failed"), "\(error)")
        }
        let got = try await collect(goodStream)
        XCTAssertNil(firstDifference(got, expected))
        XCTAssertEqual(s.metrics.failed, 1)
        await s.shutdown(cancelInFlight: false)
    }

    /// NaN logits end that sequence with a clear error; the request batched with it is unaffected.
    func testNaNLogitsEndOnlyTheirStream() async throws {
        let e = Self.engine
        var good = Self.requests(e)[3]
        good.prompt[0] = 2
        let alone = try Scheduler(engine: e, configuration: .init(parallel: 1))
        let expected = try await collect(try alone.submit(good))
        await alone.shutdown(cancelInFlight: false)
        let model = PoisonedModel(e.model, poison: 7)
        let s = try Scheduler(model: model, tokenizer: e.tokenizer, eosTokenIds: e.eosTokenIds,
                              configuration: .init(parallel: 4, prefixCacheEntries: 0))
        var bad = good
        bad.prompt[0] = 7
        let badStream = try s.submit(bad), goodStream = try s.submit(good)
        do {
            _ = try await collect(badStream)
            XCTFail("NaN logits must end the stream with an error")
        } catch {
            guard case .nonFiniteLogits? = error as? DecodeError else { return XCTFail("\(error)") }
        }
        let got = try await collect(goodStream)
        XCTAssertNil(firstDifference(got, expected))
        await s.shutdown(cancelInFlight: false)
    }

    /// With a KV budget of 8 blocks (each request may need 5), a second request waits for blocks (not only for a slot) and then runs.
    func testAdmissionWaitsForFreeBlocks() async throws {
        let e = Self.engine
        let prompt = e.tokenizer.encode("blocks", addSpecialTokens: true)
        let s = try Scheduler(engine: e, configuration: .init(parallel: 4, contextLimit: 100, prefixCacheEntries: 0,
                                                              kvPositions: 120))
        var r = GenerationRequest(prompt: prompt, sampling: SamplingParameters(temperature: 1, seed: 9), maxTokens: 60)
        r.splitReasoning = false
        let eos = Set(e.eosTokenIds)
        r.constraint = { BanConstraint(eos) }
        let first = try s.submit(r), second = try s.submit(r)
        let queued = await eventually { s.metrics.running == 1 && s.metrics.waiting == 1 }
        XCTAssertTrue(queued, "the second request must wait for blocks: \(s.metrics)")
        let a = try await collect(first), b = try await collect(second)
        XCTAssertEqual(a.completionTokens, 60)
        XCTAssertEqual(b.completionTokens, 60)
        XCTAssertEqual(a, b, "same seed, same prompt, same output")
        let freed = await eventually { s.metrics.kvCacheBytes == 0 }
        XCTAssertTrue(freed, "\(s.metrics)")
        await s.shutdown(cancelInFlight: false)
    }

    /// A request whose prompt a running sequence already holds shares its blocks, with the same output as alone.
    func testRunningSequencesSharePromptBlocks() async throws {
        let e = Self.engine
        var b = Self.requests(e)[6]
        b.logprobs = 2
        let alone = try Scheduler(engine: e, configuration: .init(parallel: 1, prefixCacheEntries: 0))
        let expected = try await collect(try alone.submit(b))
        await alone.shutdown(cancelInFlight: false)

        let s = try Scheduler(engine: e, configuration: .init(parallel: 2, prefixCacheEntries: 0))
        var a = b
        a.maxTokens = 2000
        let eos = Set(e.eosTokenIds)
        a.constraint = { BanConstraint(eos) }
        let long = try s.submit(a)
        let started = await eventually { s.metrics.generatedTokens > 0 }
        XCTAssertTrue(started)
        let got = try await collect(try s.submit(b))
        XCTAssertEqual(s.metrics.cachedPromptTokens, b.prompt.count - 1)
        XCTAssertNil(firstDifference(got, expected))
        await s.shutdown(cancelInFlight: true)
        let ended = try await collect(long)
        XCTAssertEqual(ended.finish, .cancelled)
    }

    /// A multi-turn prompt that extends a finished sequence reuses its cache, with the same output as a fresh run.
    func testPrefixReuseGivesTheSameOutput() async throws {
        let e = Self.engine
        var first = Self.requests(e)[4]
        first.maxTokens = 5
        let s = try Scheduler(engine: e, configuration: .init(parallel: 1, prefixCacheEntries: 2))
        let a = try await collect(try s.submit(first))
        var second = first
        second.prompt = first.prompt + a.logprobs.map(\.token) + e.tokenizer.encode(" more", addSpecialTokens: false)
        let reused = try await collect(try s.submit(second))
        XCTAssertGreaterThanOrEqual(s.metrics.cachedPromptTokens, first.prompt.count)
        let fresh = try Scheduler(engine: e, configuration: .init(parallel: 1, prefixCacheEntries: 0))
        let direct = try await collect(try fresh.submit(second))
        XCTAssertNil(firstDifference(reused, direct))
        await s.shutdown(cancelInFlight: false)
        await fresh.shutdown(cancelInFlight: false)
    }
}

/// Wraps a model and returns NaN logits for every sequence whose prompt starts with `poison` (as a checkpoint
/// with NaN weights would).
final class PoisonedModel: LanguageModel, @unchecked Sendable {
    let base: LanguageModel
    let poison: Int
    /// Weak, not ObjectIdentifier: a freed cache's address may be reused by the next sequence's cache.
    private final class WeakCache { weak var cache: KVCache?; init(_ c: KVCache) { cache = c } }
    private var poisoned: [WeakCache] = []
    init(_ base: LanguageModel, poison: Int) { self.base = base; self.poison = poison }
    var info: ModelInfo { base.info }
    var kvCacheType: KVElementType {
        get { base.kvCacheType }
        set { base.kvCacheType = newValue }
    }
    func makeCache() -> KVCache { base.makeCache() }
    func forward(_ batch: [SequenceStep]) throws -> [[Float]] {
        var out = try base.forward(batch)
        for (i, step) in batch.enumerated() {
            if step.cache.count == step.tokens.count && step.tokens.first == poison {
                poisoned.append(WeakCache(step.cache))
            }
            if poisoned.contains(where: { $0.cache === step.cache }) { out[i] = out[i].map { _ in .nan } }
        }
        return out
    }
}

/// Forbids the given ids (e.g. end of sequence, so a request runs to its budget).
final class BanConstraint: LogitsConstraint {
    let banned: Set<Int>
    init(_ banned: Set<Int>) { self.banned = banned }
    func mask(_ logits: inout [Float]) { for id in banned where id < logits.count { logits[id] = -.infinity } }
    func accept(_ token: Int) throws {}
    var isComplete: Bool { false }
}

/// Allows every token, but throws on the `after`-th accepted token.
final class FailingConstraint: LogitsConstraint {
    let after: Int
    var accepted = 0
    init(after: Int) { self.after = after }
    func mask(_ logits: inout [Float]) {}
    func accept(_ token: Int) throws {
        accepted += 1
        if accepted >= after { throw RuntimeError.invalidRequest("test constraint rejects token \(token)") }
    }
    var isComplete: Bool { false }
}
