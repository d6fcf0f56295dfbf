// The same hyper-parameters read from llama.cpp GGUF metadata (`pangu-embedded.*` keys). Llama-architecture GGUFs
// are not accepted: their converter permutes the q/k rows for a different RoPE layout.
import PanguWeights

extension PanguEmbeddedConfiguration {
    /// GGUF `general.architecture` values this configuration reads.
    public static let ggufArchitectures = ["pangu-embedded"]

    /// Reads the configuration from GGUF metadata; throws naming the missing key.
    public init(gguf source: GGUFTensorSource) throws {
        let meta = try GGUFArchitectureMetadata(source, supported: Self.ggufArchitectures)
        let (file, arch) = (meta.file, meta.architecture)
        let hidden = try meta.int("embedding_length"), heads = try meta.int("attention.head_count")
        let vocab = meta.optionalInt("vocab_size") ?? source["tokenizer.ggml.tokens"]?.arrayValue?.count
            ?? source.tensor("token_embd.weight")?.shape.first ?? 0
        self.init(architectures: ["PanguEmbeddedForCausalLM"], modelType: arch, hiddenSize: hidden,
                  intermediateSize: try meta.int("feed_forward_length"), numHiddenLayers: try meta.int("block_count"),
                  numAttentionHeads: heads,
                  numKeyValueHeads: meta.optionalInt("attention.head_count_kv") ?? heads,
                  headDim: meta.optionalInt("attention.key_length"), vocabSize: vocab,
                  maxPositionEmbeddings: try meta.int("context_length"),
                  ropeTheta: try meta.double("rope.freq_base", default: 10_000),
                  rmsNormEps: try meta.double("attention.layer_norm_rms_epsilon"), hiddenAct: "silu", bias: true,
                  attentionBias: nil, mlpBias: nil, tieWordEmbeddings: source.tensor("output.weight") == nil,
                  bosTokenId: source["tokenizer.ggml.bos_token_id"]?.intValue,
                  eosTokenId: source["tokenizer.ggml.eos_token_id"]?.intValue.map { TokenIdList([$0]) },
                  padTokenId: source["tokenizer.ggml.padding_token_id"]?.intValue, torchDtype: nil, ropeScaling: nil)
        try validate(file: file)
    }
}
