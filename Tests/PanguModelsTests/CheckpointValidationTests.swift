// A checkpoint that does not match its config: every missing, unexpected and mis-shaped tensor in one error.
import Foundation
import PanguModels
import PanguTestSupport
import PanguWeights
import XCTest

final class CheckpointValidationTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// Copies tiny-f32-tied's tensors into a new file, dropping, renaming or reshaping some.
    func rewrite(drop: Set<String> = [], rename: [String: String] = [:], extra: [String] = [],
                 config: ((inout [String: Any]) -> Void)? = nil) throws -> URL {
        let src = fixture("tiny-f32-tied")
        let file = try SafetensorsFile(path: src.appendingPathComponent("model.safetensors").path)
        var entries: [(SafetensorsWriter.Entry, TensorInfo?)] = []
        for name in file.tensorNames where !drop.contains(name) {
            let t = file.tensor(name)!
            entries.append((.init(name: rename[name] ?? name, dtype: t.dtype, shape: t.shape), t))
        }
        for name in extra { entries.append((.init(name: name, dtype: .f32, shape: [2]), nil)) }
        let out = dir.appendingPathComponent("model.safetensors").path
        let w = try SafetensorsWriter(path: out, entries: entries.map(\.0))
        for (e, t) in entries {
            if let t { try w.append(UnsafeRawBufferPointer(start: t.data, count: t.byteCount)) }
            else { try [Float](repeating: 0, count: e.shape.reduce(1, *)).withUnsafeBytes { try w.append($0) } }
        }
        try w.close()
        var cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: src.appendingPathComponent("config.json"))) as! [String: Any]
        config?(&cfg)
        try JSONSerialization.data(withJSONObject: cfg).write(to: dir.appendingPathComponent("config.json"))
        return dir
    }

    func testAllProblemsReportedAtOnce() throws {
        let d = try rewrite(drop: ["model.layers.1.mlp.up_proj.weight", "model.norm.weight"],
                            extra: ["model.layers.0.mlp.surprise.weight"]) { cfg in cfg["intermediate_size"] = 200 }
        XCTAssertThrowsError(try ModelRegistry.load(directory: d)) { error in
            guard case let ModelError.tensorMismatch(missing, unexpected, wrongShape, _) = error else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(Set(missing), ["model.layers.1.mlp.up_proj.weight", "model.norm.weight"])
            XCTAssertEqual(unexpected, ["model.layers.0.mlp.surprise.weight"])
            // intermediate_size 200 makes every gate/up/down of both layers mis-shaped (5 present of 6).
            XCTAssertEqual(wrongShape.count, 5, "\(wrongShape)")
            XCTAssertTrue(wrongShape.allSatisfy { $0.contains("expected") })
        }
    }

    func testInvFreqBuffersAreIgnoredButOtherStrayTensorsAreNot() throws {
        // (The fixture already holds every layer's buffer; a second copy under the same name would be a malformed
        // header with a duplicate key, which the reader rejects, so the extra one has a name of its own.)
        let d = try rewrite(extra: ["model.rotary_emb.inv_freq"])
        XCTAssertNoThrow(try ModelRegistry.load(directory: d))
    }

    func testUntiedConfigWithoutLMHeadIsAnError() throws {
        let d = try rewrite { $0["tie_word_embeddings"] = false }
        XCTAssertThrowsError(try ModelRegistry.load(directory: d)) { e in
            XCTAssertTrue("\(e)".contains("lm_head.weight"), "\(e)")
        }
    }

    func testUnsupportedConfigValuesNameTheField() throws {
        let cases: [(String, (inout [String: Any]) -> Void)] = [
            ("hidden_act", { $0["hidden_act"] = "gelu" }),
            ("rope_scaling", { $0["rope_scaling"] = ["rope_type": "yarn", "factor": 4.0] }),
            ("num_key_value_heads", { $0["num_key_value_heads"] = 4 }),
            ("hidden_size", { $0.removeValue(forKey: "hidden_size") }),
            ("vocab_size", { $0["vocab_size"] = "many" }),
        ]
        for (field, edit) in cases {
            let d = try rewrite(config: edit)
            XCTAssertThrowsError(try ModelRegistry.load(directory: d), field) { e in
                XCTAssertTrue("\(e)".contains(field), "\(field): \(e)")
            }
        }
        let d = try rewrite { $0["architectures"] = ["MysteryForCausalLM"] }
        XCTAssertThrowsError(try ModelRegistry.load(directory: d)) { e in
            XCTAssertTrue("\(e)".contains("MysteryForCausalLM"))
        }
    }

    func testBadTokensAndContextOverflowAreErrorsNotCrashes() throws {
        let model = try ModelRegistry.load(directory: fixture("tiny-f32-tied"))
        let cache = model.makeCache()
        XCTAssertThrowsError(try model.forward([SequenceStep(tokens: [1, 99999], cache: cache)])) { e in
            XCTAssertEqual(e as? ModelError, .tokenOutOfRange(id: 99999, position: 1, vocabularySize: 256))
        }
        XCTAssertEqual(cache.count, 0, "a rejected step must leave the cache untouched")
        let small = KVCache(layers: model.info.layers, kvHeads: model.info.kvHeads, headDim: model.info.headDim,
                            maxPositions: 4)
        XCTAssertThrowsError(try model.forward([SequenceStep(tokens: [1, 2, 3, 4, 5], cache: small)])) { e in
            XCTAssertEqual(e as? ModelError, .contextOverflow(needed: 5, limit: 4))
        }
    }

    /// Found by the model-config fuzzer: 0 heads without head_dim used to divide by zero before being reported.
    func testZeroHeadsIsAnErrorNotACrash() throws {
        let json = #"{"architectures":["PanguEmbeddedForCausalLM"],"hidden_size":64,"intermediate_size":128,"num_hidden_layers":1,"num_attention_heads":0,"vocab_size":10,"max_position_embeddings":16,"rope_theta":10000,"rms_norm_eps":1e-5,"hidden_act":"silu"}"#
        let c = try JSONDecoder().decode(PanguEmbeddedConfiguration.self, from: Data(json.utf8))
        XCTAssertThrowsError(try c.validate()) { e in
            XCTAssertEqual(e as? ModelError, .unsupportedConfig(file: "config.json", field: "num_attention_heads",
                                                                detail: "must be positive, got 0"))
        }
    }
}
