// Pangu Pro MoE (72B total, ~16B active): the openPangu-Embedded decoder (pre-norm, q/k/v/o biases, NeoX RoPE,
// grouped-query attention, untied lm_head) with a Mixture of Grouped Experts as the feed-forward of every layer
// (Docs/Architectures.md, "Pangu Pro MoE"). Follows Huawei's modeling_pangu_moe.py.
//
// The layer loop is here; attention and the feed-forwards are the shared blocks (Blocks/). Routed experts stay
// file-backed (never repacked), everything else is prepared like the dense model's weights.
// Letters: T tokens in the step (all sequences together), D hidden, V vocabulary, E experts.
import Foundation
import PanguTensor
import PanguWeights

/// A loaded Pangu Pro MoE model.
public final class PanguProMoE: LanguageModel, @unchecked Sendable {
    /// Hugging Face and GGUF names of every tensor. GGUF names follow llama.cpp's mixture-of-experts conventions
    /// (`ffn_gate_inp` router, stacked `ffn_*_exps`, `ffn_*_shexp` shared expert); llama.cpp has no name for the
    /// per-expert router scale, so ours is `exp_probs_scale`, after llama.cpp's `exp_probs_b` routing bias.
    public static let weightMap = WeightMap(
        global: DecoderWeights.global(outputRequired: true),
        perLayer: DecoderWeights.attention + [
            WeightName(.router, hf: "model.layers.{L}.mlp.gate.weight", gguf: "blk.{L}.ffn_gate_inp.weight"),
            // No ".weight" suffix in the checkpoint: it is a bare nn.Parameter of shape [1, E].
            WeightName(.routerScale, hf: "model.layers.{L}.mlp.router_scale", gguf: "blk.{L}.exp_probs_scale.weight"),
            WeightName(.expertGate, hf: "model.layers.{L}.mlp.experts.{E}.gate_proj.weight",
                       gguf: "blk.{L}.ffn_gate_exps.weight"),
            WeightName(.expertUp, hf: "model.layers.{L}.mlp.experts.{E}.up_proj.weight", gguf: "blk.{L}.ffn_up_exps.weight"),
            WeightName(.expertDown, hf: "model.layers.{L}.mlp.experts.{E}.down_proj.weight",
                       gguf: "blk.{L}.ffn_down_exps.weight"),
            WeightName(.sharedGate, hf: "model.layers.{L}.mlp.shared_expert.gate_proj.weight",
                       gguf: "blk.{L}.ffn_gate_shexp.weight"),
            WeightName(.sharedUp, hf: "model.layers.{L}.mlp.shared_expert.up_proj.weight",
                       gguf: "blk.{L}.ffn_up_shexp.weight"),
            WeightName(.sharedDown, hf: "model.layers.{L}.mlp.shared_expert.down_proj.weight",
                       gguf: "blk.{L}.ffn_down_shexp.weight"),
        ],
        ignored: ["rotary_emb.inv_freq"])

    /// One decoder layer: pre-norm attention and pre-norm MoGE, each added to the residual stream.
    struct Layer {
        let attnNorm: [Float]  // [D]
        let attention: AttentionBlock
        let ffnNorm: [Float]   // [D]
        let moe: MixtureOfGroupedExperts
    }

    public let configuration: PanguProMoEConfiguration
    public let info: ModelInfo
    let embedding: WeightMatrix  // [V, D]
    let outputNorm: [Float]      // [D]
    let output: WeightMatrix     // [V, D]
    let layers: [Layer]
    /// Keeps the memory-mapped files alive as long as the model.
    let source: TensorSource
    /// Keeps repacked weights alive as long as the model.
    let loader: WeightLoader
    /// This process's slice when the model is split across processes; nil for a whole model. `info` then describes
    /// the slice (heads, KV heads — so caches hold only its KV heads —, parameters, bytes held and read per token),
    /// except `vocabularySize`, which stays the model's: rank 0's logits cover the whole vocabulary.
    public let shard: ModelShard?

    /// Expected shape of each role (PyTorch order; per expert for expert roles) for configuration `c`.
    static func shapes(_ c: PanguProMoEConfiguration) -> (TensorRole) -> [Int]? {
        let d = c.hiddenSize, e = c.numExperts, fe = c.moeIntermediateSize, fs = c.sharedExpertIntermediateSize
        return { role in
            if let shared = DecoderWeights.shape(role, hidden: d, vocabulary: c.vocabSize, heads: c.numAttentionHeads,
                                                 kvHeads: c.numKeyValueHeads, headDim: c.resolvedHeadDim) { return shared }
            switch role {
            case .router: return [e, d]
            case .routerScale: return [1, e]
            case .expertGate, .expertUp: return [fe, d]
            case .expertDown: return [d, fe]
            case .sharedGate, .sharedUp: return [fs, d]
            case .sharedDown: return [d, fs]
            default: return nil
            }
        }
    }

