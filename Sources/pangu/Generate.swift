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
    static let configuration = CommandConfiguration(
        abstract: "Continue a text prompt (streamed as it is generated) or a list of token ids.")

    @OptionGroup var options: ModelOptions
    @OptionGroup var sampling: SamplingOptions
    @Argument(help: "Prompt text (plain completion; use `pangu chat` for the chat template).") var prompt: String?
    @Option(help: "Prompt as comma-separated token ids instead of text; prints token ids.") var tokenIds: String?
    @Option(help: "Maximum new tokens.") var maxTokens: Int = 64
    @OptionGroup var speculative: SpeculativeOptions

    func validate() throws {
        if (prompt == nil) == (tokenIds == nil) { throw ValidationError("give either a prompt text or --token-ids") }
        if maxTokens < 1 { throw ValidationError("--max-tokens must be at least 1") }
        try speculative.validate()
    }

    func run() throws {
        let loaded = try options.load()
        defer { options.finish(loaded) }
        let params = sampling.resolve(loaded.generationConfig.sampling)
        var start = Date()
        var firstTokenAt: Date?
        let promptCount: Int, generated: Int, finish: FinishReason
        var stats: SpeculativeStatistics?
        if speculative.enabled {
            if let tokenIds {
                // Token ids need no tokenizer: the draft model is checked by vocabulary size only.
                let drafter = try speculative.drafter(for: loaded)
                start = Date()  // loading the draft model is not prompt time
                let ids = try parseTokenIds(tokenIds)
                guard !ids.isEmpty else { throw ValidationError("--token-ids is empty") }
                var generator = try SpeculativeGenerator(model: loaded.model, drafter: drafter,
                                                         eosTokenIds: loaded.generationConfig.eosTokenIds,
                                                         draftMax: speculative.draftMax)
                generator.costAware = speculative.costAware
                let result = try generator.generate(prompt: ids, cache: loaded.model.makeCache(), sampling: params,
                                                    maxTokens: maxTokens) { id in
                    if firstTokenAt == nil { firstTokenAt = Date() }
                    emit("\(id) ")
                    return true
                }
                (promptCount, generated, finish, stats) = (ids.count, result.tokens.count, result.finish, result.statistics)
            } else {
                let engine = try Engine(loaded: loaded)
                let drafter = try speculative.drafter(for: engine)
                start = Date()  // loading the draft model is not prompt time
                let text = prompt!
                promptCount = engine.tokenizer.encode(text, addSpecialTokens: true).count
                emit(text)
                let result = try engine.completeSpeculatively(text, drafter: drafter, draftMax: speculative.draftMax,
                                                              costAware: speculative.costAware, sampling: params,
                                                              maxTokens: maxTokens) { piece in
                    if firstTokenAt == nil { firstTokenAt = Date() }
                    emit(piece)
                    return true
                }
                (generated, finish, stats) = (result.tokens.count, result.finish, result.statistics)
            }
        } else if let tokenIds {
            let ids = try parseTokenIds(tokenIds)
            guard !ids.isEmpty else { throw ValidationError("--token-ids is empty") }
            let generator = TokenGenerator(model: loaded.model, eosTokenIds: loaded.generationConfig.eosTokenIds)
            let result = try generator.generate(prompt: ids, cache: loaded.model.makeCache(), sampling: params,
                                                maxTokens: maxTokens) { id in
                if firstTokenAt == nil { firstTokenAt = Date() }
                emit("\(id) ")
                return true
            }
            (promptCount, generated, finish) = (ids.count, result.tokens.count, result.finish)
        } else {
            let engine = try Engine(loaded: loaded)
            let text = prompt!
            promptCount = engine.tokenizer.encode(text, addSpecialTokens: true).count
            emit(text)
            let result = try engine.complete(text, sampling: params, maxTokens: maxTokens) { piece in
                if firstTokenAt == nil { firstTokenAt = Date() }
                emit(piece)
                return true
            }
            (generated, finish) = (result.tokens.count, result.finish)
        }
        emit("\n")
        let end = Date()
        let prefill = (firstTokenAt ?? end).timeIntervalSince(start)
        let decode = end.timeIntervalSince(firstTokenAt ?? end)
        FileHandle.standardError.write(Data(String(
            format: "prompt %d tokens in %.2f s (%.1f tok/s); generated %d tokens, %.2f tok/s; finish: %@\n",
            promptCount, prefill, Double(promptCount) / max(prefill, 1e-9), generated,
            generated > 1 ? Double(generated - 1) / max(decode, 1e-9) : 0, finish.rawValue).utf8))
        if let stats {
            FileHandle.standardError.write(Data(String(
                format: "speculative: %d drafted, %d accepted (%.0f%%), %d target passes, %.2f tokens per pass\n",
                stats.drafted, stats.accepted, 100 * stats.acceptanceRate, stats.rounds,
                Double(generated) / Double(max(1, stats.rounds + 1))).utf8))
        }
    }
}

