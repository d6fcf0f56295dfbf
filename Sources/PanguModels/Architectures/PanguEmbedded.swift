// openPangu-Embedded (7B, 1B): a pre-norm Llama-style decoder with biases on q, k, v AND o, SwiGLU MLP without
// bias, RMSNorm, full-head-dim NeoX RoPE and grouped-query attention (Docs/Architectures.md). Follows Huawei's
// modeling_openpangu_dense.py; llama.cpp's src/models/pangu-embedded.cpp computes the same graph.
//
// The layer loop is here; the attention block and the SwiGLU feed-forward are shared with other architectures
// (Blocks/). Letters: T tokens in the step (all sequences together), D hidden, V vocabulary.
import Foundation
import PanguTensor
import PanguWeights

/// A loaded openPangu-Embedded model.
public final class PanguEmbedded: LanguageModel, @unchecked Sendable {
    /// Hugging Face and GGUF names of every tensor (GGUF names as llama.cpp's `pangu-embedded` writes them).
    public static let weightMap = WeightMap(
        global: DecoderWeights.global(outputRequired: false),  // tied to the embedding in the 1B
        perLayer: DecoderWeights.attention + [
            WeightName(.gate, hf: "model.layers.{L}.mlp.gate_proj.weight", gguf: "blk.{L}.ffn_gate.weight"),
            WeightName(.up, hf: "model.layers.{L}.mlp.up_proj.weight", gguf: "blk.{L}.ffn_up.weight"),
            WeightName(.down, hf: "model.layers.{L}.mlp.down_proj.weight", gguf: "blk.{L}.ffn_down.weight"),
        ],
        // Precomputed RoPE tables stored by the reference code; we compute RoPE from rope_theta.
        ignored: ["rotary_emb.inv_freq"])

    /// One decoder layer: pre-norm attention and pre-norm SwiGLU, each added to the residual stream.
    struct Layer {
        let attnNorm: [Float]  // [D]
        let attention: AttentionBlock
        let ffnNorm: [Float]   // [D]
        let mlp: SwiGLU
    }

    public let configuration: PanguEmbeddedConfiguration
    public let info: ModelInfo
    let embedding: WeightMatrix  // [V, D]
    let outputNorm: [Float]      // [D]
    let output: WeightMatrix     // [V, D] (the embedding itself when tied)
    let layers: [Layer]
    /// Keeps the memory-mapped files alive as long as the model.
    let source: TensorSource
    /// Keeps repacked weights alive as long as the model.
    let loader: WeightLoader

    /// Expected shape of each role (PyTorch order) for configuration `c`.
    static func shapes(_ c: PanguEmbeddedConfiguration) -> (TensorRole) -> [Int]? {
        let d = c.hiddenSize, f = c.intermediateSize
        return { role in
            if let shared = DecoderWeights.shape(role, hidden: d, vocabulary: c.vocabSize, heads: c.numAttentionHeads,
                                                 kvHeads: c.kvHeads, headDim: c.resolvedHeadDim) { return shared }
            switch role {
            case .gate, .up: return [f, d]
            case .down: return [d, f]
            default: return nil
            }
        }
    }

    /// Validates every tensor name, shape and dtype of `source` against configuration `c` without building
    /// (or repacking) anything.
    public static func resolve(_ c: PanguEmbeddedConfiguration, source: TensorSource,
                               scheme: NamingScheme) throws -> ResolvedWeights {
        if !c.hasAttentionBias {
            throw ModelError.unsupportedConfig(file: "config.json", field: "bias",
                                               detail: "Pangu Embedded checkpoints carry q/k/v/o biases")
        }
        let resolved = try WeightResolver.resolve(
            weightMap, in: source, scheme: scheme, layers: c.numHiddenLayers, expectedShape: shapes(c),
            allowedTypes: { $0.isNormOrBias ? DType.vectorTypes : DType.matrixTypes })
        if resolved.global[.output] == nil && !c.tied {
            let outputName = weightMap.global.first { $0.role == .output }!.name(scheme)
            throw ModelError.tensorMismatch(missing: [outputName], unexpected: [], wrongShape: [], wrongType: [])
        }
        return resolved
    }

