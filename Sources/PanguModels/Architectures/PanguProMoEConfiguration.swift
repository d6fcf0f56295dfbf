// config.json of Pangu Pro MoE (Docs/Architectures.md, "Pangu Pro MoE"). Every key is optional, as in Huawei's
// `PanguProMoEConfig`: an absent key takes that class's default (the released 72B model's values). Decoding throws
// on any value the forward pass does not implement, naming the field.
import Foundation

/// Hyper-parameters of a Pangu Pro MoE model (Mixture of Grouped Experts), mirroring `config.json`.
public struct PanguProMoEConfiguration: Codable, Sendable, Equatable {
    public var architectures: [String]?
    public var modelType: String?
    public var vocabSize: Int = 153_376
    public var hiddenSize: Int = 5120
    public var numHiddenLayers: Int = 48
    public var numAttentionHeads: Int = 40
    public var numKeyValueHeads: Int = 8
    /// Not a key of the official config (the reference derives hidden / heads); accepted only when it agrees.
    public var headDim: Int?
    public var hiddenAct: String = "silu"
    public var maxPositionEmbeddings: Int = 131_072
    public var rmsNormEps: Double = 1e-5
    public var tieWordEmbeddings: Bool = false
    public var ropeTheta: Double = 16_000_000
    public var ropeScaling: [String: JSONValue]?
    /// Inner width of one routed expert.
    public var moeIntermediateSize: Int = 1344
    /// Inner width of the always-on shared expert.
    public var sharedExpertIntermediateSize: Int = 5376
    /// Experts selected per token; the experts form this many contiguous groups and each group contributes
    /// its single best expert (64 experts, 8 per token = 8 groups of 8 in the released model).
    public var numExpertsPerTok: Int = 8
    /// Routed experts per layer.
    public var numExperts: Int = 64
    public var bosTokenId: Int?
    public var eosTokenId: TokenIdList?
    public var padTokenId: Int?
    public var torchDtype: String?

    enum CodingKeys: String, CodingKey {
        case architectures
        case modelType = "model_type"
        case vocabSize = "vocab_size"
        case hiddenSize = "hidden_size"
        case numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads"
        case numKeyValueHeads = "num_key_value_heads"
        case headDim = "head_dim"
        case hiddenAct = "hidden_act"
        case maxPositionEmbeddings = "max_position_embeddings"
        case rmsNormEps = "rms_norm_eps"
        case tieWordEmbeddings = "tie_word_embeddings"
        case ropeTheta = "rope_theta"
        case ropeScaling = "rope_scaling"
        case moeIntermediateSize = "moe_intermediate_size"
        case sharedExpertIntermediateSize = "shared_expert_intermediate_size"
        case numExpertsPerTok = "num_experts_per_tok"
        case numExperts = "num_experts"
        case bosTokenId = "bos_token_id"
        case eosTokenId = "eos_token_id"
        case padTokenId = "pad_token_id"
        case torchDtype = "torch_dtype"
    }

