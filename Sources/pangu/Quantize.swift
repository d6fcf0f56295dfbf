import ArgumentParser
import Foundation
import PanguEngine

struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert an official checkpoint directory to a llama.cpp-compatible GGUF file.")

    @Option(help: "Checkpoint directory (config.json + safetensors + tokenizer.model).") var model: String
    @Option(help: "Type: \(QuantizationRecipe.all.keys.sorted().joined(separator: ", ")).") var type: String
    @Option(help: "Output .gguf path.") var output: String

    func run() throws {
        guard let recipe = QuantizationRecipe.all[type.lowercased()] else {
            throw ValidationError("unknown --type '\(type)'; choose one of \(QuantizationRecipe.all.keys.sorted().joined(separator: ", "))")
        }
        let bar = ProgressBar(label: "quantizing")
        try Quantizer.quantize(directory: URL(fileURLWithPath: model), recipe: recipe, output: output) { done, total in
            bar.update(done, total)
        }
        print("wrote \(output) (\(recipe.name))")
    }
}
