import XCTest
import Foundation
@testable import PanguWeights
import PanguTensor

/// Writes a tiny random pangu-embedded model (2 layers, n_embd 256) with every stored quantised format through
/// `GGUFWriter` + `PanguGGUF`, and checks it reads back. Set PANGU_TINY_GGUF=/path.gguf to keep the file
/// (used to check that llama.cpp loads and runs what we write).
final class GGUFTinyPanguModelTests: XCTestCase {
    func testWriteTinyPanguEmbeddedModel() throws {
        let path = ProcessInfo.processInfo.environment["PANGU_TINY_GGUF"] ?? GGUFTestSupport.tempPath("tiny-pangu.gguf")
        let nEmbd = 256, nFF = 512, nHead = 2, nKV = 1, headDim = 128, nLayer = 2
        // SentencePiece-style vocabulary: specials, 256 byte tokens, a few pieces.
        var tokens = ["<unk>", "<s>", "</s>"], types: [Int32] = [2, 3, 3]
        for b in 0..<256 { tokens.append(String(format: "<0x%02X>", b)); types.append(6) }
        for p in ["▁", "▁the", "▁a", "e", "t", "▁hello", "▁world", "s", "ing", "."] { tokens.append(p); types.append(1) }
        let scores = tokens.indices.map { Float(-$0) / 10 }
        let vocab = PanguGGUFVocabulary(tokens: tokens, scores: scores, tokenTypes: types, bosID: 1, eosID: 2,
                                        unknownID: 0, paddingID: 0, addBOS: true, addSpacePrefix: true,
                                        chatTemplate: "{% for m in messages %}{{ m['content'] }}{% endfor %}")
        let h = PanguGGUFHyperParameters(contextLength: 512, embeddingLength: nEmbd, blockCount: nLayer,
                                         feedForwardLength: nFF, headCount: nHead, headCountKV: nKV, headDim: headDim,
                                         ropeFreqBase: 16_000_000, rmsNormEps: 1e-5, vocabSize: tokens.count)
        let w = try GGUFWriter(path: path)
        w.set(PanguGGUF.architectureMetadata(h, name: "tiny-pangu-test", fileType: GGMLType.fileType(for: .q4_K)))
        w.set(PanguGGUF.tokenizerMetadata(vocab))

        var tensors = [(String, [Int], DType)]()
        tensors.append(("token_embd.weight", [nEmbd, tokens.count], .q8_0))
        let mats: [(String, [Int], [DType])] = [
            ("attn_q.weight", [nEmbd, nHead * headDim], [.q4_0, .f16]),
            ("attn_k.weight", [nEmbd, nKV * headDim], [.q4_1, .bf16]),
            ("attn_v.weight", [nEmbd, nKV * headDim], [.q5_0, .q8_0]),
            ("attn_output.weight", [nHead * headDim, nEmbd], [.q5_1, .q4_K]),
            ("ffn_gate.weight", [nEmbd, nFF], [.q4_K, .q5_K]),
            ("ffn_up.weight", [nEmbd, nFF], [.q5_K, .q6_K]),
            ("ffn_down.weight", [nFF, nEmbd], [.q6_K, .q4_0]),
        ]
        for l in 0..<nLayer {
            tensors.append(("blk.\(l).attn_norm.weight", [nEmbd], .f32))
            for (n, d, t) in mats { tensors.append(("blk.\(l).\(n)", d, t[l])) }
            tensors.append(("blk.\(l).attn_q.bias", [nHead * headDim], .f32))
            tensors.append(("blk.\(l).attn_k.bias", [nKV * headDim], .f32))
            tensors.append(("blk.\(l).attn_v.bias", [nKV * headDim], .f32))
            tensors.append(("blk.\(l).attn_output.bias", [nEmbd], .f32))
            tensors.append(("blk.\(l).ffn_norm.weight", [nEmbd], .f32))
        }
        tensors.append(("output_norm.weight", [nEmbd], .f32))
        tensors.append(("output.weight", [nEmbd, tokens.count], .q6_K))
        if ProcessInfo.processInfo.environment["PANGU_TINY_ALL_F32"] != nil {
            tensors = tensors.map { ($0.0, $0.1, DType.f32) }    // source for llama-quantize comparisons
        }
        for (n, d, t) in tensors { try w.addTensor(name: n, dims: d, dtype: t) }
        try w.writeHeader()
        var state: UInt64 = 12345
        var written = [String: [UInt8]]()
        for (n, d, t) in tensors {
            let count = d.reduce(1, *)
            let x: [Float] = (0..<count).map { i in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let u = Float(state >> 40) / Float(1 << 24) - 0.5
                if n.hasSuffix("norm.weight") { return 1 + 0.1 * u }
                // Mixed statistics so the quantisers' search branches are exercised: heavy-tailed values,
                // outliers, all-positive rows (min > 0) and a tiny-magnitude row.
                let row = i / d[0]
                switch row % 6 {
                case 1: return 0.2 * u * u * u * 8
                case 2: return i % 37 == 0 ? 2 * u : 0.1 * u
                case 3: return 0.3 + 0.2 * u
                case 4: return 1e-4 * u
                default: return 0.2 * u
                }
            }
            let bytes = QuantReference.quantize(x, as: t)
            written[n] = bytes
            try w.writeTensorData(bytes)
        }
        try w.finish()

        let f = try GGUFFile(path: path)
        XCTAssertEqual(f.architecture, "pangu-embedded")
        XCTAssertEqual(f["tokenizer.ggml.tokens"]?.stringArray?.count, tokens.count)
        XCTAssertEqual(f.tensors.count, tensors.count)
        for (n, d, t) in tensors {
            let g = try f.tensor(n)
            XCTAssertEqual(g.dtype, t, n); XCTAssertEqual(g.dims, d, n)
            XCTAssertEqual([UInt8](UnsafeRawBufferPointer(start: g.data, count: g.byteCount)), written[n], n)
        }
    }