    /// The released Pangu Pro MoE 72B values.
    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try c.decodeIfPresent(T.self, forKey: key) ?? fallback
        }
        let d = PanguProMoEConfiguration()
        architectures = try c.decodeIfPresent([String].self, forKey: .architectures)
        modelType = try c.decodeIfPresent(String.self, forKey: .modelType)
        vocabSize = try value(.vocabSize, d.vocabSize)
        hiddenSize = try value(.hiddenSize, d.hiddenSize)
        numHiddenLayers = try value(.numHiddenLayers, d.numHiddenLayers)
        numAttentionHeads = try value(.numAttentionHeads, d.numAttentionHeads)
        numKeyValueHeads = try value(.numKeyValueHeads, d.numKeyValueHeads)
        headDim = try c.decodeIfPresent(Int.self, forKey: .headDim)
        hiddenAct = try value(.hiddenAct, d.hiddenAct)
        maxPositionEmbeddings = try value(.maxPositionEmbeddings, d.maxPositionEmbeddings)
        rmsNormEps = try value(.rmsNormEps, d.rmsNormEps)
        tieWordEmbeddings = try value(.tieWordEmbeddings, d.tieWordEmbeddings)
        ropeTheta = try value(.ropeTheta, d.ropeTheta)
        ropeScaling = try c.decodeIfPresent([String: JSONValue].self, forKey: .ropeScaling)
        moeIntermediateSize = try value(.moeIntermediateSize, d.moeIntermediateSize)
        sharedExpertIntermediateSize = try value(.sharedExpertIntermediateSize, d.sharedExpertIntermediateSize)
        numExpertsPerTok = try value(.numExpertsPerTok, d.numExpertsPerTok)
        numExperts = try value(.numExperts, d.numExperts)
        bosTokenId = try c.decodeIfPresent(Int.self, forKey: .bosTokenId)
        eosTokenId = try c.decodeIfPresent(TokenIdList.self, forKey: .eosTokenId)
        padTokenId = try c.decodeIfPresent(Int.self, forKey: .padTokenId)
        torchDtype = try c.decodeIfPresent(String.self, forKey: .torchDtype)
    }

    /// Width of one attention head (hidden / heads).
    public var resolvedHeadDim: Int { hiddenSize / max(numAttentionHeads, 1) }
    /// Contiguous expert groups: one expert is selected in each.
    public var expertGroups: Int { numExpertsPerTok }
    /// Experts in one group.
    public var expertsPerGroup: Int { numExperts / max(numExpertsPerTok, 1) }

    /// Decodes and validates `config.json` at `url`.
    public static func load(_ url: URL) throws -> PanguProMoEConfiguration {
        let config = try ConfigFile.decode(PanguProMoEConfiguration.self, from: url)
        try config.validate(file: url.path)
        return config
    }

    /// Throws `ModelError.unsupportedConfig` for values the forward pass does not implement.
    public func validate(file: String = "config.json") throws {
        func fail(_ field: String, _ detail: String) -> ModelError {
            .unsupportedConfig(file: file, field: field, detail: detail)
        }
        for (name, v) in [("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("num_hidden_layers", numHiddenLayers),
                          ("num_attention_heads", numAttentionHeads), ("num_key_value_heads", numKeyValueHeads),
                          ("max_position_embeddings", maxPositionEmbeddings),
                          ("moe_intermediate_size", moeIntermediateSize),
                          ("shared_expert_intermediate_size", sharedExpertIntermediateSize),
                          ("num_experts", numExperts), ("num_experts_per_tok", numExpertsPerTok)] where v <= 0 {
            throw fail(name, "must be positive, got \(v)")
        }
        if hiddenSize % numAttentionHeads != 0 {
            throw fail("num_attention_heads", "\(numAttentionHeads) does not divide hidden_size \(hiddenSize)")
        }
        if let h = headDim, h != resolvedHeadDim {
            throw fail("head_dim", "\(h) differs from hidden_size / num_attention_heads = \(resolvedHeadDim), "
                       + "which this architecture always uses")
        }
        if numAttentionHeads % numKeyValueHeads != 0 {
            throw fail("num_key_value_heads", "\(numKeyValueHeads) does not divide num_attention_heads \(numAttentionHeads)")
        }
        if resolvedHeadDim % 2 != 0 { throw fail("num_attention_heads", "RoPE needs an even head dim, got \(resolvedHeadDim)") }
        if numExperts % numExpertsPerTok != 0 {
            throw fail("num_experts", "\(numExperts) experts cannot form \(numExpertsPerTok) equal groups "
                       + "(num_experts_per_tok is the number of expert groups, one expert chosen in each)")
        }
        if hiddenAct != "silu" { throw fail("hidden_act", "only \"silu\" is implemented, got \"\(hiddenAct)\"") }
        if tieWordEmbeddings {
            throw fail("tie_word_embeddings", "Pangu Pro MoE has a separate lm_head; tied embeddings are not implemented")
        }
        if let s = ropeScaling, !s.isEmpty {
            let type = s["rope_type"]?.stringValue ?? s["type"]?.stringValue ?? "?"
            if type != "default" { throw fail("rope_scaling", "rope scaling type \"\(type)\" is not implemented") }
        }
        if ropeTheta <= 0 { throw fail("rope_theta", "must be positive, got \(ropeTheta)") }
        if rmsNormEps <= 0 { throw fail("rms_norm_eps", "must be positive, got \(rmsNormEps)") }
    }
}
