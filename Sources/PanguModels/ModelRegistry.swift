// Every supported architecture, one line each, and the single lookup every loader goes through: by config.json's
// `architectures[0]` (then `model_type`) for checkpoint directories, by `general.architecture` for GGUF files.
// Matched exactly: no fuzzy model-name guessing.
import Foundation
import PanguTensor
import PanguWeights

/// Options for loading a model.
public struct ModelLoadOptions: Sendable {
    /// Which weights this process keeps (expert parallelism); nil keeps all.
    public var owns: WeightOwnership?
    /// Storage type of the KV caches the model makes.
    public var cacheType: KVElementType

    /// Creates options.
    public init(owns: WeightOwnership? = nil, cacheType: KVElementType = .f32) {
        self.owns = owns
        self.cacheType = cacheType
    }
}

/// What `pangu quantize` needs from an architecture to write a GGUF file.
public struct GGUFExport: Sendable {
    /// `general.architecture`, `general.name`, `general.file_type` and the architecture's hyper-parameter keys.
    public var metadata: [(String, GGUFValue)]
    /// Decoder layers, routed experts per layer (0 for dense models) and vocabulary size.
    public var layers: Int, experts: Int, vocabularySize: Int
    /// True when the output matrix is the embedding (then no output tensor is written).
    public var tiedOutput: Bool

    /// Creates an export description.
    public init(metadata: [(String, GGUFValue)], layers: Int, experts: Int, vocabularySize: Int, tiedOutput: Bool) {
        self.metadata = metadata
        self.layers = layers
        self.experts = experts
        self.vocabularySize = vocabularySize
        self.tiedOutput = tiedOutput
    }
}

/// One architecture: the names it answers to, its tensor-name table, and how to load, validate and export it.
public struct ModelArchitecture: Sendable {
    /// config.json `architectures[0]` values.
    public let configArchitectures: [String]
    /// config.json `model_type` values (used when `architectures` is absent).
    public let modelTypes: [String]
    /// GGUF `general.architecture` values.
    public let ggufArchitectures: [String]
    /// Hugging Face and GGUF tensor names.
    public let weightMap: WeightMap
    /// Builds the model from a config.json URL and a safetensors source.
    public let load: @Sendable (_ config: URL, _ source: TensorSource, _ options: ModelLoadOptions) throws -> LanguageModel
    /// Builds the model from a GGUF file.
    public let loadGGUF: @Sendable (_ source: GGUFTensorSource, _ options: ModelLoadOptions) throws -> LanguageModel
    /// Checks every tensor name, shape and dtype of a checkpoint without building (or repacking) the model.
    public let validate: @Sendable (_ config: URL, _ source: TensorSource) throws -> Void
    /// GGUF metadata for a checkpoint's config.json, with `general.name` and `general.file_type`.
    public let ggufExport: @Sendable (_ config: URL, _ name: String, _ fileType: UInt32) throws -> GGUFExport
}

/// Finds the architecture of a checkpoint or GGUF file and loads it.
public enum ModelRegistry {
    /// Supported architectures, one line each.
    public static let architectures: [ModelArchitecture] = [
        .panguEmbedded,  // Architectures/PanguEmbedded+Registration.swift
        .panguProMoE,    // Architectures/PanguProMoE+Registration.swift
    ]

    /// Every name a config.json may use, for messages.
    public static var supportedNames: [String] {
        architectures.flatMap { $0.configArchitectures + $0.ggufArchitectures }.sorted()
    }

    /// The architecture a config.json names (`architectures[0]`, else `model_type`).
    public static func architecture(configURL: URL) throws -> ModelArchitecture {
        guard let data = try? Data(contentsOf: configURL) else {
            throw ModelError.unsupportedConfig(file: configURL.path, field: "-", detail: "file missing or unreadable")
        }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelError.unsupportedConfig(file: configURL.path, field: "-", detail: "not a JSON object")
        }
        if let name = (root["architectures"] as? [String])?.first {
            guard let a = architectures.first(where: { $0.configArchitectures.contains(name) }) else {
                throw ModelError.unsupportedArchitecture(name, supported: supportedNames)
            }
            return a
        }
        guard let type = root["model_type"] as? String else {
            throw ModelError.unsupportedConfig(file: configURL.path, field: "architectures",
                                               detail: "missing (and no model_type)")
        }
        guard let a = architectures.first(where: { $0.modelTypes.contains(type) }) else {
            throw ModelError.unsupportedArchitecture(type, supported: supportedNames)
        }
        return a
    }

    /// The architecture a GGUF file declares in `general.architecture`.
    public static func architecture(gguf source: GGUFTensorSource) throws -> ModelArchitecture {
        guard let name = source["general.architecture"]?.stringValue else {
            throw ModelError.unsupportedConfig(file: source.path, field: "general.architecture", detail: "missing")
        }
        guard let a = architectures.first(where: { $0.ggufArchitectures.contains(name) }) else {
            throw ModelError.unsupportedArchitecture(name, supported: architectures.flatMap(\.ggufArchitectures))
        }
        return a
    }

    /// Loads a GGUF file, quantised or not.
    public static func load(gguf source: GGUFTensorSource, options: ModelLoadOptions = .init()) throws -> LanguageModel {
        let model = try architecture(gguf: source).loadGGUF(source, options)
        try model.setCacheType(options.cacheType)
        return model
    }

    /// Loads a checkpoint whose config.json is `configURL` from the tensors of `source`.
    public static func load(configURL: URL, source: TensorSource,
                            options: ModelLoadOptions = .init()) throws -> LanguageModel {
        let model = try architecture(configURL: configURL).load(configURL, source, options)
        try model.setCacheType(options.cacheType)
        return model
    }

    /// Loads the model in checkpoint directory `directory` (config.json + safetensors).
    public static func load(directory: URL, options: ModelLoadOptions = .init()) throws -> LanguageModel {
        let configURL = directory.appendingPathComponent("config.json")
        return try load(configURL: configURL, source: SafetensorsCheckpoint(directory: directory), options: options)
    }
}