    /// Validates every tensor name, shape and dtype of `source` against configuration `c` without building
    /// anything. `owns` (expert parallelism) may leave out routed experts; every other tensor is always kept.
    /// `shardOwns` (a split model's filter) applies to every tensor.
    public static func resolve(_ c: PanguProMoEConfiguration, source: TensorSource, scheme: NamingScheme,
                               owns: WeightOwnership? = nil,
                               shardOwns: WeightOwnership? = nil) throws -> ResolvedWeights {
        try c.validate()
        var expertsOnly: WeightOwnership?
        if owns != nil || shardOwns != nil {
            expertsOnly = { role, layer, expert in
                (!role.isExpert || owns?(role, layer, expert) ?? true) && shardOwns?(role, layer, expert) ?? true
            }
        }
        return try WeightResolver.resolve(
            weightMap, in: source, scheme: scheme, layers: c.numHiddenLayers, experts: c.numExperts,
            expectedShape: shapes(c), allowedTypes: { $0.isNormOrBias ? DType.vectorTypes : DType.matrixTypes },
            owns: expertsOnly)
    }

    /// Builds the model from tensors in `source` (named per `scheme`), validating all names, shapes and dtypes.
    public init(configuration c: PanguProMoEConfiguration, source: TensorSource, scheme: NamingScheme = .huggingFace,
                owns: WeightOwnership? = nil, shard planner: ShardPlanner? = nil) throws {
        configuration = c
        self.source = source
        let loader = WeightLoader()
        self.loader = loader
        let shard = try planner.map { try $0(Self.shardRequest(c, source: source, scheme: scheme)) }
        self.shard = shard
        var resolved = try Self.resolve(c, source: source, scheme: scheme, owns: owns, shardOwns: shard?.owns)
        if let shard { resolved = try resolved.sliced(shard, headDim: c.resolvedHeadDim, copies: loader.copies) }
        let g = resolved.global
        embedding = loader.matrix(g[.tokenEmbedding]!)
        outputNorm = loader.floats(g[.outputNorm]!)
        output = loader.matmul(g[.output]!)
        let frequencies = Kernels.ropeInverseFrequencies(headDim: c.resolvedHeadDim, theta: c.ropeTheta)
        var expertBytes = 0, activeExpertBytes = 0
        // A shard computes only its heads, and its KV cache holds only its KV heads.
        let heads = shard?.queryHeads.count ?? c.numAttentionHeads, kvHeads = shard?.kvHeads.count ?? c.numKeyValueHeads
        var built: [Layer] = []
        for (l, t) in resolved.layers.enumerated() {
            let x = resolved.experts[l]
            // Routed experts: file layout, file-backed (loader.matrix, not loader.matmul, which would repack).
            let experts: [ExpertWeights?] = (0..<c.numExperts).map { j in
                guard let gate = x[.expertGate]?[j], let up = x[.expertUp]?[j], let down = x[.expertDown]?[j]
                else { return nil }
                return ExpertWeights(gate: loader.matrix(gate), up: loader.matrix(up), down: loader.matrix(down))
            }
            let held = experts.compactMap { $0 }
            let layerBytes = held.reduce(0) { $0 + $1.gate.byteCount + $1.up.byteCount + $1.down.byteCount }
            expertBytes += layerBytes
            // Each group this process holds contributes one expert per token.
            let groupsHeld = shard.map { $0.experts.count / c.expertsPerGroup } ?? c.expertGroups
            if !held.isEmpty { activeExpertBytes += layerBytes / held.count * groupsHeld }
            let moe = MixtureOfGroupedExperts(
                // The router stays in the file layout: it is tiny, and GGUF files keep it in f32 (as llama.cpp
                // does), whose row-major kernel sums in the same order as the bf16 one, so a checkpoint and its
                // GGUF conversion route every token to the same experts.
                router: loader.matrix(t[.router]!), routerScale: loader.floats(t[.routerScale]!), experts: experts,
                shared: SwiGLU(gate: loader.matmul(t[.sharedGate]!), up: loader.matmul(t[.sharedUp]!),
                               down: loader.matmul(t[.sharedDown]!), scratchName: "shared"),
                groups: c.expertGroups)
            built.append(Layer(attnNorm: loader.floats(t[.attnNorm]!),
                               attention: AttentionBlock(weights: loader.attention(t), heads: heads,
                                                         kvHeads: kvHeads, headDim: c.resolvedHeadDim,
                                                         inverseFrequencies: frequencies),
                               ffnNorm: loader.floats(t[.ffnNorm]!), moe: moe))
        }
        layers = built
        let tally = ModelInfo.tally(resolved)
        // A decoded token reads one embedding row and, per layer, the G selected experts out of E.
        let active = tally.bytes - g[.tokenEmbedding]!.byteCount - expertBytes + activeExpertBytes
        var modelInfo = ModelInfo(architecture: c.architectures?.first ?? "PanguProMoEForCausalLM",
                                  vocabularySize: c.vocabSize, hiddenSize: c.hiddenSize, layers: c.numHiddenLayers,
                                  heads: heads, kvHeads: kvHeads, headDim: c.resolvedHeadDim,
                                  intermediateSize: c.moeIntermediateSize, contextLength: c.maxPositionEmbeddings,
                                  parameterCount: tally.parameters, weightBytes: active,
                                  dtypes: tally.dtypes, eosTokenIds: c.eosTokenId?.ids ?? [], bosTokenId: c.bosTokenId)
        modelInfo.repackedBytes = loader.arena.repackedBytes
        modelInfo.totalWeightBytes = tally.bytes
        modelInfo.experts = c.numExperts
        modelInfo.expertsPerToken = c.expertGroups
        info = modelInfo
    }