    /// Builds the model from tensors in `source` (named per `scheme`), validating all names, shapes and dtypes.
    public init(configuration c: PanguEmbeddedConfiguration, source: TensorSource,
                scheme: NamingScheme = .huggingFace) throws {
        configuration = c
        self.source = source
        let resolved = try Self.resolve(c, source: source, scheme: scheme)
        let loader = WeightLoader()
        self.loader = loader
        let g = resolved.global
        embedding = loader.matrix(g[.tokenEmbedding]!)
        outputNorm = loader.floats(g[.outputNorm]!)
        if let out = g[.output], out.name != g[.tokenEmbedding]!.name {
            output = loader.matmul(out)
        } else {
            output = embedding
        }
        let frequencies = Kernels.ropeInverseFrequencies(headDim: c.resolvedHeadDim, theta: c.ropeTheta)
        layers = resolved.layers.map { t in
            Layer(attnNorm: loader.floats(t[.attnNorm]!),
                  attention: AttentionBlock(weights: loader.attention(t), heads: c.numAttentionHeads,
                                            kvHeads: c.kvHeads, headDim: c.resolvedHeadDim,
                                            inverseFrequencies: frequencies),
                  ffnNorm: loader.floats(t[.ffnNorm]!),
                  mlp: SwiGLU(gate: loader.matmul(t[.gate]!), up: loader.matmul(t[.up]!), down: loader.matmul(t[.down]!)))
        }
        let tally = ModelInfo.tally(resolved)
        // A decoded token reads one embedding row, so the embedding counts only when it is also the output.
        let embeddingBytes = output.data == embedding.data ? 0 : g[.tokenEmbedding]!.byteCount
        var modelInfo = ModelInfo(architecture: c.architectures?.first ?? "PanguEmbeddedForCausalLM",
                                  vocabularySize: c.vocabSize, hiddenSize: c.hiddenSize, layers: c.numHiddenLayers,
                                  heads: c.numAttentionHeads, kvHeads: c.kvHeads, headDim: c.resolvedHeadDim,
                                  intermediateSize: c.intermediateSize, contextLength: c.maxPositionEmbeddings,
                                  parameterCount: tally.parameters, weightBytes: tally.bytes - embeddingBytes,
                                  dtypes: tally.dtypes, eosTokenIds: c.eosTokenId?.ids ?? [], bosTokenId: c.bosTokenId)
        modelInfo.repackedBytes = loader.arena.repackedBytes
        modelInfo.totalWeightBytes = tally.bytes
        info = modelInfo
    }

    public var kvCacheType: KVElementType = .f32

    public func makeCache() -> KVCache {
        KVCache(layers: info.layers, kvHeads: info.kvHeads, headDim: info.headDim, maxPositions: info.contextLength,
                elementType: kvCacheType)
    }

    public func forward(_ batch: [SequenceStep]) throws -> [[Float]] {
        try DecoderSteps.validate(batch, vocabularySize: info.vocabularySize)
        let d = info.hiddenSize, eps = Float(configuration.rmsNormEps)
        let total = batch.reduce(0) { $0 + $1.tokens.count }
        let ws = Workspace()
        let x = ws.floats("x", total * d), xb = ws.floats("xb", total * d), y = ws.floats("y", total * d)  // [T, D]
        DecoderSteps.embed(batch, embedding, into: x)
        for (l, layer) in layers.enumerated() {
            // x += attention(norm(x))
            DecoderSteps.rmsNorm(x, tokens: total, weight: layer.attnNorm, eps: eps, into: xb)
            layer.attention.forward(xb, batch: batch, layer: l, workspace: ws, into: y)
            Kernels.add(x, y, count: total * d)
            // x += mlp(norm(x))
            DecoderSteps.rmsNorm(x, tokens: total, weight: layer.ffnNorm, eps: eps, into: xb)
            layer.mlp.forward(xb, tokens: total, workspace: ws, into: y)
            Kernels.add(x, y, count: total * d)
        }
        for step in batch { step.cache.advance(by: step.tokens.count) }
        return DecoderSteps.logits(x, batch: batch, norm: outputNorm, eps: eps, output: output)
    }
}
