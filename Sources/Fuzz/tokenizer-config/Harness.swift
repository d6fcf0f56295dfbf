// Fuzz harness `tokenizer-config`: tokenizer_config.json from untrusted bytes, as the tokenizer reads it (added
// tokens, special tokens) and as the chat-template loader reads it; a tokenizer built from it encodes and decodes.
// See Docs/Fuzzing.md.
import Foundation
import PanguChat
import PanguFuzzSupport
import PanguTokenizer

@main enum Harness {
    static func main() {
        let base: HuggingFaceTokenizer
        do { base = try BuiltinTokenizer.tinyPangu() } catch { fatalError("built-in tokenizer: \(error)") }
        runHarness { bytes in
            let data = Data(bytes)
            if let set = try? ChatTemplateSet(tokenizerConfigJSON: data) { _ = set.templates.count }
            guard let config = try? TokenizerConfig(configJSON: data),
                  let tok = try? HuggingFaceTokenizer(sentencePiece: base.sentencePiece, config: config) else { return }
            let ids = tok.encode("<s>[unused9]用户：Hello  wörld 123 🙂[unused10]")
            _ = tok.decode(ids, skipSpecialTokens: true)
            _ = tok.decode(ids + [0, 1, 2, tok.vocabularySize - 1])
            _ = tok.bosTokenId; _ = tok.eosTokenIds; _ = tok.padTokenId
        }
    }
}
