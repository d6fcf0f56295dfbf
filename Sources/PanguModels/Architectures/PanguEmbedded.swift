// openPangu-Embedded (7B, 1B): a pre-norm Llama-style decoder with biases on q, k, v AND o, SwiGLU MLP without
// bias, RMSNorm, full-head-dim NeoX RoPE and grouped-query attention (spec §1.3). Follows Huawei's
// modeling_openpangu_dense.py; llama.cpp's src/models/pangu-embedded.cpp computes the same graph.
//
// Letters: T tokens in the step (all sequences together), D hidden, H query heads, Hkv key/value heads,
// Dh head dim, F intermediate (FFN) size, V vocabulary.
import Foundation
import PanguTensor
import PanguWeights

/// A loaded openPangu-Embedded model.
public final class PanguEmbedded: LanguageModel, @unchecked Sendable {
    /// Hugging Face and GGUF names of every tensor (GGUF names as llama.cpp's `pangu-embedded` writes them).
    public static let weightMap = WeightMap(
        global: [
            WeightName(.tokenEmbedding, hf: "model.embed_tokens.weight", gguf: "token_embd.weight"),
            WeightName(.outputNorm, hf: "model.norm.weight", gguf: "output_norm.weight"),
            // Absent when the output matrix is tied to the embedding (1B).
            WeightName(.output, hf: "lm_head.weight", gguf: "output.weight", required: false),
        ],
        perLayer: [
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
            WeightName(.gate, hf: "model.layers.{L}.mlp.gate_proj.weight", gguf: "blk.{L}.ffn_gate.weight"),
            WeightName(.up, hf: "model.layers.{L}.mlp.up_proj.weight", gguf: "blk.{L}.ffn_up.weight"),
            WeightName(.down, hf: "model.layers.{L}.mlp.down_proj.weight", gguf: "blk.{L}.ffn_down.weight"),
        ],
        // Precomputed RoPE tables stored by the reference code; we compute RoPE from rope_theta.
        ignored: ["rotary_emb.inv_freq"])

    /// The weights of one decoder layer.
    struct Layer {
        let attnNorm: [Float]   // [D]
        let wq: WeightMatrix    // [H·Dh, D]
        let bq: WeightVector    // [H·Dh]
        let wk: WeightMatrix    // [Hkv·Dh, D]
        let bk: WeightVector    // [Hkv·Dh]
        let wv: WeightMatrix    // [Hkv·Dh, D]
        let bv: WeightVector    // [Hkv·Dh]
        let wo: WeightMatrix    // [D, H·Dh]
        let bo: WeightVector    // [D]
        let ffnNorm: [Float]    // [D]
        let wGate: WeightMatrix // [F, D]
        let wUp: WeightMatrix   // [F, D]
        let wDown: WeightMatrix // [D, F]
    }

    public let configuration: PanguEmbeddedConfiguration
    public let info: ModelInfo
    let embedding: WeightMatrix  // [V, D]
    let outputNorm: [Float]      // [D]
    let output: WeightMatrix     // [V, D] (the embedding itself when tied)
    let layers: [Layer]
    let inverseFrequencies: [Float]  // [Dh/2]
    /// Keeps the memory-mapped files alive as long as the model.
    let source: TensorSource
    /// Holds matmul weights repacked into a faster layout at load time (RowInterleave).
    let arena: WeightArena

