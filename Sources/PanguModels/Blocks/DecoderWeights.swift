// The tensors every Pangu decoder shares: embedding, final norm and output head, and per layer the two RMSNorms
// and the attention projections with their biases (q, k, v and o all carry one). One table of names in both
// schemes and one of expected shapes, so an architecture file lists only its own tensors (the feed-forward).
// Letters: D hidden, V vocabulary, H query heads, K KV heads, h head dim.

enum DecoderWeights {
    /// Embedding, final norm and output head. `outputRequired`: false when the head may be tied to the embedding
    /// (openPangu-Embedded-1B stores no `lm_head.weight`).
    static func global(outputRequired: Bool) -> [WeightName] {
        [
            WeightName(.tokenEmbedding, hf: "model.embed_tokens.weight", gguf: "token_embd.weight"),
            WeightName(.outputNorm, hf: "model.norm.weight", gguf: "output_norm.weight"),
            WeightName(.output, hf: "lm_head.weight", gguf: "output.weight", required: outputRequired),
        ]
    }

    /// Per layer, in file order: input norm, q/k/v/o with biases, post-attention norm (the feed-forward's input).
    static let attention: [WeightName] = [
        WeightName(.attnNorm, hf: "model.layers.{L}.input_layernorm.weight", gguf: "blk.{L}.attn_norm.weight"),
        WeightName(.q, hf: "model.layers.{L}.self_attn.q_proj.weight", gguf: "blk.{L}.attn_q.weight"),
        WeightName(.qBias, hf: "model.layers.{L}.self_attn.q_proj.bias", gguf: "blk.{L}.attn_q.bias"),
        WeightName(.k, hf: "model.layers.{L}.self_attn.k_proj.weight", gguf: "blk.{L}.attn_k.weight"),
        WeightName(.kBias, hf: "model.layers.{L}.self_attn.k_proj.bias", gguf: "blk.{L}.attn_k.bias"),
        WeightName(.v, hf: "model.layers.{L}.self_attn.v_proj.weight", gguf: "blk.{L}.attn_v.weight"),
        WeightName(.vBias, hf: "model.layers.{L}.self_attn.v_proj.bias", gguf: "blk.{L}.attn_v.bias"),
        WeightName(.o, hf: "model.layers.{L}.self_attn.o_proj.weight", gguf: "blk.{L}.attn_output.weight"),
        WeightName(.oBias, hf: "model.layers.{L}.self_attn.o_proj.bias", gguf: "blk.{L}.attn_output.bias"),
        WeightName(.ffnNorm, hf: "model.layers.{L}.post_attention_layernorm.weight", gguf: "blk.{L}.ffn_norm.weight"),
    ]

    /// Expected shape (PyTorch order: [out, in]) of a shared role, or nil for a role of the feed-forward.
    static func shape(_ role: TensorRole, hidden d: Int, vocabulary v: Int, heads: Int, kvHeads: Int,
                      headDim: Int) -> [Int]? {
        let qDim = heads * headDim, kvDim = kvHeads * headDim
        switch role {
        case .tokenEmbedding, .output: return [v, d]            // [V, D]
        case .outputNorm, .attnNorm, .ffnNorm, .oBias: return [d]
        case .q: return [qDim, d]                               // [H·h, D]
        case .qBias: return [qDim]
        case .k, .v: return [kvDim, d]                          // [K·h, D]
        case .kBias, .vBias: return [kvDim]
        case .o: return [d, qDim]                               // [D, H·h]
        default: return nil
        }
    }
}
