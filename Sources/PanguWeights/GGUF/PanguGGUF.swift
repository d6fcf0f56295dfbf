// llama.cpp `pangu-embedded` conventions: architecture metadata keys and tokenizer keys, as llama.cpp's
// convert_hf_to_gguf.py `PanguEmbeddedModel` writes them (a generic TextModel: q/k rows are NOT permuted, the
// model uses NeoX RoPE). The HF <-> GGUF tensor names live in the architecture's WeightMap (PanguModels).

/// Hyper-parameters written as `pangu-embedded.*` metadata.
public struct PanguGGUFHyperParameters: Equatable, Sendable {
    /// max_position_embeddings (32768).
    public var contextLength: Int
    /// hidden_size (4096 for 7B, 1536 for 1B).
    public var embeddingLength: Int
    /// num_hidden_layers (34 / 26).
    public var blockCount: Int
    /// intermediate_size (12800 / 6144).
    public var feedForwardLength: Int
    /// num_attention_heads (32 / 12).
    public var headCount: Int
    /// num_key_value_heads (8 / 6).
    public var headCountKV: Int
    /// head_dim (128; hidden_size / heads when absent from config.json).
    public var headDim: Int
    /// rope_theta (1.6e7 / 4e6).
    public var ropeFreqBase: Float
    /// rms_norm_eps (1e-5).
    public var rmsNormEps: Float
    /// vocab_size (153376).
    public var vocabSize: Int

    /// Memberwise initialiser.
    public init(contextLength: Int, embeddingLength: Int, blockCount: Int, feedForwardLength: Int, headCount: Int,
                headCountKV: Int, headDim: Int, ropeFreqBase: Float, rmsNormEps: Float, vocabSize: Int) {
        self.contextLength = contextLength; self.embeddingLength = embeddingLength; self.blockCount = blockCount
        self.feedForwardLength = feedForwardLength; self.headCount = headCount; self.headCountKV = headCountKV
        self.headDim = headDim; self.ropeFreqBase = ropeFreqBase; self.rmsNormEps = rmsNormEps; self.vocabSize = vocabSize
    }
}

/// SentencePiece (llama-style) vocabulary written as `tokenizer.ggml.*` metadata.
public struct PanguGGUFVocabulary: Sendable {
    /// Token pieces by id.
    public var tokens: [String]
    /// SentencePiece scores by id.
    public var scores: [Float]
    /// llama.cpp token types by id (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte).
    public var tokenTypes: [Int32]
    /// Special ids (Pangu: bos 1, eos 45892, unk 0, pad 0).
    public var bosID: UInt32, eosID: UInt32, unknownID: UInt32, paddingID: UInt32
    /// Whether a BOS token is prepended (true for Pangu) / an EOS appended (false).
    public var addBOS: Bool, addEOS: Bool
    /// SentencePiece `add_dummy_prefix` / tokenizer_config `add_prefix_space`.
    public var addSpacePrefix: Bool
    /// Jinja chat template (`tokenizer.chat_template`), if any.
    public var chatTemplate: String?

    /// Memberwise initialiser.
    public init(tokens: [String], scores: [Float], tokenTypes: [Int32], bosID: UInt32 = 1, eosID: UInt32 = 45892,
                unknownID: UInt32 = 0, paddingID: UInt32 = 0, addBOS: Bool = true, addEOS: Bool = false,
                addSpacePrefix: Bool = false, chatTemplate: String? = nil) {
        self.tokens = tokens; self.scores = scores; self.tokenTypes = tokenTypes
        self.bosID = bosID; self.eosID = eosID; self.unknownID = unknownID; self.paddingID = paddingID
        self.addBOS = addBOS; self.addEOS = addEOS; self.addSpacePrefix = addSpacePrefix; self.chatTemplate = chatTemplate
    }
}

/// llama.cpp `pangu-embedded` GGUF conventions.
public enum PanguGGUF {
    /// `general.architecture` value.
    public static let architecture = "pangu-embedded"

    /// Architecture metadata in the order llama.cpp's converter writes it. `fileType` is `general.file_type`
    /// (see `GGMLType.fileType(for:)`).
    public static func architectureMetadata(_ h: PanguGGUFHyperParameters, name: String? = nil,
                                            fileType: UInt32) -> [(String, GGUFValue)] {
        let a = architecture
        var m: [(String, GGUFValue)] = [("general.architecture", .string(a))]
        if let name { m.append(("general.name", .string(name))) }
        m += [
            ("\(a).block_count", .uint32(UInt32(h.blockCount))),
            ("\(a).context_length", .uint32(UInt32(h.contextLength))),
            ("\(a).embedding_length", .uint32(UInt32(h.embeddingLength))),
            ("\(a).feed_forward_length", .uint32(UInt32(h.feedForwardLength))),
            ("\(a).attention.head_count", .uint32(UInt32(h.headCount))),
            ("\(a).attention.head_count_kv", .uint32(UInt32(h.headCountKV))),
            ("\(a).rope.freq_base", .float32(h.ropeFreqBase)),
            ("\(a).attention.layer_norm_rms_epsilon", .float32(h.rmsNormEps)),
            ("general.file_type", .uint32(fileType)),
            ("\(a).vocab_size", .uint32(UInt32(h.vocabSize))),
            ("\(a).rope.dimension_count", .uint32(UInt32(h.headDim))),
            ("\(a).attention.key_length", .uint32(UInt32(h.headDim))),
            ("\(a).attention.value_length", .uint32(UInt32(h.headDim))),
            ("general.quantization_version", .uint32(2)),
        ]
        return m
    }

    /// `tokenizer.ggml.*` metadata for a llama-style SentencePiece vocabulary.
    public static func tokenizerMetadata(_ v: PanguGGUFVocabulary) -> [(String, GGUFValue)] {
        var m: [(String, GGUFValue)] = [
            ("tokenizer.ggml.model", .string("llama")),
            ("tokenizer.ggml.tokens", .strings(v.tokens)),
            ("tokenizer.ggml.scores", .float32s(v.scores)),
            ("tokenizer.ggml.token_type", .int32s(v.tokenTypes)),
            ("tokenizer.ggml.bos_token_id", .uint32(v.bosID)),
            ("tokenizer.ggml.eos_token_id", .uint32(v.eosID)),
            ("tokenizer.ggml.unknown_token_id", .uint32(v.unknownID)),
            ("tokenizer.ggml.padding_token_id", .uint32(v.paddingID)),
            ("tokenizer.ggml.add_bos_token", .bool(v.addBOS)),
            ("tokenizer.ggml.add_eos_token", .bool(v.addEOS)),
            ("tokenizer.ggml.add_space_prefix", .bool(v.addSpacePrefix)),
        ]
        if let t = v.chatTemplate { m.append(("tokenizer.chat_template", .string(t))) }
        return m
    }
}
