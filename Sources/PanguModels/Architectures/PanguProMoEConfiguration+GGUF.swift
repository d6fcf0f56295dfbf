// Pangu Pro MoE in GGUF: architecture `pangu-pro-moe`, a name of our own (llama.cpp has no Pro MoE support). The
// keys follow llama.cpp's mixture-of-experts conventions: `expert_count`, `expert_used_count`,
// `expert_feed_forward_length`, `expert_shared_feed_forward_length` (as for Qwen2-MoE) and `expert_group_count` /
// `expert_group_used_count` (as for DeepSeek's grouped routing); Docs/Architectures.md lists them.
import PanguWeights

extension PanguProMoEConfiguration {
    /// GGUF `general.architecture` values this configuration reads.
    public static let ggufArchitectures = ["pangu-pro-moe"]

    /// Architecture metadata for `pangu quantize`, with `general.name` and `general.file_type`.
    public func ggufMetadata(name: String?, fileType: UInt32) -> [(String, GGUFValue)] {
        let a = Self.ggufArchitectures[0]
        var m: [(String, GGUFValue)] = [("general.architecture", .string(a))]
        if let name { m.append(("general.name", .string(name))) }
        func u(_ v: Int) -> GGUFValue { .uint32(UInt32(v)) }
        m += [
            ("\(a).block_count", u(numHiddenLayers)),
            ("\(a).context_length", u(maxPositionEmbeddings)),
            ("\(a).embedding_length", u(hiddenSize)),
            ("\(a).feed_forward_length", u(moeIntermediateSize)),
            ("\(a).expert_feed_forward_length", u(moeIntermediateSize)),
            ("\(a).expert_shared_feed_forward_length", u(sharedExpertIntermediateSize)),
            ("\(a).expert_count", u(numExperts)),
            ("\(a).expert_used_count", u(numExpertsPerTok)),
            ("\(a).expert_group_count", u(expertGroups)),
            ("\(a).expert_group_used_count", u(expertGroups)),
            ("\(a).attention.head_count", u(numAttentionHeads)),
            ("\(a).attention.head_count_kv", u(numKeyValueHeads)),
            ("\(a).rope.freq_base", .float32(Float(ropeTheta))),
            ("\(a).attention.layer_norm_rms_epsilon", .float32(Float(rmsNormEps))),
            ("general.file_type", .uint32(fileType)),
            ("\(a).vocab_size", u(vocabSize)),
            ("\(a).rope.dimension_count", u(resolvedHeadDim)),
            ("\(a).attention.key_length", u(resolvedHeadDim)),
            ("\(a).attention.value_length", u(resolvedHeadDim)),
            ("general.quantization_version", .uint32(2)),
        ]
        return m
    }

    /// Reads the configuration from GGUF metadata; throws naming the missing or inconsistent key.
    public init(gguf source: GGUFTensorSource) throws {
        let meta = try GGUFArchitectureMetadata(source, supported: Self.ggufArchitectures)
        let (file, arch) = (meta.file, meta.architecture)
        self.init()
        architectures = ["PanguProMoEForCausalLM"]
        modelType = arch
        hiddenSize = try meta.int("embedding_length")
        numHiddenLayers = try meta.int("block_count")
        numAttentionHeads = try meta.int("attention.head_count")
        numKeyValueHeads = try meta.int("attention.head_count_kv")
        maxPositionEmbeddings = try meta.int("context_length")
        moeIntermediateSize = try meta.int("expert_feed_forward_length")
        sharedExpertIntermediateSize = try meta.int("expert_shared_feed_forward_length")
        numExperts = try meta.int("expert_count")
        numExpertsPerTok = try meta.int("expert_used_count")
        ropeTheta = try meta.double("rope.freq_base")
        rmsNormEps = try meta.double("attention.layer_norm_rms_epsilon")
        vocabSize = meta.optionalInt("vocab_size") ?? source.tensor("token_embd.weight")?.shape.first ?? 0
        for key in ["expert_group_count", "expert_group_used_count"] {
            if let v = meta.optionalInt(key), v != numExpertsPerTok {
                throw ModelError.unsupportedConfig(file: file, field: "\(arch).\(key)", detail:
                    "\(v), but Pangu Pro MoE picks one expert in every group (expert_used_count \(numExpertsPerTok))")
            }
        }
        if let k = meta.optionalInt("attention.key_length") { headDim = k }
        bosTokenId = source["tokenizer.ggml.bos_token_id"]?.intValue
        eosTokenId = source["tokenizer.ggml.eos_token_id"]?.intValue.map { TokenIdList([$0]) }
        padTokenId = source["tokenizer.ggml.padding_token_id"]?.intValue
        try validate(file: file)
    }
}
