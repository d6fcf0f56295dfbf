// The server's continuous-batching scheduler driving rank 0's distributed model, as `pangu serve --expert-parallel`
// does: requests with a common prefix (which the scheduler would share between caches) must give the same output as
// on the plain model, the prefix cache must stay unused, and a follower replaying the recorded steps on its own copy
// of the model must reproduce every step's logits exactly (its mirrors follow the scheduler's caches).
import Foundation
import PanguEngine
import PanguModels
import PanguParallel
import PanguRuntime
import PanguTensor
import PanguTestSupport
import XCTest

/// Forwards to a model and keeps every forward's result.
final class RecordingModel: LanguageModel, @unchecked Sendable {
    let inner: LanguageModel
    var outputs: [[[Float]]] = []
    init(_ inner: LanguageModel) { self.inner = inner }
    var info: ModelInfo { inner.info }
    var kvCacheType: KVElementType {
        get { inner.kvCacheType }
        set { inner.kvCacheType = newValue }
    }
    var supportsPrefixSharing: Bool { inner.supportsPrefixSharing }
    func makeCache() -> KVCache { inner.makeCache() }
    func forward(_ batch: [SequenceStep]) throws -> [[Float]] {
        let out = try inner.forward(batch)
        outputs.append(out)
        return out
    }
}

final class ExpertParallelSchedulerTests: XCTestCase {
    func collect(_ stream: AsyncThrowingStream<GenerationEvent, Error>) async throws -> String {
        var text = ""
        for try await event in stream { if case let .delta(d) = event { text += d.content } }
        return text
    }

    func run(_ model: LanguageModel, _ engine: Engine, _ prompts: [[Int]]) async throws -> ([String], SchedulerMetrics) {
        let s = try Scheduler(model: model, tokenizer: engine.tokenizer, eosTokenIds: engine.eosTokenIds,
                              configuration: .init(parallel: 3, prefillChunk: 7, prefixCacheEntries: 4))
        var out: [String] = []
        // Two waves: the second reuses the first wave's finished caches when prefix sharing is allowed.
        for wave in [Array(prompts.prefix(3)), Array(prompts.dropFirst(3))] {
            let streams = try wave.map { p -> AsyncThrowingStream<GenerationEvent, Error> in
                var r = GenerationRequest(prompt: p, sampling: .greedy, maxTokens: 5)
                r.splitReasoning = false
                return try s.submit(r)
            }
            for stream in streams { out.append(try await collect(stream)) }
        }
        let metrics = s.metrics
        await s.shutdown(cancelInFlight: false)
        return (out, metrics)
    }

    func testSchedulerOnDistributedModelEqualsPlainModelAndFollowerMirrors() async throws {
        let dir = try makeTemporaryDirectory("pangu-ep-sched")
        defer { try? FileManager.default.removeItem(at: dir) }
        try TestCheckpointWriter.write(.tinyMoEKV4, dtype: .f32, seed: 5, to: dir)
        let engine = try Engine(directory: dir, prefault: false)
        let system = engine.tokenizer.encode("You are a helpful assistant. 你好 ", addSpecialTokens: true)
        let prompts = (0..<6).map { system + engine.tokenizer.encode("question \($0)", addSpecialTokens: false) }

        let (plain, plainMetrics) = try await run(engine.model, engine, prompts)
        XCTAssertGreaterThan(plainMetrics.cachedPromptTokens, 0, "the plain model shares prefixes")

        let channel = RecordingChannel(rank: 0)
        let local = try XCTUnwrap(try ModelRegistry.load(directory: dir) as? PanguProMoE)
        let distributed = RecordingModel(ExpertParallelModel(local: local, channel: channel))
        let (split, splitMetrics) = try await run(distributed, engine, prompts)
        XCTAssertEqual(split, plain)
        XCTAssertEqual(splitMetrics.cachedPromptTokens, 0, "no prefix sharing on the distributed model")
        XCTAssertEqual(channel.messages.count, distributed.outputs.count)

        var got: [[[Float]]] = []
        let follower = RecordingChannel(rank: 1, replay: channel.messages + [[0]])
        let mirror = try XCTUnwrap(try ModelRegistry.load(directory: dir) as? PanguProMoE)
        try ExpertParallelFollower.run(mirror, channel: follower) { _, logits in got.append(logits) }
        XCTAssertEqual(got.count, distributed.outputs.count)
        for (i, (g, e)) in zip(got, distributed.outputs).enumerated() { XCTAssertEqual(g, e, "step \(i)") }
    }
}
