import ArgumentParser
import Foundation
import PanguEngine
import PanguModels

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a checkpoint's architecture, sizes, dtypes, parameter count and memory needs.")

    @Argument(help: "Checkpoint directory (default: the built-in tiny model).")
    var directory: String?

    func run() throws {
        let dir = try directory.map { URL(fileURLWithPath: $0) } ?? BuiltinModel.directory()
        let loaded = try LoadedModel(directory: dir)
        let i = loaded.model.info
        func gb(_ b: Int) -> String { String(format: "%.3f GB", Double(b) / 1e9) }
        let g = loaded.generationConfig
        print("""
        directory:        \(dir.path)
        architecture:     \(i.architecture)
        layers:           \(i.layers)
        hidden size:      \(i.hiddenSize)
        attention heads:  \(i.heads) query, \(i.kvHeads) key/value (group \(i.heads / i.kvHeads)), head dim \(i.headDim)
        \(i.experts > 0 ? "experts:          \(i.experts) routed in \(i.expertsPerToken) groups (1 per group per token) + 1 shared; expert FFN size \(i.intermediateSize)" : "FFN size:         \(i.intermediateSize)")
        vocabulary:       \(i.vocabularySize)
        context length:   \(i.contextLength)
        weight dtypes:    \(i.dtypes.sorted { $0.key < $1.key }.map { "\($0.key) × \($0.value)" }.joined(separator: ", "))
        parameters:       \(i.parameterCount) (\(String(format: "%.2f", Double(i.parameterCount) / 1e9))B)
        weight bytes:     \(gb(i.weightBytes)) read per decoded token
        KV cache:         \(i.kvBytesPerToken) bytes/token (f32); \(gb(i.kvBytesPerToken * 4096)) at 4096 tokens, \
        \(gb(i.kvBytesPerToken * i.contextLength)) at \(i.contextLength)
        memory needed:    \(gb(i.totalWeightBytes + i.kvBytesPerToken * 4096)) (weights, mapped) + KV cache at 4096 tokens
        EOS ids:          \(g.eosTokenIds.map(String.init).joined(separator: ", "))
        sampling default: do_sample=\(g.sampling.doSample) temperature=\(g.sampling.temperature) \
        top_k=\(g.sampling.topK) top_p=\(g.sampling.topP)
        """)
    }
}
