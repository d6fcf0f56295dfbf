import ArgumentParser
import Foundation
import PanguEngine
import PanguModels
import PanguWeights

struct Logits: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the float32 logits [T, vocab] of a token sequence to a NumPy file.")

    @OptionGroup var options: ModelOptions
    @Option(help: "Comma-separated token ids, e.g. 1,5,9.") var tokenIds: String
    @Option(help: "Output .npy path.") var output: String

    func run() throws {
        let ids = try parseTokenIds(tokenIds)
        guard !ids.isEmpty else { throw ValidationError("--token-ids is empty") }
        let loaded = try options.load()
        defer { options.finish(loaded) }
        let cache = loaded.model.makeCache()
        let logits = try loaded.model.forward([SequenceStep(tokens: ids, cache: cache, allLogits: true)])[0]
        try NPYFile.write(logits, shape: [ids.count, loaded.model.info.vocabularySize], to: output)
        print("wrote \(output): [\(ids.count), \(loaded.model.info.vocabularySize)] float32")
    }
}
