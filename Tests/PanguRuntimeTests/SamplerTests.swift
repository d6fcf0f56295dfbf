// Sampling: greedy is argmax, seeds reproduce, filters keep exactly the tokens their definitions allow, and
// draws follow the filtered distribution.
import Foundation
import PanguRuntime
import XCTest

final class SamplerTests: XCTestCase {
    let logits: [Float] = [1.0, 3.0, 2.5, -1.0, 0.5, 2.9, -3.0, 0.0]

    func softmax(_ x: [Double]) -> [Double] {
        let m = x.max()!
        let e = x.map { exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    func testGreedyIsArgmaxAndIgnoresSeed() {
        var s = Sampler(.greedy)
        XCTAssertEqual(s.sample(logits), 1)
        XCTAssertEqual(Sampler.argmax([0, 5, 5, 1]), 1, "first index on ties, like torch")
    }

    func testSameSeedSameTokensDifferentSeedDiffers() {
        let p = SamplingParameters(temperature: 1.5, seed: 42)
        var a = Sampler(p), b = Sampler(p)
        let ra = (0..<200).map { _ in a.sample(logits) }
        let rb = (0..<200).map { _ in b.sample(logits) }
        XCTAssertEqual(ra, rb)
        var c = Sampler(SamplingParameters(temperature: 1.5, seed: 43))
        XCTAssertNotEqual(ra, (0..<200).map { _ in c.sample(logits) })
    }

    func testTopKTopPMinPKeepTheRightSets() {
        func kept(_ p: SamplingParameters) -> Set<Int> { Set(Sampler.filteredProbabilities(logits, p).map(\.id)) }
        XCTAssertEqual(kept(SamplingParameters(topK: 3)), [1, 5, 2])
        // Probabilities at T=1 computed independently in f64: keep the smallest prefix reaching 0.8.
        let probs = softmax(logits.map(Double.init))
        let order = probs.indices.sorted { probs[$0] > probs[$1] }
        var acc = 0.0, expected = Set<Int>()
        for i in order { expected.insert(i); acc += probs[i]; if acc >= 0.8 { break } }
        XCTAssertEqual(kept(SamplingParameters(topP: 0.8)), expected)
        let top = probs.max()!
        XCTAssertEqual(kept(SamplingParameters(minP: 0.3)), Set(probs.indices.filter { probs[$0] >= 0.3 * top }))
    }

    func testEmpiricalFrequenciesFollowTemperatureSoftmax() {
        let t = 0.7
        var s = Sampler(SamplingParameters(temperature: Float(t), seed: 7))
        var counts = [Int](repeating: 0, count: logits.count)
        let n = 40000
        for _ in 0..<n { counts[s.sample(logits)] += 1 }
        let expected = softmax(logits.map { Double($0) / t })
        for i in logits.indices {
            let f = Double(counts[i]) / Double(n)
            XCTAssertEqual(f, expected[i], accuracy: 4 * (expected[i] * (1 - expected[i]) / Double(n)).squareRoot() + 1e-3, "token \(i)")
        }
    }

    func testRepetitionPenaltyAsHuggingFace() {
        var l: [Float] = [2, -2, 1]
        Sampler.applyRepetitionPenalty(&l, context: [0, 1, 1], penalty: 2)
        XCTAssertEqual(l, [1, -4, 1])  // positive divided, negative multiplied, unseen untouched
    }

    func testGenerationConfigDefaultsAndErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gc-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("generation_config.json")
        try #"{"do_sample": true, "eos_token_id": [45892, 2], "temperature": 0.6, "top_k": 0, "top_p": 0.8}"#
            .write(to: url, atomically: true, encoding: .utf8)
        let g = try GenerationConfig.load(url, fallbackEOS: [9])
        XCTAssertEqual(g.eosTokenIds, [45892, 2])
        XCTAssertEqual(g.sampling.temperature, 0.6)
        XCTAssertEqual(g.sampling.topP, 0.8)
        XCTAssertTrue(g.sampling.doSample)
        try #"{"temperature": "hot"}"#.write(to: url, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try GenerationConfig.load(url, fallbackEOS: [])) { XCTAssertTrue("\($0)".contains("temperature")) }
        let missing = try GenerationConfig.load(dir.appendingPathComponent("none.json"), fallbackEOS: [9])
        XCTAssertEqual(missing.eosTokenIds, [9])
    }
}
