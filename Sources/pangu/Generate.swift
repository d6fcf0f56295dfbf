import ArgumentParser
import Foundation
import PanguEngine
import PanguModels
import PanguRuntime

/// Sampling flags; unset flags take the checkpoint's generation_config.json values.
struct SamplingOptions: ParsableArguments {
    @Option(help: "Temperature (0 = greedy).") var temperature: Float?
    @Option(help: "Top-k (0 = off).") var topK: Int?
    @Option(help: "Top-p nucleus mass (1 = off).") var topP: Float?
    @Option(help: "Min-p relative threshold (0 = off).") var minP: Float?
    @Option(help: "Repetition penalty (1 = off).") var repeatPenalty: Float?
    @Option(help: "Random seed for reproducible sampling.") var seed: UInt64?
    @Flag(help: "Greedy decoding (argmax).") var greedy = false

    func resolve(_ defaults: SamplingParameters) -> SamplingParameters {
        var s = defaults
        if let temperature { s.temperature = temperature; s.doSample = temperature > 0 }
        if let topK { s.topK = topK }
        if let topP { s.topP = topP }
        if let minP { s.minP = minP }
        if let repeatPenalty { s.repetitionPenalty = repeatPenalty }
        s.seed = seed ?? s.seed
        if greedy { s.doSample = false; s.temperature = 0 }
        return s
    }
}

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Generate tokens after a prompt.")

    @OptionGroup var options: ModelOptions
    @OptionGroup var sampling: SamplingOptions
    @Option(help: "Prompt as comma-separated token ids.") var tokenIds: String
    @Option(help: "Maximum new tokens.") var maxTokens: Int = 64

    func run() throws {
        let ids = try parseTokenIds(tokenIds)
        guard !ids.isEmpty else { throw ValidationError("--token-ids is empty") }
        let loaded = try options.load()
        let params = sampling.resolve(loaded.generationConfig.sampling)
        let generator = TokenGenerator(model: loaded.model, eosTokenIds: loaded.generationConfig.eosTokenIds)
        let cache = loaded.model.makeCache()
        let start = Date()
        var firstTokenAt: Date?
        let result = try generator.generate(prompt: ids, cache: cache, sampling: params, maxTokens: maxTokens) { id in
            if firstTokenAt == nil { firstTokenAt = Date() }
            emit("\(id) ")
            return true
        }
        print()
        let end = Date()
        let prefill = (firstTokenAt ?? end).timeIntervalSince(start)
        let decode = end.timeIntervalSince(firstTokenAt ?? end)
        let n = result.tokens.count
        FileHandle.standardError.write(Data(String(
            format: "prompt %d tokens in %.2f s (%.1f tok/s); generated %d tokens, %.2f tok/s; finish: %@\n",
            ids.count, prefill, Double(ids.count) / max(prefill, 1e-9), n,
            n > 1 ? Double(n - 1) / max(decode, 1e-9) : 0, result.finish.rawValue).utf8))
    }
}
