// `pangu`: the command-line front end. Each subcommand lives in its own file.
import ArgumentParser
import Foundation
import PanguEngine
import PanguModels
import PanguTensor

@main
struct Pangu: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pangu",
        abstract: "Run Huawei's openPangu models on the CPU, natively in Swift.",
        subcommands: [Chat.self, Serve.self, Generate.self, Tokenize.self, Inspect.self, Logits.self, Bench.self, BenchKernels.self, Quantize.self, CreateTestModel.self])
}

/// Options shared by commands that load a model.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "Checkpoint directory (config.json + safetensors). Default: the built-in tiny model.")
    var model: String?
    @Option(name: .long, help: "KV cache storage: f32 (default), f16 or q8_0.") var cacheType: String = "f32"

    /// Loads the model, reading the weights up front with a progress bar for large checkpoints.
    func load() throws -> LoadedModel { try ModelOptions.load(path: model, cacheType: cacheType) }

    /// Loads `path` (or the built-in model), showing a progress bar for checkpoints over 512 MB unless `quiet`.
    static func load(path: String?, quiet: Bool = false, cacheType: String = "f32") throws -> LoadedModel {
        let dir = try path.map { URL(fileURLWithPath: $0) } ?? BuiltinModel.directory()
        guard let type = KVElementType(rawValue: cacheType) else {
            throw ValidationError("--cache-type must be one of f32, f16, q8_0 (got '\(cacheType)')")
        }
        let progress = ProgressBar(label: "loading")
        return try LoadedModel(directory: dir, prefault: true, options: ModelLoadOptions(cacheType: type)) { done, total in
            if total > 512 << 20 && !quiet { progress.update(done, total) }
        }
    }
}

/// A one-line progress bar on standard error.
final class ProgressBar {
    let label: String
    var lastPercent = -1
    init(label: String) { self.label = label }

    func update(_ done: Int, _ total: Int) {
        let percent = total == 0 ? 100 : done * 100 / total
        guard percent != lastPercent else { return }
        lastPercent = percent
        let width = 30, filled = percent * width / 100
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        FileHandle.standardError.write(Data(String(format: "\r%@ [%@] %3d%% %.1f/%.1f GB", label, bar, percent,
                                                   Double(done) / 1e9, Double(total) / 1e9).utf8))
        if percent == 100 { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

/// Parses "1,5,9" into token ids, naming the bad item on error.
func parseTokenIds(_ text: String) throws -> [Int] {
    try text.split(separator: ",").enumerated().map { index, item in
        guard let id = Int(item.trimmingCharacters(in: .whitespaces)) else {
            throw ValidationError("--token-ids: item \(index + 1) ('\(item)') is not an integer")
        }
        return id
    }
}

/// Writes `text` to standard output immediately (no buffering), for streaming output.
func emit(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}
