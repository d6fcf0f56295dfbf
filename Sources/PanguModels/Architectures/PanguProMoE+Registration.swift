// Pangu Pro MoE's registry entry: the names it answers to and its loaders.
import Foundation
import PanguWeights

extension ModelArchitecture {
    /// Pangu Pro MoE (72B total, 16B active; Mixture of Grouped Experts).
    public static let panguProMoE = ModelArchitecture(
        configArchitectures: ["PanguProMoEForCausalLM"],
        modelTypes: ["PanguProMoE"],
        ggufArchitectures: PanguProMoEConfiguration.ggufArchitectures,
        weightMap: PanguProMoE.weightMap,
        load: { url, source, options in
            try PanguProMoE(configuration: .load(url), source: source, owns: options.owns)
        },
        loadGGUF: { source, options in
            try PanguProMoE(configuration: PanguProMoEConfiguration(gguf: source), source: source, scheme: .gguf,
                            owns: options.owns)
        },
        validate: { url, source in _ = try PanguProMoE.resolve(.load(url), source: source, scheme: .huggingFace) },
        ggufExport: { url, name, fileType in
            let c = try PanguProMoEConfiguration.load(url)
            return GGUFExport(metadata: c.ggufMetadata(name: name, fileType: fileType), layers: c.numHiddenLayers,
                              experts: c.numExperts, vocabularySize: c.vocabSize, tiedOutput: false)
        })
}