    /// With PANGU_TINY_GGUF = an all-f32 tiny model (PANGU_TINY_ALL_F32=1) and PANGU_LLAMA_Q_GGUF = the same file
    /// quantised by `llama-quantize --pure`, compares our reference quantisers with ggml's block by block.
    func testMatchesLlamaQuantize() throws {
        let env = ProcessInfo.processInfo.environment
        guard let src = env["PANGU_TINY_GGUF"], let qpath = env["PANGU_LLAMA_Q_GGUF"] else {
            throw XCTSkip("set PANGU_TINY_GGUF (f32) and PANGU_LLAMA_Q_GGUF to compare with llama-quantize")
        }
        let f = try GGUFFile(path: src), q = try GGUFFile(path: qpath)
        var report = [String]()
        for qi in q.tensors {
            guard let dt = qi.dtype, dt.isQuantized, let si = f.info(qi.name), si.dtype == .f32 else { continue }
            let k = qi.dims[0], rows = qi.elementCount / k
            let x = UnsafeBufferPointer(start: f.data(of: si).assumingMemoryBound(to: Float.self), count: si.elementCount)
            let ours = QuantReference.quantize(Array(x), as: dt)
            let theirs = [UInt8](UnsafeRawBufferPointer(start: q.data(of: qi), count: qi.byteCount))
            var same = 0
            let nb = ours.count / dt.bytesPerBlock
            for b in 0..<nb where ours[(b * dt.bytesPerBlock)..<((b + 1) * dt.bytesPerBlock)] == theirs[(b * dt.bytesPerBlock)..<((b + 1) * dt.bytesPerBlock)] { same += 1 }
            let yo = QuantReference.dequantize(ours, dtype: dt, k: rows * k), yt = QuantReference.dequantize(theirs, dtype: dt, k: rows * k)
            var eo = 0.0, et = 0.0, s = 0.0
            for i in 0..<(rows * k) {
                let xi = Double(x[i])
                eo += (Double(yo[i]) - xi) * (Double(yo[i]) - xi); et += (Double(yt[i]) - xi) * (Double(yt[i]) - xi); s += xi * xi
            }
            let ro = (eo / s).squareRoot(), rt = (et / s).squareRoot()
            report.append("\(qi.name) \(dt): identical blocks \(same)/\(nb), rel RMS ours \(ro) ggml \(rt)")
            XCTAssertLessThanOrEqual(ro, rt * 1.02 + 1e-7, "\(qi.name) \(dt): our error \(ro) vs ggml \(rt)")
            if [.q4_K, .q5_K].contains(dt) {
                // On this mixed-statistics model ~0.1% of q4_K/q5_K blocks differ from the llama.cpp build here (cause
                // not pinned down: floating-point evaluation order in the compiled ggml search; a full-FMA variant
                // matched worse). Error is equal; the committed golden (QuantLlamaGoldenTests) is exact.
                XCTAssertGreaterThanOrEqual(Double(same), 0.97 * Double(nb), "\(qi.name) \(dt): too many blocks differ")
            } else {
                XCTAssertEqual(same, nb, "\(qi.name) \(dt) should be bit-exact with ggml's reference quantiser")
            }
        }
        XCTAssertFalse(report.isEmpty, "no quantised tensors compared")
        print(report.joined(separator: "\n"))
    }
}