/// Speculative decoding flags (generate, bench, chat, serve).
struct SpeculativeOptions: ParsableArguments {
    @Option(help: "Draft model (same vocabulary) for speculative decoding, e.g. a 1B or lower-bit copy of the target.")
    var draftModel: String?
    @Option(help: "Most draft tokens per round (fewer while acceptance is low).") var draftMax: Int = 8
    @Option(help: "Prompt-lookup drafting: copy the tokens that followed the last earlier match of up to N tokens.")
    var lookupNgram: Int?
    @Flag(help: "Choose draft lengths from acceptance alone, not measured times, so that sampled output repeats exactly for a seed.")
    var draftByAcceptance = false

    /// Whether draft lengths may use measured times (Docs/Speculative.md, "Adaptive length").
    var costAware: Bool { !draftByAcceptance }

    var enabled: Bool { draftModel != nil || lookupNgram != nil }

    func validate() throws {
        if draftModel != nil && lookupNgram != nil { throw ValidationError("use either --draft-model or --lookup-ngram") }
        if draftMax < 1 { throw ValidationError("--draft-max must be at least 1") }
        if let n = lookupNgram, n < 1 { throw ValidationError("--lookup-ngram must be at least 1") }
    }

    /// The drafter for `engine` (a draft model's tokenizer must match the target's).
    func drafter(for engine: Engine) throws -> Drafter {
        if let draftModel {
            return try engine.drafter(model: Engine(loaded: ModelOptions.load(path: draftModel)))
        }
        return PromptLookupDrafter(ngram: lookupNgram ?? 3)
    }

    /// The server's per-sequence drafters for `engine` (nil without a speculative flag); a draft model is loaded
    /// once, checked against the target's tokenizer, and shared by every sequence's drafter (each has its own cache).
    static func schedulerSpeculation(for engine: Engine, draftModel: String?, lookupNgram: Int?,
                                     draftMax: Int, costAware: Bool) throws -> SchedulerSpeculation? {
        if let draftModel {
            let draft = try Engine(loaded: ModelOptions.load(path: draftModel, quiet: true))
            try engine.checkDraft(draft)
            let model = draft.model
            return SchedulerSpeculation(draftMax: draftMax, costAware: costAware) { ModelDrafter(model: model) }
        }
        guard let lookupNgram else { return nil }
        return SchedulerSpeculation(draftMax: draftMax, costAware: costAware) { PromptLookupDrafter(ngram: lookupNgram) }
    }

    /// The drafter for a model used on token ids (the generator checks the draft's vocabulary size).
    func drafter(for loaded: LoadedModel) throws -> Drafter {
        if let draftModel { return ModelDrafter(model: try ModelOptions.load(path: draftModel).model) }
        return PromptLookupDrafter(ngram: lookupNgram ?? 3)
    }
}
