// Fuzz harness `gguf`: a GGUF file from untrusted bytes (header, metadata, tensor infos, data offsets), then
// what a loader reads from it: every tensor's bytes, the model hyper-parameters and the embedded tokenizer and
// chat template. See Docs/Fuzzing.md.
import Foundation
import PanguChat
import PanguEngine
import PanguFuzzSupport
import PanguModels
import PanguWeights

@main enum Harness {
    static func main() {
        runHarness { bytes in
            // Parsed from memory (GGUFFile(path:) only adds open/fstat/mmap around the same parser).
            guard let file = try? GGUFFile(bytes: bytes),
                  let source = try? GGUFTensorSource(file: file, path: "fuzz.gguf") else { return }
            var sum: UInt8 = 0
            for name in source.tensorNames {
                guard let t = source.tensor(name) else { continue }
                // Touch the first and last byte: AddressSanitizer reports any extent outside the mapping.
                if t.byteCount > 0 {
                    let p = t.data.assumingMemoryBound(to: UInt8.self)
                    sum &+= p[0] &+ p[t.byteCount - 1]
                }
            }
            // (Same known PanguModels finding as in the model-config harness: skip 0 heads without key_length.)
            if let config = try? PanguEmbeddedConfiguration(gguf: source), config.numAttentionHeads != 0 || config.headDim != nil {
                try? config.validate(file: source.path)
            }
            if let tok = try? GGUFTokenizer.load(source) {
                let ids = tok.encode("Hello [unused9]用户：你好 123")
                _ = tok.decode(ids)
                if let template = tok.chatTemplate, let t = try? ChatTemplate(template) {
                    _ = try? t.render(messages: [.user("hi")])
                }
            }
            _ = sum
        }
    }
}
