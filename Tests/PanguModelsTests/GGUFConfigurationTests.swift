// Configurations read from GGUF metadata: a missing or mistyped key is an error naming the key, never a silent
// default (only a key that is absent falls back, and only where llama.cpp documents a default).
import Foundation
import PanguModels
import PanguWeights
import XCTest

final class GGUFConfigurationTests: XCTestCase {
    /// A tensor-less GGUF file with `metadata`.
    func source(_ metadata: [(String, GGUFValue)]) throws -> GGUFTensorSource {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("pangu-gguf-config-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).gguf").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        let w = try GGUFWriter(path: path, alignment: 32)
        w.set(metadata)
        try w.writeHeader()
        try w.finish()
        return try GGUFTensorSource(path: path)
    }

    let dense: [(String, GGUFValue)] = [
        ("general.architecture", .string("pangu-embedded")), ("pangu-embedded.embedding_length", .uint32(64)),
        ("pangu-embedded.feed_forward_length", .uint32(128)), ("pangu-embedded.block_count", .uint32(2)),
        ("pangu-embedded.attention.head_count", .uint32(4)), ("pangu-embedded.attention.head_count_kv", .uint32(2)),
        ("pangu-embedded.context_length", .uint32(256)), ("pangu-embedded.vocab_size", .uint32(100)),
        ("pangu-embedded.attention.layer_norm_rms_epsilon", .float32(1e-5)),
    ]

    func field(of error: Error) -> String? {
        if case let ModelError.unsupportedConfig(_, field, _) = error { return field }
        return nil
    }

    func testDenseReadsItsKeysAndDefaultsOnlyAnAbsentRopeBase() throws {
        let c = try PanguEmbeddedConfiguration(gguf: try source(dense))
        XCTAssertEqual([c.hiddenSize, c.intermediateSize, c.numHiddenLayers, c.numAttentionHeads, c.kvHeads, c.vocabSize],
                       [64, 128, 2, 4, 2, 100])
        XCTAssertEqual(c.ropeTheta, 10_000)  // llama.cpp's default when rope.freq_base is absent
        let mistyped = dense + [("pangu-embedded.rope.freq_base", .string("1e6"))]
        XCTAssertThrowsError(try PanguEmbeddedConfiguration(gguf: try source(mistyped))) {
            XCTAssertEqual(self.field(of: $0), "pangu-embedded.rope.freq_base", "\($0)")
        }
        let missing = dense.filter { $0.0 != "pangu-embedded.block_count" }
        XCTAssertThrowsError(try PanguEmbeddedConfiguration(gguf: try source(missing))) {
            XCTAssertEqual(self.field(of: $0), "pangu-embedded.block_count", "\($0)")
        }
    }

    func testArchitectureIsCheckedFirst() throws {
        var other = dense
        other[0] = ("general.architecture", .string("llama"))
        XCTAssertThrowsError(try PanguEmbeddedConfiguration(gguf: try source(other))) {
            guard case let ModelError.unsupportedArchitecture(name, _) = $0 else { return XCTFail("\($0)") }
            XCTAssertEqual(name, "llama")
        }
        XCTAssertThrowsError(try PanguProMoEConfiguration(gguf: try source(dense))) {
            guard case ModelError.unsupportedArchitecture("pangu-embedded", _) = $0 else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try PanguProMoEConfiguration(gguf: try source([("general.architecture", .string("pangu-pro-moe"))]))) {
            XCTAssertEqual(self.field(of: $0), "pangu-pro-moe.embedding_length", "\($0)")
        }
    }
}
