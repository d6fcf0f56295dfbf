// Loading a checkpoint directory exactly as Huawei publishes it: config.json, generation_config.json,
// (sharded) safetensors, tokenizer files. The façade the CLI, server and embedding apps use.
import Foundation
import PanguModels
import PanguRuntime
import PanguTensor
import PanguWeights

/// A model loaded from a checkpoint directory with its generation defaults.
public final class LoadedModel: @unchecked Sendable {
    /// The directory it came from.
    public let directory: URL
    /// The network.
    public let model: LanguageModel
    /// Defaults from generation_config.json (EOS ids fall back to config.json's).
    public let generationConfig: GenerationConfig

    /// The GGUF file, when the model was loaded from one (its metadata also holds the tokenizer).
    public let gguf: GGUFTensorSource?

    /// A loaded model with another `LanguageModel` in place of its own (e.g. rank 0's expert-parallel wrapper).
    public init(_ other: LoadedModel, model: LanguageModel) {
        directory = other.directory
        self.model = model
        generationConfig = other.generationConfig
        gguf = other.gguf
    }

    /// Tensors the prefault pass leaves out: matrices whose type and shape `WeightArena` repacks are read by the
    /// repack itself, on all threads (reading them first on one thread cost as long as the copy). The token
    /// embedding has such a shape too; only the rows of the tokens seen are ever read from it.
    static func repackedAnyway(_ t: TensorInfo) -> Bool { WeightArena.willRepack(t.dtype, shape: t.shape) }

    /// Loads `directory` (a Hugging Face checkpoint directory, or a `.gguf` file). With `prefault`, every weight
    /// page is read up front and `progress(done, total)` is called while the files are read (a 16 GB checkpoint
    /// takes a while from a cold disk).
    public init(directory: URL, prefault: Bool = false, options: ModelLoadOptions = .init(),
                progress: ((Int, Int) -> Void)? = nil) throws {
        self.directory = directory
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), !isDirectory.boolValue {
            let source = try GGUFTensorSource(path: directory.path)
            if prefault { source.prefault(skipping: Self.repackedAnyway, progress: progress) }
            gguf = source
            model = try ModelRegistry.load(gguf: source, options: options)
            // GGUF files carry no generation_config.json: their own general.sampling.* keys, else neutral defaults.
            generationConfig = try GenerationConfig.gguf(metadata: { source[$0] }, path: source.path,
                                                         eosTokenIds: model.info.eosTokenIds)
            return
        }
        gguf = nil
        let configURL = directory.appendingPathComponent("config.json")
        // An unsupported architecture is reported before any shard is mapped or read.
        _ = try ModelRegistry.architecture(configURL: configURL)
        let checkpoint = try SafetensorsCheckpoint(directory: directory)
        if prefault { checkpoint.prefault(skipping: Self.repackedAnyway, progress: progress) }
        model = try ModelRegistry.load(configURL: configURL, source: checkpoint, options: options)
        generationConfig = try GenerationConfig.load(directory.appendingPathComponent("generation_config.json"),
                                                     fallbackEOS: model.info.eosTokenIds)
    }
}
