// Checkpoint → `Quantizer` → GGUF → model + tokenizer, compared with the original checkpoint.
// Quantised logits are compared with the float model: top-1 agreement and KL divergence are printed and bounded.
import Foundation
import PanguEngine
import PanguModels
import PanguRuntime
import PanguTensor
import PanguTestSupport
import XCTest

final class GGUFEndToEndTests: XCTestCase {
    static let source: URL = {
        let dir = try! makeTemporaryDirectory("pangu-gguf-src")
        // hidden 256 so the K-quants apply without fallback.
        var p = TestModelPreset.tiny
        p.hidden = 256; p.intermediate = 512; p.heads = 4; p.kvHeads = 2; p.layers = 3
        try! TestCheckpointWriter.write(p, dtype: .bf16, seed: 21, to: dir)
        return dir
    }()

    func quantized(_ type: String) throws -> URL {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("pangu-\(type)-\(UUID()).gguf")
        try Quantizer.quantize(directory: Self.source, recipe: QuantizationRecipe.all[type]!, output: out.path)
        return out
    }

    func logits(_ engine: Engine, _ ids: [Int]) throws -> [Float] {
        try engine.model.forward([SequenceStep(tokens: ids, cache: engine.model.makeCache(), allLogits: true)])[0]
    }

    func testBF16GGUFIsExactAndQuantisedTypesStayClose() throws {
        let reference = try Engine(directory: Self.source, prefault: false)
        let ids = reference.tokenizer.encode("The quick brown fox 跳过 the lazy dog. 12345", addSpecialTokens: true)
        let ref = try logits(reference, ids)
        let vocab = reference.model.info.vocabularySize
        // (type, max mean KL, min top-1 agreement): looser for fewer bits.
        for (type, maxKL, minTop1) in [("bf16", 0.0, 1.0), ("q8_0", 0.002, 0.9), ("q6_k", 0.01, 0.85),
                                       ("q4_k_m", 0.05, 0.7), ("q4_0", 0.1, 0.6)] {
            let url = try quantized(type)
            defer { try? FileManager.default.removeItem(at: url) }
            let engine = try Engine(directory: url, prefault: false)
            XCTAssertEqual(engine.tokenizer.encode("The quick brown fox 跳过 the lazy dog. 12345", addSpecialTokens: true), ids)
            let got = try logits(engine, ids)
            var kl = 0.0, agree = 0
            for t in 0..<ids.count {
                let p = ReferenceKernels.softmax(Array(ref[(t * vocab)..<((t + 1) * vocab)]))
                let q = ReferenceKernels.softmax(Array(got[(t * vocab)..<((t + 1) * vocab)]))
                for i in 0..<vocab where p[i] > 0 { kl += Double(p[i]) * log(Double(p[i]) / max(Double(q[i]), 1e-30)) }
                if Sampler.argmax(Array(ref[(t * vocab)..<((t + 1) * vocab)])) == Sampler.argmax(Array(got[(t * vocab)..<((t + 1) * vocab)])) { agree += 1 }
            }
            let meanKL = kl / Double(ids.count), top1 = Double(agree) / Double(ids.count)
            print("GGUF \(type): mean KL \(meanKL), top-1 agreement \(agree)/\(ids.count)")
            if type == "bf16" {
                XCTAssertEqual(got, ref, "bf16 GGUF must compute exactly what the bf16 safetensors do")
            } else {
                XCTAssertLessThanOrEqual(meanKL, maxKL, type)
                XCTAssertGreaterThanOrEqual(top1, minTop1, type)
            }
        }
    }

    /// q8_0/q4_0/q4_K/q6_K matrices are repacked into the row-interleaved layout at load; the logits must match the
    /// file-layout kernels (PANGU_REPACK=0) up to f32 summation order, for a prompt (prefill tiles) and a
    /// cached single-token step (decode kernels).
    func testRepackedLayoutMatchesFileLayout() throws {
        for type in ["q8_0", "q4_0", "q4_k_m", "q6_k"] {
            let url = try quantized(type)
            defer { try? FileManager.default.removeItem(at: url) }
            let repacked = try Engine(directory: url, prefault: false)
            setenv("PANGU_REPACK", "0", 1)
            let plain = try Engine(directory: url, prefault: false)
            unsetenv("PANGU_REPACK")
            XCTAssertGreaterThan(repacked.model.info.repackedBytes, 0, "\(type) matrices should be repacked")
            XCTAssertEqual(plain.model.info.repackedBytes, 0)
            let ids = repacked.tokenizer.encode("Repacking must not change the numbers 42", addSpecialTokens: true)
            func run(_ e: Engine) throws -> [Float] {
                let cache = e.model.makeCache()
                var out = try e.model.forward([SequenceStep(tokens: Array(ids.dropLast()), cache: cache, allLogits: true)])[0]
                out += try e.model.forward([SequenceStep(tokens: [ids.last!], cache: cache, allLogits: true)])[0]
                return out
            }
            let a = try run(repacked), b = try run(plain)
            XCTAssertEqual(a.count, b.count)
            let scale = b.map { abs($0) }.max()!
            // Per token row: f32 summation order alone gives ~1e-7 relative. The activations are quantised (q8_0 /
            // q8_K) before the integer kernels, so a 1e-7 difference can flip one activation across a rounding
            // boundary, which moves that row by about one activation quantum (~1e-3 relative) and nothing else. A
            // wrong kernel moves every row, far more. So: all rows within 1e-4, except at most one row in ten within 2e-3.
            let vocab = repacked.model.info.vocabularySize
            let rows = (0..<(a.count / vocab)).map { r in
                zip(a[(r * vocab)..<((r + 1) * vocab)], b[(r * vocab)..<((r + 1) * vocab)]).map { abs($0 - $1) }.max()!
            }
            let flipped = rows.filter { $0 > 1e-4 * scale }
            XCTAssertLessThanOrEqual(flipped.count, rows.count / 10, "\(type): repacked vs file layout rows \(rows)")
            XCTAssertLessThanOrEqual(rows.max()!, 2e-3 * scale, "\(type): repacked vs file layout")
        }
    }

    func testGGUFTokenizerMatchesCheckpointTokenizer() throws {
        let url = try quantized("q8_0")
        defer { try? FileManager.default.removeItem(at: url) }
        let a = try Engine(directory: Self.source, prefault: false).tokenizer
        let b = try Engine(directory: url, prefault: false).tokenizer
        for text in ["", " leading", "[unused9]用户：Hi[unused10][unused9]助手：", "tabs\tand\nnewlines  ", "emoji 🙂 ok",
                     "<s> literal", "numbers 3.14159"] {
            XCTAssertEqual(a.encode(text, addSpecialTokens: true), b.encode(text, addSpecialTokens: true), text)
            let ids = a.encode(text, addSpecialTokens: true)
            XCTAssertEqual(a.decode(ids, skipSpecialTokens: false), b.decode(ids, skipSpecialTokens: false), text)
        }
        XCTAssertEqual(a.eosTokenIds, b.eosTokenIds)
    }

    func testUnknownRecipeAndCorruptGGUFAreErrors() throws {
        XCTAssertNil(QuantizationRecipe.all["q3_z"])
        let bad = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID()).gguf")
        try Data("GGUF\u{3}\0\0\0garbage".utf8).write(to: bad)
        defer { try? FileManager.default.removeItem(at: bad) }
        XCTAssertThrowsError(try LoadedModel(directory: bad)) { e in XCTAssertTrue("\(e)".contains(bad.path), "\(e)") }
    }
}
