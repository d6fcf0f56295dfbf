// Random-weight checkpoints in the official openPangu-Embedded or Pangu Pro MoE layout (config.json,
// generation_config.json, sharded safetensors + index). `tiny` is the built-in demo model; `1b-shape`, `7b-shape`
// and `pro-moe-shape` have the real shapes so speed and memory can be measured without downloading the weights
// (`--layers N` gives a reduced-depth model with the true widths).
import Foundation
import PanguModels
import PanguRuntime
import PanguTokenizer
import PanguTensor
import PanguWeights

/// Shapes of the test models `pangu create-test-model` can write.
public struct TestModelPreset: Sendable {
    public var name: String
    public var hidden: Int, intermediate: Int, layers: Int, heads: Int, kvHeads: Int, vocab: Int
    public var ropeTheta: Double, tied: Bool, shards: Int, contextLength: Int
    public var bos = 1, eos = 2, pad = 0
    /// Set for a Pangu Pro MoE checkpoint (every layer a Mixture of Grouped Experts; `intermediate` unused).
    public var moe: MoEShape? = nil

    /// Routed and shared experts of a Pangu Pro MoE test model.
    public struct MoEShape: Sendable {
        /// Routed experts per layer, experts chosen per token (= contiguous groups), inner widths.
        public var experts: Int, perToken: Int, expertIntermediate: Int, sharedIntermediate: Int

        /// Memberwise initialiser.
        public init(experts: Int, perToken: Int, expertIntermediate: Int, sharedIntermediate: Int) {
            self.experts = experts; self.perToken = perToken
            self.expertIntermediate = expertIntermediate; self.sharedIntermediate = sharedIntermediate
        }
    }

    /// The built-in demo model: small enough to create in a second.
    public static let tiny = TestModelPreset(name: "tiny", hidden: 128, intermediate: 352, layers: 4, heads: 4,
                                             kvHeads: 2, vocab: 2048, ropeTheta: 16_000_000, tied: false, shards: 1,
                                             contextLength: 4096)
    /// openPangu-Embedded-1B shapes (Docs/Architectures.md).
    public static let oneB = TestModelPreset(name: "1b-shape", hidden: 1536, intermediate: 6144, layers: 26, heads: 12,
                                             kvHeads: 6, vocab: 153_376, ropeTheta: 4_000_000, tied: true, shards: 1,
                                             contextLength: 32768, eos: 45892)
    /// openPangu-Embedded-7B shapes (Docs/Architectures.md), sharded in four files like the official checkpoint.
    public static let sevenB = TestModelPreset(name: "7b-shape", hidden: 4096, intermediate: 12800, layers: 34,
                                               heads: 32, kvHeads: 8, vocab: 153_376, ropeTheta: 16_000_000,
                                               tied: false, shards: 4, contextLength: 32768, eos: 45892)

    /// A small Pangu Pro MoE: 16 experts in 4 groups.
    public static let tinyMoE = TestModelPreset(name: "tiny-moe", hidden: 128, intermediate: 0, layers: 4, heads: 4,
                                                kvHeads: 2, vocab: 2048, ropeTheta: 16_000_000, tied: false, shards: 1,
                                                contextLength: 4096,
                                                moe: MoEShape(experts: 16, perToken: 4, expertIntermediate: 64,
                                                              sharedIntermediate: 256))
    /// A small Pangu Pro MoE whose 4 expert groups and 4 KV heads both split over 1, 2 or 4 processes (the
    /// expert-parallel tests).
    public static let tinyMoEKV4 = TestModelPreset(name: "tiny-moe-kv4", hidden: 128, intermediate: 0, layers: 2,
                                                   heads: 8, kvHeads: 4, vocab: 2048, ropeTheta: 16_000_000,
                                                   tied: false, shards: 2, contextLength: 4096,
                                                   moe: MoEShape(experts: 16, perToken: 4, expertIntermediate: 64,
                                                                 sharedIntermediate: 256))
    /// Pangu Pro MoE 72B shapes (48 layers, 64 experts of 1344 in 8 groups, shared expert 5376).
    public static let proMoE = TestModelPreset(name: "pro-moe-shape", hidden: 5120, intermediate: 0, layers: 48,
                                               heads: 40, kvHeads: 8, vocab: 153_376, ropeTheta: 16_000_000,
                                               tied: false, shards: 8, contextLength: 131_072, eos: 45892,
                                               moe: MoEShape(experts: 64, perToken: 8, expertIntermediate: 1344,
                                                             sharedIntermediate: 5376))

    /// Presets by name.
    public static let all: [String: TestModelPreset] = ["tiny": tiny, "1b-shape": oneB, "7b-shape": sevenB,
                                                        "tiny-moe": tinyMoE, "tiny-moe-kv4": tinyMoEKV4,
                                                        "pro-moe-shape": proMoE]

    var headDim: Int { hidden / heads }
}

