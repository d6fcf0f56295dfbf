// Speculative decoding: greedy output identical to plain decoding, sampled output distributed exactly as the
// target's (empirical frequencies over many seeds against the target's own probabilities), clear errors.
import Foundation
import PanguEngine
import PanguModels
import PanguRuntime
import PanguTestSupport
import XCTest

final class SpeculativeTests: XCTestCase {
    static func model(seed: UInt64, layers: Int) -> LanguageModel {
        let dir = try! makeTemporaryDirectory("pangu-spec-\(seed)")
        var p = TestModelPreset.tiny
        p.hidden = 64; p.intermediate = 128; p.heads = 4; p.kvHeads = 2; p.layers = layers
        try! TestCheckpointWriter.write(p, dtype: .f32, seed: seed, to: dir)
        return try! ModelRegistry.load(directory: dir)
    }
    static let target = model(seed: 11, layers: 2)
    static let draft = model(seed: 12, layers: 1)

    func testGreedyOutputIsIdenticalToPlainDecoding() throws {
        let t = Self.target
        for prompt in [[1, 5, 9, 300, 42], [1, 7, 7, 7, 7, 7, 7, 1000, 7, 7]] {
            let plain = try TokenGenerator(model: t, eosTokenIds: []).generate(
                prompt: prompt, cache: t.makeCache(), sampling: .greedy, maxTokens: 40)
            for drafter in [ModelDrafter(model: Self.draft) as Drafter, PromptLookupDrafter(ngram: 3),
                            ModelDrafter(model: t)] {
                for draftMax in [1, 5] {
                    let cache = t.makeCache()
                    let spec = try SpeculativeGenerator(model: t, drafter: drafter, eosTokenIds: [], draftMax: draftMax)
                        .generate(prompt: prompt, cache: cache, sampling: .greedy, maxTokens: 40)
                    XCTAssertEqual(spec.tokens, plain.tokens, "\(type(of: drafter)) draft-max \(draftMax)")
                    XCTAssertEqual(spec.finish, .length)
                    // The cache holds a prefix of prompt + output, like plain decoding leaves it.
                    XCTAssertLessThanOrEqual(cache.count, prompt.count + spec.tokens.count)
                    if drafter is ModelDrafter, (drafter as! ModelDrafter).model === t {
                        XCTAssertEqual(spec.statistics.accepted, spec.statistics.drafted, "a model drafting for itself")
                    }
                }
            }
        }
    }

    /// P(first three tokens) under speculative sampling vs the target's exact probabilities: total variation
    /// distance over 1,000 seeds. The draft is the target sampled at temperature 0.2 (same candidates, much
    /// sharper probabilities), so drafts are sometimes accepted, sometimes rejected; with one draft per round the third
    /// token is a bonus token after an acceptance. The draft's own distribution differs from the target's by far
    /// more than the bound, so an acceptance rule that kept the draft's distribution would fail.
    func testSampledTokensFollowTheTargetDistribution() throws {
        let t = Self.target
        let s = SamplingParameters(temperature: 1, topK: 3)
        let sharp = SamplingParameters(temperature: 0.2, topK: 3)
        let prompt = [1, 17, 230, 5]
        // Exact target distribution of the first three tokens (top-3 each: 27 sequences).
        func dist(_ m: LanguageModel, _ ctx: [Int]) throws -> [(id: Int, p: Float)] {
            Sampler.filteredProbabilities(try m.forward([SequenceStep(tokens: ctx, cache: m.makeCache())])[0], s)
        }
        var exact: [[Int]: Double] = [:], draftExact: [[Int]: Double] = [:]
        for (a, pa) in try dist(t, prompt) {
            for (b, pb) in try dist(t, prompt + [a]) {
                for (c, pc) in try dist(t, prompt + [a, b]) { exact[[a, b, c]] = Double(pa * pb * pc) }
            }
            func sharpDist(_ ctx: [Int]) throws -> [(id: Int, p: Float)] {
                Sampler.filteredProbabilities(try t.forward([SequenceStep(tokens: ctx, cache: t.makeCache())])[0], sharp)
            }
            for (b, pb) in try sharpDist(prompt + [a]) {
                for (c, pc) in try sharpDist(prompt + [a, b]) { draftExact[[a, b, c], default: 0] += Double(pa * pb * pc) }
            }
        }
        func tv(_ x: [[Int]: Double], _ y: [[Int]: Double]) -> Double {
            Set(x.keys).union(y.keys).reduce(0) { $0 + abs((x[$1] ?? 0) - (y[$1] ?? 0)) } / 2
        }
        XCTAssertGreaterThan(tv(exact, draftExact), 0.15, "the test needs a draft that disagrees with the target")
        let n = 1000
        var counts: [[Int]: Double] = [:]
        var stats = SpeculativeStatistics()
        for seed in 0..<n {
            var sampling = s
            sampling.seed = UInt64(seed)
            let drafter = ModelDrafter(model: t, sampling: sharp, seed: UInt64(seed) &+ 99)
            var g = try SpeculativeGenerator(model: t, drafter: drafter, eosTokenIds: [], draftMax: 1)
            g.costAware = false  // one draft every round, whatever the timings (and the same draws for a seed)
            let r = try g.generate(prompt: prompt, cache: t.makeCache(), sampling: sampling, maxTokens: 3)
            counts[r.tokens, default: 0] += 1 / Double(n)
            stats.drafted += r.statistics.drafted
            stats.accepted += r.statistics.accepted
        }
        XCTAssertGreaterThan(stats.drafted, 0)
        XCTAssert((0.2...0.9).contains(stats.acceptanceRate), "both acceptances and rejections must happen: \(stats)")
        let distance = tv(counts, exact)
        print("speculative sampling: TV(empirical, target) = \(distance) over \(n) seeds; acceptance \(stats.acceptanceRate)")
        // 27 outcomes, 1,000 draws: sampling noise alone gives TV ≈ 0.06 (fixed seeds: the result is deterministic).
        XCTAssertLessThan(distance, 0.08)
    }

    func testVocabularyMismatchIsAnError() throws {
        let other = try ModelRegistry.load(directory: fixture("tiny-f32"))
        XCTAssertThrowsError(try SpeculativeGenerator(model: Self.target, drafter: ModelDrafter(model: other),
                                                      eosTokenIds: [], draftMax: 4)) { e in
            XCTAssertTrue("\(e)".contains("vocabulary"), "\(e)")
        }
    }

    func testPromptLookupProposesWhatFollowedTheLastMatch() {
        let d = PromptLookupDrafter(ngram: 2)
        let s = SamplingParameters.greedy
        XCTAssertEqual(d.propose(context: [1, 2, 3, 4, 9, 2, 3], count: 3, sampling: s).map(\.token), [4, 9, 2])
        // Longest n-gram first, most recent match first.
        XCTAssertEqual(d.propose(context: [5, 3, 8, 1, 3, 6, 5, 3], count: 2, sampling: s).map(\.token), [8, 1])
        XCTAssertEqual(d.propose(context: [7, 8, 9], count: 3, sampling: s).map(\.token), [])
    }
}

func fixture(_ name: String) -> URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("PanguModelsTests/Fixtures").appendingPathComponent(name)
}
