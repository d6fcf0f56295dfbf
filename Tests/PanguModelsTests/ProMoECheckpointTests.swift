// Malformed Pangu Pro MoE checkpoints and configs: every problem is a thrown error naming the tensor or field.
import Foundation
import PanguModels
import PanguTestSupport
import PanguWeights
import XCTest

final class ProMoECheckpointTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// Copies moe-bf16 (8 experts in 2 groups, one file), dropping, renaming or reshaping tensors (reshaped ones
    /// are written as zeros) and editing config.json.
    func rewrite(drop: Set<String> = [], rename: [String: String] = [:], reshape: [String: [Int]] = [:],
                 config: ((inout [String: Any]) -> Void)? = nil) throws -> URL {
        let src = fixture("moe-bf16")
        let file = try SafetensorsFile(path: src.appendingPathComponent("model.safetensors").path)
        var entries: [(SafetensorsWriter.Entry, TensorInfo?)] = []
        for name in file.tensorNames where !drop.contains(name) {
            let t = file.tensor(name)!
            if let shape = reshape[name] {
                entries.append((.init(name: name, dtype: t.dtype, shape: shape), nil))
            } else {
                entries.append((.init(name: rename[name] ?? name, dtype: t.dtype, shape: t.shape), t))
            }
        }
        let w = try SafetensorsWriter(path: dir.appendingPathComponent("model.safetensors").path,
                                      entries: entries.map(\.0))
        for (e, t) in entries {
            if let t { try w.append(UnsafeRawBufferPointer(start: t.data, count: t.byteCount)) }
            else { try [UInt8](repeating: 0, count: e.byteCount).withUnsafeBytes { try w.append($0) } }
        }
        try w.close()
        var cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: src.appendingPathComponent("config.json")))
            as! [String: Any]
        config?(&cfg)
        try JSONSerialization.data(withJSONObject: cfg).write(to: dir.appendingPathComponent("config.json"))
        return dir
    }

    func mismatch(_ d: URL, file: StaticString = #filePath, line: UInt = #line)
        -> (missing: [String], unexpected: [String], wrongShape: [String])? {
        do {
            _ = try ModelRegistry.load(directory: d)
            XCTFail("loaded a malformed checkpoint", file: file, line: line)
        } catch let ModelError.tensorMismatch(missing, unexpected, wrongShape, _) {
            return (missing, unexpected, wrongShape)
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
        return nil
    }

    func testUnmodifiedCopyLoads() throws {
        XCTAssertNoThrow(try ModelRegistry.load(directory: try rewrite()))
    }

    func testMissingExpertTensorIsNamed() throws {
        let name = "model.layers.1.mlp.experts.5.up_proj.weight"
        let r = mismatch(try rewrite(drop: [name]))
        XCTAssertEqual(r?.missing, [name])
        XCTAssertEqual(r?.unexpected, [])
    }

    func testWrongRouterShapesAreNamed() throws {
        let r = mismatch(try rewrite(reshape: ["model.layers.0.mlp.gate.weight": [7, 48],
                                               "model.layers.1.mlp.router_scale": [8]]))
        XCTAssertEqual(r?.wrongShape.count, 2, "\(r?.wrongShape ?? [])")
        XCTAssertTrue(r?.wrongShape.contains { $0.contains("model.layers.0.mlp.gate.weight") && $0.contains("[8, 48]") } ?? false)
        XCTAssertTrue(r?.wrongShape.contains { $0.contains("model.layers.1.mlp.router_scale") && $0.contains("[1, 8]") } ?? false)
    }

    func testRouterScaleWithWeightSuffixIsNotSilentlyAccepted() throws {
        // A converter that appends ".weight" to the bare router_scale parameter produces an unknown name.
        let r = mismatch(try rewrite(rename: ["model.layers.0.mlp.router_scale": "model.layers.0.mlp.router_scale.weight"]))
        XCTAssertEqual(r?.missing, ["model.layers.0.mlp.router_scale"])
        XCTAssertEqual(r?.unexpected, ["model.layers.0.mlp.router_scale.weight"])
    }

    func testMoreExpertsInConfigThanInCheckpointNamesEveryMissingExpert() throws {
        let r = mismatch(try rewrite { $0["num_experts"] = 10 })
        // Experts 8 and 9 of both layers are missing (3 matrices each); the routers and scales have 8 rows.
        XCTAssertEqual(r?.missing.count, 12)
        XCTAssertTrue(r?.missing.contains("model.layers.1.mlp.experts.9.down_proj.weight") ?? false)
        XCTAssertEqual(r?.wrongShape.count, 4)
    }

    func testConfigsTheMathDoesNotFitNameTheField() throws {
        let cases: [(String, (inout [String: Any]) -> Void)] = [
            ("num_experts", { $0["num_experts_per_tok"] = 3 }),   // 8 experts do not form 3 equal groups
            ("num_experts_per_tok", { $0["num_experts_per_tok"] = 0 }),
            ("head_dim", { $0["head_dim"] = 16 }),                // hidden 48 / 4 heads = 12
            ("num_key_value_heads", { $0["num_key_value_heads"] = 3 }),
            ("hidden_act", { $0["hidden_act"] = "gelu" }),
            ("tie_word_embeddings", { $0["tie_word_embeddings"] = true }),
            ("rope_scaling", { $0["rope_scaling"] = ["rope_type": "yarn", "factor": 4.0] }),
            ("moe_intermediate_size", { $0["moe_intermediate_size"] = "wide" }),
        ]
        for (field, edit) in cases {
            XCTAssertThrowsError(try ModelRegistry.load(directory: try rewrite(config: edit)), field) { e in
                XCTAssertTrue("\(e)".contains(field), "\(field): \(e)")
            }
        }
    }

    func testAbsentKeysTakeTheReleasedModelsValues() throws {
        let url = dir.appendingPathComponent("config.json")
        try Data(#"{"architectures": ["PanguProMoEForCausalLM"]}"#.utf8).write(to: url)
        let c = try PanguProMoEConfiguration.load(url)
        XCTAssertEqual([c.vocabSize, c.hiddenSize, c.numHiddenLayers, c.numAttentionHeads, c.numKeyValueHeads,
                        c.moeIntermediateSize, c.sharedExpertIntermediateSize, c.numExperts, c.numExpertsPerTok,
                        c.maxPositionEmbeddings],
                       [153_376, 5120, 48, 40, 8, 1344, 5376, 64, 8, 131_072])
        XCTAssertEqual(c.ropeTheta, 16_000_000)
        XCTAssertEqual(c.rmsNormEps, 1e-5)
        XCTAssertEqual(c.resolvedHeadDim, 128)
        XCTAssertEqual([c.expertGroups, c.expertsPerGroup], [8, 8])
        XCTAssertEqual(try ModelRegistry.architecture(configURL: url).configArchitectures, ["PanguProMoEForCausalLM"])
        // Found by model_type alone too.
        try Data(#"{"model_type": "PanguProMoE"}"#.utf8).write(to: url)
        XCTAssertEqual(try ModelRegistry.architecture(configURL: url).modelTypes, ["PanguProMoE"])
    }
}
