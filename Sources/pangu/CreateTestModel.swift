import ArgumentParser
import Foundation
import PanguEngine
import PanguTensor

struct CreateTestModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a random-weight checkpoint in the official openPangu-Embedded or Pangu Pro MoE layout.")

    @Argument(help: "Output directory.") var directory: String
    @Option(help: "Shape preset: tiny, 1b-shape, 7b-shape, tiny-moe or pro-moe-shape.") var preset: String = "tiny"
    @Option(help: "Weight dtype: bf16, f16 or f32.") var dtype: String = "bf16"
    @Option(help: "Override the number of layers (e.g. a 2-layer 7b-shape for quick tests).") var layers: Int?
    @Option(help: "Random seed.") var seed: UInt64 = 1

    func run() throws {
        guard var p = TestModelPreset.all[preset] else {
            throw ValidationError("unknown preset '\(preset)'; choose one of \(TestModelPreset.all.keys.sorted().joined(separator: ", "))")
        }
        guard let type = DType(rawValue: dtype), [.bf16, .f16, .f32].contains(type) else {
            throw ValidationError("unsupported --dtype '\(dtype)'; choose bf16, f16 or f32")
        }
        if let layers { guard layers > 0 else { throw ValidationError("--layers must be positive") }; p.layers = layers }
        let bar = ProgressBar(label: "writing")
        try TestCheckpointWriter.write(p, dtype: type, seed: seed, to: URL(fileURLWithPath: directory)) { done, total in
            bar.update(done, total)
        }
        print("wrote \(p.name) (\(type)) checkpoint to \(directory)")
    }
}
