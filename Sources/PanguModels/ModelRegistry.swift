// One line per supported `architectures[0]` value of config.json. Matched exactly: no fuzzy model-name guessing.
import Foundation
import PanguWeights

/// Creates models from checkpoint directories by their `config.json` architecture key.
public enum ModelRegistry {
    /// Builds a model from a config.json URL and a tensor source.
    public typealias Factory = @Sendable (URL, TensorSource) throws -> LanguageModel

    /// Supported architectures.
    public static let factories: [String: Factory] = [
        "PanguEmbeddedForCausalLM": { url, source in
            try PanguEmbedded(configuration: .load(url), source: source)
        },
        // The same graph re-aliased as Llama with attention_bias=true, mlp_bias=false (spec §1 [S21]).
        "LlamaForCausalLM": { url, source in
            try PanguEmbedded(configuration: .load(url), source: source)
        },
    ]

    /// The architecture key in a config.json.
    public static func architecture(of configURL: URL) throws -> String {
        guard let data = try? Data(contentsOf: configURL) else {
            throw ModelError.unsupportedConfig(file: configURL.path, field: "-", detail: "file missing or unreadable")
        }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelError.unsupportedConfig(file: configURL.path, field: "-", detail: "not a JSON object")
        }
        guard let name = (root["architectures"] as? [String])?.first else {
            throw ModelError.unsupportedConfig(file: configURL.path, field: "architectures", detail: "missing")
        }
        return name
    }

    /// Loads a llama.cpp GGUF file (architecture `pangu-embedded`), quantised or not.
    public static func load(gguf source: GGUFTensorSource) throws -> LanguageModel {
        try PanguEmbedded(configuration: PanguEmbeddedConfiguration(gguf: source), source: source, scheme: .gguf)
    }

    /// Loads the model in checkpoint directory `directory` (config.json + safetensors).
    public static func load(directory: URL) throws -> LanguageModel {
        let configURL = directory.appendingPathComponent("config.json")
        let name = try architecture(of: configURL)
        guard let factory = factories[name] else {
            throw ModelError.unsupportedArchitecture(name, supported: factories.keys.sorted())
        }
        return try factory(configURL, SafetensorsCheckpoint(directory: directory))
    }
}