    public var kvCacheType: KVElementType = .f32

    public func makeCache() -> KVCache {
        KVCache(layers: info.layers, kvHeads: info.kvHeads, headDim: info.headDim, maxPositions: info.contextLength,
                elementType: kvCacheType)
    }

    /// Checks `batch` and reserves cache room, as `forward` does first: a batch that passes cannot fail later for
    /// its tokens or caches. A split model's rank 0 calls it before telling the other ranks to run the step.
    public func prepare(_ batch: [SequenceStep]) throws {
        try DecoderSteps.validate(batch, vocabularySize: info.vocabularySize)
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
            try shard?.collectives.sum(y, count: total * d)  // partial over this rank's heads
            Kernels.add(x, y, count: total * d)
            // x += moge(norm(x))
            DecoderSteps.rmsNorm(x, tokens: total, weight: layer.ffnNorm, eps: eps, into: xb)
            layer.moe.forward(xb, tokens: total, workspace: ws, into: y)
            try shard?.collectives.sum(y, count: total * d)  // partial over this rank's groups and shared rows
            Kernels.add(x, y, count: total * d)
        }
        for step in batch { step.cache.advance(by: step.tokens.count) }
        let logits = DecoderSteps.logits(x, batch: batch, norm: outputNorm, eps: eps, output: output)
        guard let shard else { return logits }
        // This rank's vocabulary rows → the full [rows, V] on rank 0 (empty arrays elsewhere).
        let rows = batch.reduce(0) { $0 + ($1.allLogits ? $1.tokens.count : 1) }
        guard let full = try shard.collectives.gatherLogits(logits.flatMap { $0 }, rows: rows) else {
            return batch.map { _ in [] }
        }
        var results: [[Float]] = [], offset = 0
        let v = info.vocabularySize
        for step in batch {
            let n = step.allLogits ? step.tokens.count : 1
            results.append(Array(full[(offset * v)..<((offset + n) * v)]))
            offset += n
        }
        return results
    }

    /// The split request for `c`: dimensions, and the largest quantisation blocks along the columns the split
    /// cuts (o_proj, shared down_proj), read from the tensors' types in `source` (unknown tensors count as float:
    /// they are reported by validation anyway).
    static func shardRequest(_ c: PanguProMoEConfiguration, source: TensorSource, scheme: NamingScheme) -> ShardRequest {
        func block(_ role: TensorRole) -> Int {
            guard let entry = weightMap.perLayer.first(where: { $0.role == role }) else { return 1 }
            return (0..<c.numHiddenLayers).reduce(1) { m, l in
                max(m, source.tensor(entry.name(scheme, layer: l))?.dtype.blockSize ?? 1)
            }
        }
        return ShardRequest(experts: c.numExperts, groups: c.expertGroups, heads: c.numAttentionHeads,
                            kvHeads: c.numKeyValueHeads, headDim: c.resolvedHeadDim,
                            sharedIntermediate: c.sharedExpertIntermediateSize, vocabulary: c.vocabSize,
                            outputColumnBlock: block(.o), sharedDownBlock: block(.sharedDown))
    }
}
