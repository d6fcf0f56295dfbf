import Foundation
import XCTest
@testable import PanguTokenizer

/// Corrupt or truncated inputs must throw `TokenizerError`, never crash.
final class ErrorTests: XCTestCase {
    private func modelBytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: Fixtures.url("sp/\(name).model")))
    }

    private func isTokenizerError(_ body: () throws -> Void) -> Bool {
        do { try body(); return false } catch is TokenizerError { return true } catch { return false }
    }

    func testTruncatedModelThrows() throws {
        let bytes = try modelBytes("bpe-bytefallback-nfkc")
        // Cutting inside the last length-delimited field (a spec message) always overruns its length prefix.
        for cut in [bytes.count - 1, bytes.count - 2, bytes.count / 2 + 1, 1, 3] {
            XCTAssertTrue(isTokenizerError { _ = try SentencePieceModel(bytes: Array(bytes[0..<cut])) }, "cut \(cut)")
        }
        XCTAssertTrue(isTokenizerError { _ = try SentencePieceModel(bytes: []) })
        XCTAssertThrowsError(try SentencePieceModel(bytes: Array(bytes[0..<(bytes.count - 1)]))) { e in
            XCTAssertTrue("\(e)".contains("runs past the end") || "\(e)".contains("truncated"), "\(e)")
        }
    }

    func testEveryTruncationIsHandled() throws {
        let bytes = try modelBytes("unigram-identity-nodummy")
        var thrown = 0, loaded = 0
        for cut in stride(from: 0, to: bytes.count, by: 7) {
            do {
                let sp = try SentencePieceProcessor(model: SentencePieceModel(bytes: Array(bytes[0..<cut])))
                _ = sp.decode(sp.encode("hello 世界 [unused9] 😀"))
                loaded += 1
            } catch is TokenizerError { thrown += 1 }
        }
        print("truncations: \(thrown) rejected, \(loaded) loaded as shorter valid models")
        XCTAssertGreaterThan(thrown, 0)
    }

    /// Deterministic generator so that a failure can be replayed.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    func testRandomCorruptionNeverCrashes() throws {
        var rng = SplitMix64(state: 2024)
        // TOKENIZER_FUZZ_ITERATIONS raises the number of corrupted copies per model (default 150).
        let iterations = ProcessInfo.processInfo.environment["TOKENIZER_FUZZ_ITERATIONS"].flatMap(Int.init) ?? 150
        for name in ["bpe-identity-nodummy", "unigram-bytefallback-nfkc", "bpe-custom-rules"] {
            let bytes = try modelBytes(name)
            var thrown = 0
            for _ in 0..<iterations {
                var b = bytes
                for _ in 0..<Int.random(in: 1...8, using: &rng) {
                    b[Int.random(in: 0..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
                do {
                    let sp = try SentencePieceProcessor(model: SentencePieceModel(bytes: b))
                    _ = sp.decode(sp.encode("Hello  world\t中文 ①ｶﾞ 😀 [unused10] 12345"))
                } catch is TokenizerError { thrown += 1 }
            }
            print("\(name): \(thrown)/\(iterations) corrupted copies rejected, the rest loaded and ran")
        }
    }

    func testGarbageAndInconsistentModels() throws {
        XCTAssertTrue(isTokenizerError { _ = try SentencePieceModel(data: Data("{\"not\": \"a model\"}".utf8)) })
        XCTAssertTrue(isTokenizerError { _ = try SentencePieceModel(bytes: [0x0A, 0xFF]) })
        // A well-formed model without an UNKNOWN piece is rejected like the library does.
        let m = SentencePieceModel(pieces: [.init(piece: "a", score: 0, type: .normal)],
                                   trainerSpec: .init(), normalizerSpec: .init())
        XCTAssertThrowsError(try SentencePieceProcessor(model: m)) { e in
            XCTAssertEqual(e as? TokenizerError, .invalidModel("no piece of type UNKNOWN (<unk>) is defined"))
        }
        let dup = SentencePieceModel(pieces: [.init(piece: "<unk>", score: 0, type: .unknown),
                                              .init(piece: "a", score: 0, type: .normal),
                                              .init(piece: "a", score: 0, type: .normal)],
                                     trainerSpec: .init(), normalizerSpec: .init())
        XCTAssertTrue(isTokenizerError { _ = try SentencePieceProcessor(model: dup) })
        var spec = SentencePieceModel.NormalizerSpec()
        spec.precompiledCharsmap = [0xFF, 0xFF, 0, 0, 1, 2]
        let badMap = SentencePieceModel(pieces: [.init(piece: "<unk>", score: 0, type: .unknown)],
                                        trainerSpec: .init(), normalizerSpec: spec)
        XCTAssertTrue(isTokenizerError { _ = try SentencePieceProcessor(model: badMap) })
    }

    func testMissingFilesAndBadConfig() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tok-err-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertTrue(isTokenizerError { _ = try HuggingFaceTokenizer(directory: dir) })
        try Data(contentsOf: Fixtures.url("hf/pangu-like/tokenizer.model")).write(to: dir.appendingPathComponent("tokenizer.model"))
        try Data("{ not json".utf8).write(to: dir.appendingPathComponent("tokenizer_config.json"))
        XCTAssertTrue(isTokenizerError { _ = try HuggingFaceTokenizer(directory: dir) })
        try Data("{\"added_tokens_decoder\": {\"x\": {\"content\": \"a\"}}}".utf8)
            .write(to: dir.appendingPathComponent("tokenizer_config.json"))
        XCTAssertTrue(isTokenizerError { _ = try HuggingFaceTokenizer(directory: dir) })
        // Without a config the tokenizer still loads (plain SentencePiece plus BOS by default).
        try FileManager.default.removeItem(at: dir.appendingPathComponent("tokenizer_config.json"))
        XCTAssertNoThrow(try HuggingFaceTokenizer(directory: dir))
    }
}
