import ArgumentParser
import Foundation
import PanguEngine
import PanguModels
import PanguRuntime
import PanguTensor

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure prompt processing and generation speed, like llama-bench, plus the bandwidth roofline.")

    @Option(name: .long, help: "Checkpoint directory or .gguf file (default: the built-in tiny model).")
    var model: String?
    @Option(name: .short, help: "Prompt tokens for the prompt-processing test (0 = skip).") var p: Int = 512
    @Option(name: .short, help: "Tokens for the generation test (0 = skip).") var n: Int = 128
    @Option(name: .short, help: "Repetitions.") var r: Int = 3
    @Option(name: .short, help: "Threads (default: all cores).") var t: Int?
    @Option(name: .short, help: "Context depth: tokens already in the cache before each test (like llama-bench -d).")
    var d: Int = 0
    @Option(name: .long, help: "KV cache storage: f32, f16 or q8_0.") var cacheType: String = "f32"
    @OptionGroup(title: "Speculative generation test") var speculative: SpeculativeOptions
    @Flag(help: "Print one JSON object.") var json = false
    @Flag(help: "Split a Pangu Pro MoE model across the processes of `mpirun -np N` (rank 0 measures and prints).")
    var expertParallel = false
    @Flag(help: "Measure start-up instead: load time and time to the first token from process start (one load).")
    var cold = false

    func validate() throws {
        try speculative.validate()
        if cold && expertParallel { throw ValidationError("--cold measures one process; drop --expert-parallel") }
    }

    func run() throws {
        if let t, !ThreadPool.configureShared(threads: t) {
            throw ValidationError("-t \(t): the thread count must be ≥ 1 (and set before the thread pool starts)")
        }
        if cold { return try runCold() }
        // Bandwidth first, on a quiet process: after a large model has streamed through memory the probe reads
        // higher and noisier. Then forget the probe's own 1 GiB in the peak-RSS counter.
        let bandwidth = MemoryBandwidth.measure()
        resetPeakResidentBytes()
        let loaded = try ExpertParallelLaunch.load(path: model, expertParallel: expertParallel, quiet: json,
                                                   cacheType: cacheType)
        defer { ExpertParallelLaunch.finish(loaded) }
        let m = loaded.model, info = m.info
        let drafter = speculative.enabled ? try speculative.drafter(for: loaded) : nil
        var rng = SystemRandomNumberGenerator()
        func randomTokens(_ k: Int) -> [Int] { (0..<k).map { _ in Int.random(in: 0..<info.vocabularySize, using: &rng) } }

        // Warm-up: one short prefill and decode so page faults and thread start-up are not measured.
        let warm = m.makeCache()
        _ = try m.forward([SequenceStep(tokens: randomTokens(min(8, max(1, p))), cache: warm)])
        _ = try m.forward([SequenceStep(tokens: randomTokens(1), cache: warm)])

        var pp: [Double] = [], tg: [Double] = [], spec: [Double] = []
        var specStats = SpeculativeStatistics()
        var kvBytes = 0  // largest KV cache of the run, for the "file + KV cache" memory budget
        /// A cache holding the same `d` tokens before every test: filled once in chunks (not timed), then cut back
        /// to `d` positions for each later test, as llama-bench restores its saved depth state.
        var deep: KVCache?
        func deepCache() throws -> KVCache {
            if let deep, d > 0 {
                deep.truncate(to: d)
                return deep
            }
            let cache = m.makeCache()
            var filled = 0
            while filled < d {
                let k = min(512, d - filled)
                _ = try m.forward([SequenceStep(tokens: randomTokens(k), cache: cache)])
                filled += k
            }
            deep = cache
            return cache
        }
        for _ in 0..<r {
            if p > 0 {
                let cache = try deepCache()
                let tokens = randomTokens(p)
                let start = monotonicNanoseconds()
                _ = try m.forward([SequenceStep(tokens: tokens, cache: cache)])
                pp.append(Double(p) / (Double(monotonicNanoseconds() - start) / 1e9))
                kvBytes = max(kvBytes, cache.allocatedBytes)
            }
            if n > 0, let drafter {
                // Greedy speculative generation of n tokens (effective tokens/s: accepted + bonus tokens).
                let cache = try deepCache()
                var generator = try SpeculativeGenerator(model: m, drafter: drafter, eosTokenIds: [],
                                                         draftMax: speculative.draftMax)
                generator.costAware = speculative.costAware
                let start = monotonicNanoseconds()
                let result = try generator.generate(prompt: randomTokens(1), cache: cache, sampling: .greedy, maxTokens: n)
                spec.append(Double(result.tokens.count) / (Double(monotonicNanoseconds() - start) / 1e9))
                specStats.drafted += result.statistics.drafted
                specStats.accepted += result.statistics.accepted
                specStats.rounds += result.statistics.rounds
            }
            if n > 0 {
                let cache = try deepCache()
                var token = randomTokens(1)[0]
                let start = monotonicNanoseconds()
                for _ in 0..<n {
                    let logits = try m.forward([SequenceStep(tokens: [token], cache: cache)])[0]
                    token = logits.indices.max { logits[$0] < logits[$1] }!  // cheap greedy, not timed separately
                }
                tg.append(Double(n) / (Double(monotonicNanoseconds() - start) / 1e9))
                kvBytes = max(kvBytes, cache.allocatedBytes)
            }
        }
        let rss = peakResidentBytes()
        func stats(_ v: [Double]) -> (Double, Double) {
            guard !v.isEmpty else { return (0, 0) }
            let mean = v.reduce(0, +) / Double(v.count)
            let sd = v.count > 1 ? (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count - 1)).squareRoot() : 0
            return (mean, sd)
        }
        let (ppMean, ppSD) = stats(pp), (tgMean, tgSD) = stats(tg), (specMean, specSD) = stats(spec)
        let rooflineTokens = bandwidth / Double(info.weightBytes)
        let threads = ThreadPool.shared.threadCount
        if json {
            var object: [String: Any] = [
                "model": loaded.directory.path, "threads": threads, "n_prompt": p, "n_gen": n, "repetitions": r,
                "pp_tokens_per_s": ppMean, "pp_tokens_per_s_sd": ppSD,
                "tg_tokens_per_s": tgMean, "tg_tokens_per_s_sd": tgSD,
                "peak_rss_bytes": rss, "bandwidth_bytes_per_s": bandwidth, "kv_bytes": kvBytes,
                "weight_bytes_per_token": info.weightBytes, "roofline_tg_tokens_per_s": rooflineTokens,
                "roofline_fraction": tgMean / rooflineTokens, "dtypes": info.dtypes,
                "depth": d, "cache_type": cacheType, "kv_bytes_per_token": info.kvBytesPerToken(m.kvCacheType),
            ]
            if drafter != nil {
                object["spec_tg_tokens_per_s"] = specMean
                object["spec_tg_tokens_per_s_sd"] = specSD
                object["spec_acceptance"] = specStats.acceptanceRate
                object["spec_tokens_per_round"] = Double(specStats.accepted + specStats.rounds) / Double(max(1, specStats.rounds))
                object["spec_speedup"] = specMean / tgMean
            }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("model: \(loaded.directory.path)  threads: \(threads)  weights: \(String(format: "%.2f", Double(info.weightBytes) / 1e9)) GB/token")
            let at = d > 0 ? " @ d\(d)" : ""
            if p > 0 { print(String(format: "pp%-5d%@ %10.2f ± %.2f tokens/s", p, at, ppMean, ppSD)) }
            if n > 0 { print(String(format: "tg%-5d%@ %10.2f ± %.2f tokens/s", n, at, tgMean, tgSD)) }
            if drafter != nil {
                print(String(format: "speculative tg%-5d %10.2f ± %.2f tokens/s (%.2fx), acceptance %.0f%%", n, specMean,
                             specSD, specMean / tgMean, 100 * specStats.acceptanceRate))
            }
            print(String(format: "memory bandwidth %.1f GB/s → roofline %.2f tokens/s; tg at %.0f%% of roofline",
                         bandwidth / 1e9, rooflineTokens, 100 * tgMean / rooflineTokens))
            print(String(format: "peak RSS %.2f GB (KV cache %.2f GB, %@, %d bytes/token)", Double(rss) / 1e9,
                         Double(kvBytes) / 1e9, cacheType, info.kvBytesPerToken(m.kvCacheType)))
        }
    }
}
