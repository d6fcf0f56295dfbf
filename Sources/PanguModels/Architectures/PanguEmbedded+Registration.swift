// openPangu-Embedded's registry entry: the names it answers to and its loaders. The same graph is also accepted
// re-aliased as `LlamaForCausalLM` with attention_bias=true, mlp_bias=false (Docs/Architectures.md).
import Foundation
import PanguWeights

extension ModelArchitecture {
    /// openPangu-Embedded 7B / 1B.
    public static let panguEmbedded = ModelArchitecture(
        configArchitectures: ["PanguEmbeddedForCausalLM", "LlamaForCausalLM"],
        modelTypes: ["PanguEmbedded", "pangu_embedded"],
        ggufArchitectures: PanguEmbeddedConfiguration.ggufArchitectures,
        weightMap: PanguEmbedded.weightMap,
        load: { url, source, _ in try PanguEmbedded(configuration: .load(url), source: source) },
        loadGGUF: { source, _ in
            try PanguEmbedded(configuration: PanguEmbeddedConfiguration(gguf: source), source: source, scheme: .gguf)
        },
        validate: { url, source in _ = try PanguEmbedded.resolve(.load(url), source: source, scheme: .huggingFace) },
        ggufExport: { url, name, fileType in
            let c = try PanguEmbeddedConfiguration.load(url)
            let hyper = PanguGGUFHyperParameters(
                contextLength: c.maxPositionEmbeddings, embeddingLength: c.hiddenSize, blockCount: c.numHiddenLayers,
                feedForwardLength: c.intermediateSize, headCount: c.numAttentionHeads, headCountKV: c.kvHeads,
                headDim: c.resolvedHeadDim, ropeFreqBase: Float(c.ropeTheta), rmsNormEps: Float(c.rmsNormEps),
                vocabSize: c.vocabSize)
            return GGUFExport(metadata: PanguGGUF.architectureMetadata(hyper, name: name, fileType: fileType),
                              layers: c.numHiddenLayers, experts: 0, vocabularySize: c.vocabSize, tiedOutput: c.tied)
        })
}