/// Writes random-weight checkpoints.
public enum TestCheckpointWriter {
    /// Writes `preset` with weights of `dtype` into `directory`, reporting (bytes done, total). The tokenizer
    /// files in `tokenizer` (default: the built-in tiny Pangu-like tokenizer) are copied alongside, and its
    /// BOS/EOS ids go into config.json and generation_config.json.
    public static func write(_ preset: TestModelPreset, dtype: DType, seed: UInt64, to directory: URL,
                             tokenizer: URL? = BuiltinTokenizer.tinyPanguDirectory,
                             progress: ((Int, Int) -> Void)? = nil) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var p = preset
        if let tokenizer {
            let tok = try HuggingFaceTokenizer(directory: tokenizer)
            guard tok.vocabularySize <= p.vocab else {
                throw EngineError.tokenizerMismatch(detail: "tokenizer has \(tok.vocabularySize) ids, preset vocabulary \(p.vocab)")
            }
            p.bos = tok.bosTokenId ?? p.bos
            p.eos = tok.eosTokenIds.first ?? p.eos
            for file in ["tokenizer.model", "tokenizer_config.json"] {
                let dst = directory.appendingPathComponent(file)
                try? FileManager.default.removeItem(at: dst)
                try FileManager.default.copyItem(at: tokenizer.appendingPathComponent(file), to: dst)
            }
        }
        let dh = p.headDim
        // Tensors in the official order: embeddings, layers, final norm, lm_head.
        var tensors: [(SafetensorsWriter.Entry, Float)] = []  // entry, init scale (0 = ones for norms)
        func add(_ name: String, _ shape: [Int], _ scale: Float, _ type: DType? = nil) {
            tensors.append((.init(name: name, dtype: type ?? dtype, shape: shape), scale))
        }
        add("model.embed_tokens.weight", [p.vocab, p.hidden], 0.5)
        for l in 0..<p.layers {
            let pre = "model.layers.\(l)."
            add(pre + "input_layernorm.weight", [p.hidden], 0)
            add(pre + "self_attn.q_proj.weight", [p.heads * dh, p.hidden], 1 / Float(p.hidden).squareRoot())
            add(pre + "self_attn.q_proj.bias", [p.heads * dh], 0.1)
            add(pre + "self_attn.k_proj.weight", [p.kvHeads * dh, p.hidden], 1 / Float(p.hidden).squareRoot())
            add(pre + "self_attn.k_proj.bias", [p.kvHeads * dh], 0.1)
            add(pre + "self_attn.v_proj.weight", [p.kvHeads * dh, p.hidden], 1 / Float(p.hidden).squareRoot())
            add(pre + "self_attn.v_proj.bias", [p.kvHeads * dh], 0.1)
            add(pre + "self_attn.o_proj.weight", [p.hidden, p.heads * dh], 1 / Float(p.hidden).squareRoot())
            add(pre + "self_attn.o_proj.bias", [p.hidden], 0.1)
            add(pre + "self_attn.rotary_emb.inv_freq", [dh / 2], -1, .f32)  // stored like the real files, ignored
            add(pre + "post_attention_layernorm.weight", [p.hidden], 0)
            if let m = p.moe {
                let inScale = 1 / Float(p.hidden).squareRoot()
                add(pre + "mlp.gate.weight", [m.experts, p.hidden], 4 * inScale)  // router: spread logits
                add(pre + "mlp.router_scale", [1, m.experts], 0)                 // ones, like the reference init
                for j in 0..<m.experts {
                    let e = pre + "mlp.experts.\(j)."
                    add(e + "gate_proj.weight", [m.expertIntermediate, p.hidden], inScale)
                    add(e + "up_proj.weight", [m.expertIntermediate, p.hidden], inScale)
                    add(e + "down_proj.weight", [p.hidden, m.expertIntermediate], 1 / Float(m.expertIntermediate).squareRoot())
                }
                for w in ["gate_proj", "up_proj"] {
                    add(pre + "mlp.shared_expert.\(w).weight", [m.sharedIntermediate, p.hidden], inScale)
                }
                add(pre + "mlp.shared_expert.down_proj.weight", [p.hidden, m.sharedIntermediate],
                    1 / Float(m.sharedIntermediate).squareRoot())
            } else {
                add(pre + "mlp.gate_proj.weight", [p.intermediate, p.hidden], 1 / Float(p.hidden).squareRoot())
                add(pre + "mlp.up_proj.weight", [p.intermediate, p.hidden], 1 / Float(p.hidden).squareRoot())
                add(pre + "mlp.down_proj.weight", [p.hidden, p.intermediate], 1 / Float(p.intermediate).squareRoot())
            }
        }
        add("model.norm.weight", [p.hidden], 0)
        if !p.tied { add("lm_head.weight", [p.vocab, p.hidden], 1 / Float(p.hidden).squareRoot()) }

