// generation_config.json and GGUF sampling defaults: a missing file gives documented defaults, anything present
// but wrong is an error naming the file and field (never a silent switch to greedy or to another model's values).
import Foundation
import PanguRuntime
import PanguTensor
import PanguWeights
import XCTest

final class GenerationConfigTests: XCTestCase {
    func decode(_ json: String) throws -> GenerationConfig {
        try GenerationConfig.decode(Data(json.utf8), path: "/m/generation_config.json", fallbackEOS: [9])
    }

    func assertRejects(_ json: String, naming field: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try decode(json), json, file: file, line: line) { e in
            guard case let .badGenerationConfig(path, detail)? = e as? RuntimeError else {
                return XCTFail("not badGenerationConfig: \(e)", file: file, line: line)
            }
            XCTAssertEqual(path, "/m/generation_config.json", file: file, line: line)
            XCTAssertTrue(detail.contains(field), "\(detail) should name \(field)", file: file, line: line)
        }
    }

    func testOfficialValuesAreRead() throws {
        let g = try decode(#"{"do_sample": true, "eos_token_id": 45892, "temperature": 1.0, "top_k": 0, "top_p": 0.8, "max_new_tokens": 32}"#)
        XCTAssertEqual(g.sampling, SamplingParameters(temperature: 1, topK: 0, topP: 0.8, doSample: true))
        XCTAssertEqual(g.eosTokenIds, [45892])
        XCTAssertEqual(g.maxNewTokens, 32)
        // do_sample absent = Hugging Face's default (greedy); eos absent = config.json's ids.
        let d = try decode(#"{"temperature": 0.7}"#)
        XCTAssertFalse(d.sampling.doSample)
        XCTAssertEqual(d.eosTokenIds, [9])
    }

    func testNonBooleanDoSampleIsAnError() {
        // JSONSerialization reads 1 as true; the file must say true or false.
        assertRejects(#"{"do_sample": 1}"#, naming: "do_sample")
        assertRejects(#"{"do_sample": "true"}"#, naming: "do_sample")
    }

    func testWronglyTypedOrOutOfRangeFieldsAreErrors() {
        assertRejects(#"{"top_k": 1e300}"#, naming: "top_k")  // fuzzer-style input: Int(1e300) would trap
        assertRejects(#"{"top_k": 2.5}"#, naming: "top_k")
        assertRejects(#"{"top_k": -1}"#, naming: "top_k")
        assertRejects(#"{"max_new_tokens": 1e20}"#, naming: "max_new_tokens")
        assertRejects(#"{"temperature": -0.5}"#, naming: "temperature")
        assertRejects(#"{"top_p": 1.5}"#, naming: "top_p")
        assertRejects(#"{"repetition_penalty": 0}"#, naming: "repetition_penalty")
        assertRejects(#"{"eos_token_id": "2"}"#, naming: "eos_token_id")
        assertRejects(#"{"eos_token_id": [2, "x"]}"#, naming: "eos_token_id")
        assertRejects(#"{"eos_token_id": -3}"#, naming: "eos_token_id")
        assertRejects(#"[1, 2]"#, naming: "JSON object")
        assertRejects(#"{"do_sample": true"#, naming: "JSON object")
    }

    func testMissingFileGivesDefaultsButUnreadableFileIsAnError() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gc-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = try GenerationConfig.load(dir.appendingPathComponent("generation_config.json"), fallbackEOS: [7])
        XCTAssertEqual(missing, GenerationConfig.defaults(eosTokenIds: [7]))
        XCTAssertFalse(missing.sampling.doSample)
        // A directory where the file should be cannot be read: an error, not greedy decoding.
        let asDirectory = dir.appendingPathComponent("sub/generation_config.json")
        try FileManager.default.createDirectory(at: asDirectory, withIntermediateDirectories: true)
        XCTAssertThrowsError(try GenerationConfig.load(asDirectory, fallbackEOS: [7])) { e in
            XCTAssertTrue("\(e)".contains("cannot read"), "\(e)")
        }
    }

    func testGGUFSamplingComesFromItsOwnMetadataOrNeutralDefaults() throws {
        let meta: [String: GGUFValue] = ["general.sampling.temp": .float32(0.6), "general.sampling.top_k": .int32(20),
                                         "general.sampling.top_p": .float32(0.9), "general.sampling.min_p": .float32(0.05),
                                         "general.sampling.penalty_repeat": .float32(1.1)]
        let g = try GenerationConfig.gguf(metadata: { meta[$0] }, path: "m.gguf", eosTokenIds: [2])
        XCTAssertEqual(g.sampling.temperature, 0.6)
        XCTAssertEqual(g.sampling.topK, 20)
        XCTAssertEqual(g.sampling.topP, 0.9)
        XCTAssertEqual(g.sampling.minP, 0.05)
        XCTAssertEqual(g.sampling.repetitionPenalty, 1.1)
        XCTAssertEqual(g.eosTokenIds, [2])
        // No keys: the neutral distribution (not openPangu-7B's top_p 0.8).
        let neutral = try GenerationConfig.gguf(metadata: { _ in nil }, path: "m.gguf", eosTokenIds: [2])
        XCTAssertEqual(neutral.sampling, SamplingParameters())
        XCTAssertEqual(neutral.sampling.topP, 1)
        XCTAssertThrowsError(try GenerationConfig.gguf(metadata: { $0 == "general.sampling.top_p" ? .string("high") : nil },
                                                       path: "m.gguf", eosTokenIds: [])) { e in
            XCTAssertTrue("\(e)".contains("m.gguf") && "\(e)".contains("general.sampling.top_p"), "\(e)")
        }
        XCTAssertThrowsError(try GenerationConfig.gguf(metadata: { $0 == "general.sampling.temp" ? .bool(true) : nil },
                                                       path: "m.gguf", eosTokenIds: []))
        // Fuzzer find (generation-config): a huge negative top_k trapped converting to Int.
        XCTAssertThrowsError(try GenerationConfig.gguf(metadata: { $0 == "general.sampling.top_k" ? .float64(-1e300) : nil },
                                                       path: "m.gguf", eosTokenIds: [])) { e in
            XCTAssertTrue("\(e)".contains("general.sampling.top_k"), "\(e)")
        }
        let off = try GenerationConfig.gguf(metadata: { $0 == "general.sampling.top_k" ? .int32(-1) : nil }, path: "m.gguf", eosTokenIds: [])
        XCTAssertEqual(off.sampling.topK, 0)  // llama.cpp: top_k <= 0 is off
    }

    func testSharedThreadPoolSizeCannotChangeOnceCreated() {
        XCTAssertFalse(ThreadPool.configureShared(threads: 0))
        _ = ThreadPool.shared.threadCount
        XCTAssertFalse(ThreadPool.configureShared(threads: 3), "the shared pool exists; its size must not silently differ")
    }
}
