// Fuzz harness `sp-text`: untrusted text and ids through the built-in Pangu-like tokenizer (SentencePiece BPE with
// byte fallback plus Hugging Face added tokens): encode, decode, and streaming decode, which must equal the full
// decode. See Docs/Fuzzing.md.
import Foundation
import PanguFuzzSupport
import PanguTokenizer

@main enum Harness {
    static func main() {
        let tokenizer: HuggingFaceTokenizer
        do { tokenizer = try BuiltinTokenizer.tinyPangu() } catch { fatalError("built-in tokenizer: \(error)") }
        let n = tokenizer.vocabularySize
        runHarness { bytes in
            // The last byte picks the options (so each input runs one combination; the fuzzer reaches all).
            let mode = bytes.last ?? 0
            let special = mode & 1 == 0, skip = mode & 2 != 0
            let text = String(decoding: bytes, as: UTF8.self)
            let encoded = tokenizer.encode(text, addSpecialTokens: special)
            for id in encoded { fuzzCheck(id >= 0 && id < n, "encode gave id \(id) outside 0..<\(n)") }
            _ = tokenizer.decode(encoded, skipSpecialTokens: skip)
            // The bytes as ids (two bytes each), out-of-range ones included: decode and stream them.
            var ids: [Int] = []
            for i in stride(from: 0, to: min(bytes.count, 128), by: 2) {
                ids.append((Int(bytes[i]) << 8 | Int(i + 1 < bytes.count ? bytes[i + 1] : 0)) % (n + 8) - 4)
            }
            do {
                let full = tokenizer.decode(ids, skipSpecialTokens: skip)
                var stream = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: skip)
                var streamed = ""
                for id in ids { streamed += stream.append(id) }
                streamed += stream.finish()
                if tokenizer.config.cleanUpTokenizationSpaces == false, ids.allSatisfy({ $0 >= 0 && $0 < n }) {
                    fuzzCheck(streamed == full, "streamed decode \(streamed.debugDescription) != decode \(full.debugDescription) for \(ids)")
                }
            }
        }
    }
}