        // Split into shards of roughly equal size, never splitting a tensor.
        let total = tensors.reduce(0) { $0 + $1.0.byteCount }
        let target = (total + p.shards - 1) / p.shards
        var shards: [[(SafetensorsWriter.Entry, Float)]] = [[]]
        var size = 0
        for t in tensors {
            if size >= target && shards.count < p.shards { shards.append([]); size = 0 }
            shards[shards.count - 1].append(t)
            size += t.0.byteCount
        }
        var weightMap: [String: String] = [:]
        var rng = SeededRandom(seed: seed)
        var done = 0
        let chunk = 1 << 24
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk * 4, alignment: 64)
        defer { buffer.deallocate() }
        for (i, shard) in shards.enumerated() {
            let file = shards.count == 1 ? "model.safetensors"
                : String(format: "model-%05d-of-%05d.safetensors", i + 1, shards.count)
            let writer = try SafetensorsWriter(path: directory.appendingPathComponent(file).path, entries: shard.map(\.0))
            for (entry, scale) in shard {
                weightMap[entry.name] = file
                let count = entry.shape.reduce(1, *)
                var written = 0
                while written < count {
                    let n = min(chunk, count - written)
                    fill(buffer, n, entry.dtype, scale, offset: written, rng: &rng, headDim: dh)
                    try writer.append(UnsafeRawBufferPointer(start: buffer, count: n * entry.dtype.bytesPerBlock))
                    written += n
                    done += n * entry.dtype.bytesPerBlock
                    progress?(done, total)
                }
            }
            try writer.close()
        }
        if shards.count > 1 {
            let index: [String: Any] = ["metadata": ["total_size": total], "weight_map": weightMap]
            try JSONSerialization.data(withJSONObject: index, options: [.prettyPrinted, .sortedKeys])
                .write(to: directory.appendingPathComponent("model.safetensors.index.json"))
        }
        var config: [String: Any] = [
            "architectures": ["PanguEmbeddedForCausalLM"], "model_type": "PanguEmbedded",
            "hidden_size": p.hidden, "intermediate_size": p.intermediate, "num_hidden_layers": p.layers,
            "num_attention_heads": p.heads, "num_key_value_heads": p.kvHeads, "vocab_size": p.vocab,
            "max_position_embeddings": p.contextLength, "rope_theta": p.ropeTheta, "rms_norm_eps": 1e-5,
            "hidden_act": "silu", "bias": true, "tie_word_embeddings": p.tied,
            "torch_dtype": ["f32": "float32", "f16": "float16", "bf16": "bfloat16"][dtype.rawValue] ?? "bfloat16",
            "bos_token_id": p.bos, "eos_token_id": p.eos, "pad_token_id": p.pad, "attention_dropout": 0.0,
            "initializer_range": 0.02, "use_cache": true,
        ]
        if let m = p.moe {
            config["architectures"] = ["PanguProMoEForCausalLM"]
            config["model_type"] = "PanguProMoE"
            config["auto_map"] = ["AutoConfig": "configuration_pangu_moe.PanguProMoEConfig",
                                  "AutoModel": "modeling_pangu_moe.PanguProMoEModel",
                                  "AutoModelForCausalLM": "modeling_pangu_moe.PanguProMoEForCausalLM"]
            for key in ["intermediate_size", "bias"] { config.removeValue(forKey: key) }
            config["num_experts"] = m.experts
            config["num_experts_per_tok"] = m.perToken
            config["moe_intermediate_size"] = m.expertIntermediate
            config["shared_expert_intermediate_size"] = m.sharedIntermediate
            config["router_aux_loss_coef"] = 0.001
            config["output_router_logits"] = false
        }
        try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
            .write(to: directory.appendingPathComponent("config.json"))
        let generation: [String: Any] = [
            "_from_model_config": true, "do_sample": true, "bos_token_id": p.bos, "pad_token_id": p.pad,
            "eos_token_id": p.eos, "temperature": 1.0, "top_k": 0, "top_p": 0.8,
        ]
        try JSONSerialization.data(withJSONObject: generation, options: [.prettyPrinted, .sortedKeys])
            .write(to: directory.appendingPathComponent("generation_config.json"))
    }

    /// Fills `n` values: uniform in [-scale, scale]; scale 0 = ones (norm weights); scale -1 = RoPE inv_freq.
    private static func fill(_ out: UnsafeMutableRawPointer, _ n: Int, _ dtype: DType, _ scale: Float, offset: Int,
                             rng: inout SeededRandom, headDim: Int) {
        for i in 0..<n {
            let v: Float
            if scale == 0 {
                v = 1
            } else if scale < 0 {
                v = 1 / powf(16_000_000, Float(2 * (offset + i)) / Float(headDim))
            } else {
                v = (Float(rng.next() >> 40) * 0x1p-24 * 2 - 1) * scale
            }
            switch dtype {
            case .f32: out.storeBytes(of: v, toByteOffset: i * 4, as: Float.self)
            case .f16: out.storeBytes(of: HalfConversion.floatToF16(v), toByteOffset: i * 2, as: UInt16.self)
            default: out.storeBytes(of: HalfConversion.floatToBF16(v), toByteOffset: i * 2, as: UInt16.self)
            }
        }
    }
}
