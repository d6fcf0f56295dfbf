// `quant-bench write-gguf PATH TYPE [1b|7b|tiny]`: writes a random-weight openPangu-Embedded-shaped GGUF
// (pangu-embedded architecture, synthetic SentencePiece vocabulary) with our writer and quantisers, for
// checking that llama.cpp loads full-size files and for llama-bench comparisons on identical shapes.
import PanguTensor
import PanguWeights

enum RandomGGUF {
    static func write(path: String, dtype: DType, size: String) throws {
        let (nEmbd, nFF, nLayer, nHead, nKV, rope): (Int, Int, Int, Int, Int, Float) = switch size {
        case "7b": (4096, 12800, 34, 32, 8, 16_000_000)
        case "tiny": (256, 512, 2, 2, 1, 4_000_000)
        default: (1536, 6144, 26, 12, 6, 4_000_000)
        }
        let headDim = 128, nVocab = size == "tiny" ? 1024 : 153376
        var tokens = ["<unk>", "<s>", "</s>"], types: [Int32] = [2, 3, 3]
        for b in 0..<256 { tokens.append("<0x" + String(b, radix: 16, uppercase: true).leftPad(2) + ">"); types.append(6) }
        while tokens.count < nVocab { tokens.append("▁t\(tokens.count)"); types.append(1) }
        let vocab = PanguGGUFVocabulary(tokens: tokens, scores: tokens.indices.map { -Float($0) }, tokenTypes: types,
                                        bosID: 1, eosID: 2)
        let h = PanguGGUFHyperParameters(contextLength: 32768, embeddingLength: nEmbd, blockCount: nLayer,
                                         feedForwardLength: nFF, headCount: nHead, headCountKV: nKV, headDim: headDim,
                                         ropeFreqBase: rope, rmsNormEps: 1e-5, vocabSize: nVocab)
        let w = try GGUFWriter(path: path)
        w.set(PanguGGUF.architectureMetadata(h, name: "random-pangu-\(size)", fileType: GGMLType.fileType(for: dtype)))
        w.set(PanguGGUF.tokenizerMetadata(vocab))
        var list = [(String, [Int], DType)]()
        list.append(("token_embd.weight", [nEmbd, nVocab], dtype))
        for l in 0..<nLayer {
            let p = "blk.\(l)."
            list += [(p + "attn_norm.weight", [nEmbd], .f32),
                     (p + "attn_q.weight", [nEmbd, nHead * headDim], dtype), (p + "attn_q.bias", [nHead * headDim], .f32),
                     (p + "attn_k.weight", [nEmbd, nKV * headDim], dtype), (p + "attn_k.bias", [nKV * headDim], .f32),
                     (p + "attn_v.weight", [nEmbd, nKV * headDim], dtype), (p + "attn_v.bias", [nKV * headDim], .f32),
                     (p + "attn_output.weight", [nHead * headDim, nEmbd], dtype), (p + "attn_output.bias", [nEmbd], .f32),
                     (p + "ffn_norm.weight", [nEmbd], .f32),
                     (p + "ffn_gate.weight", [nEmbd, nFF], dtype), (p + "ffn_up.weight", [nEmbd, nFF], dtype),
                     (p + "ffn_down.weight", [nFF, nEmbd], dtype)]
        }
        list.append(("output_norm.weight", [nEmbd], .f32))
        if size != "1b" { list.append(("output.weight", [nEmbd, nVocab], dtype)) }   // 1B ties lm_head to the embedding
        for (n, d, t) in list { try w.addTensor(name: n, dims: d, dtype: t) }
        try w.writeHeader()
        var state: UInt64 = 0x1234_5678
        for (n, d, t) in list {
            let k = d[0], rows = d.count > 1 ? d[1] : 1
            var bytes = [UInt8](repeating: 0, count: t.rowBytes(k) * rows)
            var row = [Float](repeating: 0, count: k)
            for r in 0..<rows {
                for i in 0..<k {
                    state = state &* 6364136223846793005 &+ 1442695040888963407
                    let u = Float(Int32(truncatingIfNeeded: state >> 32)) / Float(Int32.max)
                    row[i] = n.hasSuffix("norm.weight") ? 1 + 0.05 * u : 0.02 * u
                }
                row.withUnsafeBufferPointer { xp in
                    bytes.withUnsafeMutableBytes { QuantReference.quantize(xp.baseAddress!, k: k, as: t, into: $0.baseAddress! + r * t.rowBytes(k)) }
                }
            }
            try w.writeTensorData(bytes)
        }
        try w.finish()
    }
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
