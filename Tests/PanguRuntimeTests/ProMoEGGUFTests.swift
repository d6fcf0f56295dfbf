// Pangu Pro MoE checkpoint → `pangu quantize` → `pangu-pro-moe` GGUF → model, against the float checkpoint:
// bf16 must compute exactly what the bf16 safetensors do; quantised types are bounded by KL divergence and top-1
// agreement. Routed experts must stay in the file's layout, pointing into the memory map (never repacked).
import Foundation
import PanguEngine
@testable import PanguModels
import PanguRuntime
import PanguTensor
import PanguTestSupport
import PanguWeights
import XCTest

final class ProMoEGGUFTests: XCTestCase {
    static let source: URL = {
        let dir = try! makeTemporaryDirectory("pangu-moe-gguf-src")
        // hidden and expert widths 256 so the K-quants apply without fallback; 8 experts in 4 groups of 2.
        var p = TestModelPreset.tinyMoE
        p.hidden = 256; p.heads = 4; p.kvHeads = 2; p.layers = 2
        p.moe = .init(experts: 8, perToken: 4, expertIntermediate: 256, sharedIntermediate: 256)
        try! TestCheckpointWriter.write(p, dtype: .bf16, seed: 33, to: dir)
        return dir
    }()

    func quantized(_ type: String) throws -> URL {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("pangu-moe-\(type)-\(UUID()).gguf")
        try Quantizer.quantize(directory: Self.source, recipe: QuantizationRecipe.all[type]!, output: out.path)
        return out
    }

    func logits(_ engine: Engine, _ ids: [Int]) throws -> [Float] {
        try engine.model.forward([SequenceStep(tokens: ids, cache: engine.model.makeCache(), allLogits: true)])[0]
    }

    func testGGUFMetadataAndTensorNames() throws {
        let url = try quantized("q8_0")
        defer { try? FileManager.default.removeItem(at: url) }
        let gguf = try GGUFTensorSource(path: url.path)
        XCTAssertEqual(gguf["general.architecture"]?.stringValue, "pangu-pro-moe")
        XCTAssertEqual(gguf["pangu-pro-moe.expert_count"]?.intValue, 8)
        XCTAssertEqual(gguf["pangu-pro-moe.expert_used_count"]?.intValue, 4)
        XCTAssertEqual(gguf["pangu-pro-moe.expert_group_count"]?.intValue, 4)
        XCTAssertEqual(gguf["pangu-pro-moe.expert_feed_forward_length"]?.intValue, 256)
        XCTAssertEqual(gguf["pangu-pro-moe.expert_shared_feed_forward_length"]?.intValue, 256)
        XCTAssertEqual(gguf.tensor("blk.1.ffn_gate_exps.weight")?.shape, [8, 256, 256])
        XCTAssertEqual(gguf.tensor("blk.1.ffn_down_exps.weight")?.dtype, .q8_0)
        XCTAssertEqual(gguf.tensor("blk.0.ffn_gate_inp.weight")?.dtype, .f32)  // router kept f32
        XCTAssertEqual(gguf.tensor("blk.0.exp_probs_scale.weight")?.shape, [1, 8])
        XCTAssertEqual(gguf.tensor("blk.0.ffn_up_shexp.weight")?.shape, [256, 256])
        let c = try PanguProMoEConfiguration(gguf: gguf)
        let original = try PanguProMoEConfiguration.load(Self.source.appendingPathComponent("config.json"))
        XCTAssertEqual([c.hiddenSize, c.numHiddenLayers, c.numAttentionHeads, c.numKeyValueHeads, c.numExperts,
                        c.numExpertsPerTok, c.moeIntermediateSize, c.sharedExpertIntermediateSize, c.vocabSize],
                       [original.hiddenSize, original.numHiddenLayers, original.numAttentionHeads,
                        original.numKeyValueHeads, original.numExperts, original.numExpertsPerTok,
                        original.moeIntermediateSize, original.sharedExpertIntermediateSize, original.vocabSize])
    }

    func testBF16GGUFIsExactAndQuantisedTypesStayClose() throws {
        let reference = try Engine(directory: Self.source, prefault: false)
        XCTAssertTrue(reference.model is PanguProMoE)
        let text = "Grouped experts 混合专家 pick 4 of 8. 987"
        let ids = reference.tokenizer.encode(text, addSpecialTokens: true)
        let ref = try logits(reference, ids)
        let vocab = reference.model.info.vocabularySize
        for (type, maxKL, minTop1) in [("bf16", 0.0, 1.0), ("q8_0", 0.002, 0.9), ("q4_k_m", 0.05, 0.7),
                                       ("q4_0", 0.1, 0.6)] {
            let url = try quantized(type)
            defer { try? FileManager.default.removeItem(at: url) }
            let engine = try Engine(directory: url, prefault: false)
            XCTAssertEqual(engine.tokenizer.encode(text, addSpecialTokens: true), ids)
            let got = try logits(engine, ids)
            var kl = 0.0, agree = 0
            for t in 0..<ids.count {
                let r = Array(ref[(t * vocab)..<((t + 1) * vocab)]), g = Array(got[(t * vocab)..<((t + 1) * vocab)])
                let p = ReferenceKernels.softmax(r), q = ReferenceKernels.softmax(g)
                for i in 0..<vocab where p[i] > 0 { kl += Double(p[i]) * log(Double(p[i]) / max(Double(q[i]), 1e-30)) }
                if Sampler.argmax(r) == Sampler.argmax(g) { agree += 1 }
            }
            let meanKL = kl / Double(ids.count), top1 = Double(agree) / Double(ids.count)
            print("Pro MoE GGUF \(type): mean KL \(meanKL), top-1 agreement \(agree)/\(ids.count)")
            if type == "bf16" {
                XCTAssertEqual(got, ref, "bf16 GGUF must compute exactly what the bf16 safetensors do")
            } else {
                XCTAssertLessThanOrEqual(meanKL, maxKL, type)
                XCTAssertGreaterThanOrEqual(top1, minTop1, type)
            }
        }
    }

    /// Experts are per-expert views into the stacked GGUF tensors: row-major, inside the file mapping, never in the
    /// repack arena; the other quantised matrices are repacked as usual.
    func testQuantisedExpertsStayFileBacked() throws {
        let url = try quantized("q4_0")
        defer { try? FileManager.default.removeItem(at: url) }
        let gguf = try GGUFTensorSource(path: url.path)
        let model = try ModelRegistry.load(gguf: gguf) as! PanguProMoE
        let stacked = gguf.tensor("blk.1.ffn_up_exps.weight")!
        for layer in model.layers {
            for case let e? in layer.moe.experts {
                for m in [e.gate, e.up, e.down] { XCTAssertEqual(m.layout, .rowMajor) }
            }
        }
        let up5 = model.layers[1].moe.experts[5]!.up
        XCTAssertEqual(up5.data, stacked.data + 5 * stacked.byteCount / 8)
        XCTAssertGreaterThan(model.info.repackedBytes, 0)  // attention / shared expert / output matrices
        var expertBytes = 0
        for layer in model.layers {
            for case let e? in layer.moe.experts { expertBytes += e.gate.byteCount + e.up.byteCount + e.down.byteCount }
        }
        XCTAssertLessThanOrEqual(model.info.repackedBytes, model.info.totalWeightBytes - expertBytes)
    }
}
