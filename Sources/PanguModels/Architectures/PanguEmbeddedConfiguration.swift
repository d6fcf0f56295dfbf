// config.json of openPangu-Embedded (7B, 1B) — see Docs/Architectures.md. Decoding throws on any value the forward pass
// does not implement, naming the field, instead of silently computing something else.
import Foundation

/// A token id or a list of them (`eos_token_id` may be either in Hugging Face configs).
public struct TokenIdList: Codable, Sendable, Equatable {
    /// The ids.
    public var ids: [Int]
    /// Wraps `ids`.
    public init(_ ids: [Int]) { self.ids = ids }
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let one = try? c.decode(Int.self) { ids = [one] } else { ids = try c.decode([Int].self) }
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        if ids.count == 1 { try c.encode(ids[0]) } else { try c.encode(ids) }
    }
}

/// Hyper-parameters of a Pangu Embedded (Llama-style dense) model, mirroring `config.json`.
public struct PanguEmbeddedConfiguration: Codable, Sendable, Equatable {
    public var architectures: [String]?
    public var modelType: String?
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int?
    /// Per-head width; absent in the official config, where it is hidden / heads.
    public var headDim: Int?
    public var vocabSize: Int
    public var maxPositionEmbeddings: Int
    public var ropeTheta: Double
    public var rmsNormEps: Double
    public var hiddenAct: String
    /// Pangu's flag for q/k/v/o biases.
    public var bias: Bool?
    /// Llama's name for the same flag (used when a checkpoint is re-aliased as LlamaForCausalLM).
    public var attentionBias: Bool?
    public var mlpBias: Bool?
    public var tieWordEmbeddings: Bool?
    public var bosTokenId: Int?
    public var eosTokenId: TokenIdList?
    public var padTokenId: Int?
    public var torchDtype: String?
    public var ropeScaling: [String: JSONValue]?

    enum CodingKeys: String, CodingKey {
        case architectures
        case modelType = "model_type"
        case hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads"
        case numKeyValueHeads = "num_key_value_heads"
        case headDim = "head_dim"
        case vocabSize = "vocab_size"
        case maxPositionEmbeddings = "max_position_embeddings"
        case ropeTheta = "rope_theta"
        case rmsNormEps = "rms_norm_eps"
        case hiddenAct = "hidden_act"
        case bias
        case attentionBias = "attention_bias"
        case mlpBias = "mlp_bias"
        case tieWordEmbeddings = "tie_word_embeddings"
        case bosTokenId = "bos_token_id"
        case eosTokenId = "eos_token_id"
        case padTokenId = "pad_token_id"
        case torchDtype = "torch_dtype"
        case ropeScaling = "rope_scaling"
    }

    /// Key/value heads (defaults to the query heads: plain multi-head attention).
    public var kvHeads: Int { numKeyValueHeads ?? numAttentionHeads }
    /// Width of one head.
    public var resolvedHeadDim: Int { headDim ?? hiddenSize / numAttentionHeads }
    /// Whether q/k/v/o carry biases (true for every released Pangu Embedded checkpoint).
    public var hasAttentionBias: Bool { bias ?? attentionBias ?? true }
    /// Whether the output matrix is the embedding matrix.
    public var tied: Bool { tieWordEmbeddings ?? false }

    /// Decodes and validates `config.json` at `url`.
    public static func load(_ url: URL) throws -> PanguEmbeddedConfiguration {
        let config = try ConfigFile.decode(PanguEmbeddedConfiguration.self, from: url)
        try config.validate(file: url.path)
        return config
    }

    /// Throws `ModelError.unsupportedConfig` for values the forward pass does not implement.
    public func validate(file: String = "config.json") throws {
        func fail(_ field: String, _ detail: String) -> ModelError {
            .unsupportedConfig(file: file, field: field, detail: detail)
        }
        // Counts first: the derived head size divides by the head count.
        for (name, v) in [("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
                          ("num_hidden_layers", numHiddenLayers), ("num_attention_heads", numAttentionHeads),
                          ("num_key_value_heads", kvHeads), ("vocab_size", vocabSize),
                          ("max_position_embeddings", maxPositionEmbeddings)] where v <= 0 {
            throw fail(name, "must be positive, got \(v)")
        }
        if resolvedHeadDim <= 0 { throw fail("head_dim", "must be positive, got \(resolvedHeadDim)") }
        if headDim == nil, hiddenSize % numAttentionHeads != 0 {
            throw fail("num_attention_heads", "\(numAttentionHeads) does not divide hidden_size \(hiddenSize)")
        }
        if numAttentionHeads % kvHeads != 0 {
            throw fail("num_key_value_heads", "\(kvHeads) does not divide num_attention_heads \(numAttentionHeads)")
        }
        if resolvedHeadDim % 2 != 0 { throw fail("head_dim", "RoPE needs an even head_dim, got \(resolvedHeadDim)") }
        if hiddenAct != "silu" { throw fail("hidden_act", "only \"silu\" is implemented, got \"\(hiddenAct)\"") }
        if mlpBias == true { throw fail("mlp_bias", "MLP biases are not part of this architecture") }
        if let s = ropeScaling, !s.isEmpty {
            let type = s["rope_type"]?.stringValue ?? s["type"]?.stringValue ?? "?"
            if type != "default" { throw fail("rope_scaling", "rope scaling type \"\(type)\" is not implemented") }
        }
        if ropeTheta <= 0 { throw fail("rope_theta", "must be positive, got \(ropeTheta)") }
        if rmsNormEps <= 0 { throw fail("rms_norm_eps", "must be positive, got \(rmsNormEps)") }
    }
}

/// A JSON value of any kind, for free-form config fields.
public enum JSONValue: Codable, Sendable, Equatable {
    case string(String), number(Double), bool(Bool), array([JSONValue]), object([String: JSONValue]), null

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .string(let s): try c.encode(s)
        case .number(let n): try c.encode(n)
        case .bool(let b): try c.encode(b)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        case .null: try c.encodeNil()
        }
    }

    /// The string payload, if this is a string.
    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
}
