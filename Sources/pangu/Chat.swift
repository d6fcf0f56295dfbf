import ArgumentParser
import Foundation
import PanguChat
import PanguEngine
import PanguRuntime
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Set by SIGINT while an answer streams; checked after every token.
let interruptRequested = Atomic<Bool>(false)

struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Interactive multi-turn chat. Ctrl-C stops the current answer; Ctrl-D or /exit quits.")

    @OptionGroup var options: ModelOptions
    @OptionGroup var sampling: SamplingOptions
    @Option(help: "Thinking mode: slow (reason first, default), fast (no reasoning) or auto.") var think: String = "slow"
    @Option(help: "System prompt.") var system: String?
    @Flag(help: "Hide the model's reasoning.") var hideReasoning = false
    @Option(help: "Maximum tokens per answer.") var maxTokens: Int = 1024
    @OptionGroup(title: "Speculative decoding") var speculative: SpeculativeOptions

    func validate() throws { try speculative.validate() }

    func run() throws {
        guard let mode = ThinkingMode(rawValue: think) else {
            throw ValidationError("--think must be slow, fast or auto, got '\(think)'")
        }
        let loaded = try options.load()
        defer { options.finish(loaded) }
        let engine = try Engine(loaded: loaded)
        let session = ChatSession(engine: engine, system: system, thinking: mode,
                                  sampling: sampling.resolve(engine.loaded.generationConfig.sampling),
                                  maxTokens: maxTokens)
        if speculative.enabled {
            session.drafting = try SpeculativeDrafting(drafter: speculative.drafter(for: engine),
                                                       draftMax: speculative.draftMax,
                                                       costAware: speculative.costAware)
        }
        signal(SIGINT) { _ in
            // First Ctrl-C during an answer stops it; at the prompt (flag already set) it quits.
            if interruptRequested.exchange(true, ordering: .sequentiallyConsistent) { _exit(130) }
        }
        let dim = "\u{1B}[2m", reset = "\u{1B}[0m"
        FileHandle.standardError.write(Data("model: \(engine.loaded.directory.path), thinking: \(mode.rawValue). Type /exit to quit.\n".utf8))
        while true {
            interruptRequested.store(true, ordering: .sequentiallyConsistent)  // Ctrl-C at the prompt quits
            emit("> ")
            guard let line = readLine() else { emit("\n"); return }
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            if text == "/exit" || text == "/quit" { return }
            interruptRequested.store(false, ordering: .sequentiallyConsistent)
            var inReasoning = false
            let reply = try session.send(text) { delta in
                if !delta.reasoning.isEmpty && !hideReasoning {
                    if !inReasoning { emit(dim + "[thinking] "); inReasoning = true }
                    emit(delta.reasoning)
                }
                if !delta.content.isEmpty {
                    if inReasoning { emit(reset + "\n"); inReasoning = false }
                    emit(delta.content)
                }
                return !interruptRequested.load(ordering: .sequentiallyConsistent)
            }
            if inReasoning { emit(reset) }
            emit("\n")
            if reply.finish == .cancelled { FileHandle.standardError.write(Data("[stopped]\n".utf8)) }
            FileHandle.standardError.write(Data(
                "[\(reply.promptTokens) new prompt tokens, \(reply.reusedTokens) reused from cache, \(reply.generatedTokens) generated]\n".utf8))
            if let stats = session.drafting?.statistics {
                FileHandle.standardError.write(Data(String(
                    format: "[speculative so far: %d drafted, %d accepted (%.0f%%)]\n", stats.drafted, stats.accepted,
                    100 * stats.acceptanceRate).utf8))
            }
        }
    }
}
