// The same hyper-parameters read from llama.cpp GGUF metadata (`pangu-embedded.*` keys). Llama-architecture GGUFs
// are not accepted: their converter permutes the q/k rows for a different RoPE layout.
import PanguWeights

extension PanguEmbeddedConfiguration {
    /// GGUF `general.architecture` values this configuration reads.
    public static let ggufArchitectures = ["pangu-embedded"]

    /// Reads the configuration from GGUF metadata; throws naming the missing key.
    public init(gguf source: GGUFTensorSource) throws {
        let file = source.path
        guard let arch = source["general.architecture"]?.stringValue else {
            throw ModelError.unsupportedConfig(file: file, field: "general.architecture", detail: "missing")
        }
        guard Self.ggufArchitectures.contains(arch) else {
            throw ModelError.unsupportedArchitecture(arch, supported: Self.ggufArchitectures)
        }
        func int(_ key: String) throws -> Int {
            guard let v = source["\(arch).\(key)"]?.intValue else {
                throw ModelError.unsupportedConfig(file: file, field: "\(arch).\(key)", detail: "missing or not an integer")
            }
            return v
        }
        func double(_ key: String, default value: Double? = nil) throws -> Double {
            if let v = source["\(arch).\(key)"]?.doubleValue { return v }
            if let value { return value }
            throw ModelError.unsupportedConfig(file: file, field: "\(arch).\(key)", detail: "missing or not a number")
        }
        let hidden = try int("embedding_length"), heads = try int("attention.head_count")
        let vocab = source["\(arch).vocab_size"]?.intValue ?? source["tokenizer.ggml.tokens"]?.arrayValue?.count
            ?? source.tensor("token_embd.weight")?.shape.first ?? 0
        self.init(architectures: ["PanguEmbeddedForCausalLM"], modelType: arch, hiddenSize: hidden,
                  intermediateSize: try int("feed_forward_length"), numHiddenLayers: try int("block_count"),
                  numAttentionHeads: heads,
                  numKeyValueHeads: source["\(arch).attention.head_count_kv"]?.intValue ?? heads,
                  headDim: source["\(arch).attention.key_length"]?.intValue, vocabSize: vocab,
                  maxPositionEmbeddings: try int("context_length"),
                  ropeTheta: try double("rope.freq_base", default: 10_000),
                  rmsNormEps: try double("attention.layer_norm_rms_epsilon"), hiddenAct: "silu", bias: true,
                  attentionBias: nil, mlpBias: nil, tieWordEmbeddings: source.tensor("output.weight") == nil,
                  bosTokenId: source["tokenizer.ggml.bos_token_id"]?.intValue,
                  eosTokenId: source["tokenizer.ggml.eos_token_id"]?.intValue.map { TokenIdList([$0]) },
                  padTokenId: source["tokenizer.ggml.padding_token_id"]?.intValue, torchDtype: nil, ropeScaling: nil)
        try validate(file: file)
    }
}