    /// Builds the model from tensors in `source` (named per `scheme`), validating all names, shapes and dtypes.
    public init(configuration c: PanguEmbeddedConfiguration, source: TensorSource,
                scheme: NamingScheme = .huggingFace) throws {
        configuration = c
        self.source = source
        let d = c.hiddenSize, dh = c.resolvedHeadDim, f = c.intermediateSize
        let qDim = c.numAttentionHeads * dh, kvDim = c.kvHeads * dh
        let matrixTypes: Set<DType> = Set(DType.allCases.filter { $0 != .q8_1 && $0 != .q8_K })
        let vectorTypes: Set<DType> = [.f32, .f16, .bf16]
        let resolved = try WeightResolver.resolve(
            PanguEmbedded.weightMap, in: source, scheme: scheme, layers: c.numHiddenLayers,
            expectedShape: { role in
                switch role {
                case .tokenEmbedding, .output: return [c.vocabSize, d]
                case .outputNorm, .attnNorm, .ffnNorm, .oBias: return [d]
                case .q: return [qDim, d]
                case .qBias: return [qDim]
                case .k, .v: return [kvDim, d]
                case .kBias, .vBias: return [kvDim]
                case .o: return [d, qDim]
                case .gate, .up: return [f, d]
                case .down: return [d, f]
                }
            },
            allowedTypes: { role in
                switch role {
                case .outputNorm, .attnNorm, .ffnNorm, .qBias, .kBias, .vBias, .oBias: return vectorTypes
                default: return matrixTypes
                }
            })
        func matrix(_ t: TensorInfo) -> WeightMatrix {
            WeightMatrix(rows: t.shape[0], cols: t.shape[1], dtype: t.dtype, data: t.data)
        }
        // Matmul-only weights may be repacked; the source pages are then released (every TensorSource is a
        // read-only file mapping, so they would be re-read from the file if touched again).
        let arena = WeightArena()
        self.arena = arena
        func matmul(_ t: TensorInfo) -> WeightMatrix { arena.prepare(matrix(t), releaseSource: true) }
        func vector(_ t: TensorInfo) -> WeightVector {
            arena.copy(WeightVector(count: t.shape[0], dtype: t.dtype, data: t.data))
        }
        // Norm weights are read once here into arrays, so they need no arena copy.
        func floats(_ t: TensorInfo) -> [Float] { WeightVector(count: t.shape[0], dtype: t.dtype, data: t.data).toFloats() }
        if !c.hasAttentionBias {
            throw ModelError.unsupportedConfig(file: "config.json", field: "bias",
                                               detail: "Pangu Embedded checkpoints carry q/k/v/o biases")
        }
        let g = resolved.global
        embedding = matrix(g[.tokenEmbedding]!)
        outputNorm = floats(g[.outputNorm]!)
        if let out = g[.output] {
            output = out.name == g[.tokenEmbedding]!.name ? embedding : matmul(out)
        } else if c.tied {
            output = embedding
        } else {
            let outputName = PanguEmbedded.weightMap.global.first { $0.role == .output }!.name(scheme)
            throw ModelError.tensorMismatch(missing: [outputName], unexpected: [], wrongShape: [], wrongType: [])
        }
        layers = resolved.layers.map { t in
            Layer(attnNorm: floats(t[.attnNorm]!),
                  wq: matmul(t[.q]!), bq: vector(t[.qBias]!),
                  wk: matmul(t[.k]!), bk: vector(t[.kBias]!),
                  wv: matmul(t[.v]!), bv: vector(t[.vBias]!),
                  wo: matmul(t[.o]!), bo: vector(t[.oBias]!),
                  ffnNorm: floats(t[.ffnNorm]!),
                  wGate: matmul(t[.gate]!), wUp: matmul(t[.up]!), wDown: matmul(t[.down]!))
        }
        inverseFrequencies = Kernels.ropeInverseFrequencies(headDim: dh, theta: c.ropeTheta)
        var params = 0, bytes = 0
        var dtypes: [String: Int] = [:]
        var seen = Set<String>()
        let all = Array(resolved.global.values) + resolved.layers.flatMap { Array($0.values) }
        for t in all where seen.insert(t.name).inserted {
            params += t.elementCount
            if t.name != resolved.global[.tokenEmbedding]?.name || g[.output] == nil { bytes += t.byteCount }
            dtypes[t.dtype.rawValue, default: 0] += 1
        }
        var modelInfo = ModelInfo(architecture: c.architectures?.first ?? "PanguEmbeddedForCausalLM",
                         vocabularySize: c.vocabSize, hiddenSize: d, layers: c.numHiddenLayers,
                         heads: c.numAttentionHeads, kvHeads: c.kvHeads, headDim: dh, intermediateSize: f,
                         contextLength: c.maxPositionEmbeddings, parameterCount: params, weightBytes: bytes,
                         dtypes: dtypes, eosTokenIds: c.eosTokenId?.ids ?? [], bosTokenId: c.bosTokenId)
        modelInfo.repackedBytes = arena.repackedBytes
        info = modelInfo
    }

    public func makeCache() -> KVCache {
        KVCache(layers: info.layers, kvHeads: info.kvHeads, headDim: info.headDim, maxPositions: info.contextLength)
    }

    public func forward(_ batch: [SequenceStep]) throws -> [[Float]] {
        // Validate everything before touching any cache, so a bad request leaves the others untouched.
        for step in batch {
            guard !step.tokens.isEmpty else { throw ModelError.invalidArgument("a sequence step has no tokens") }
            for (i, id) in step.tokens.enumerated() where id < 0 || id >= info.vocabularySize {
                throw ModelError.tokenOutOfRange(id: id, position: step.cache.count + i, vocabularySize: info.vocabularySize)
            }
            let needed = step.cache.count + step.tokens.count
            if needed > step.cache.maxPositions {
                throw ModelError.contextOverflow(needed: needed, limit: step.cache.maxPositions)
            }
        }
        for step in batch { try step.cache.reserve(step.cache.count + step.tokens.count) }
        return DenseDecoder.forward(model: self, batch: batch)
    }
}
