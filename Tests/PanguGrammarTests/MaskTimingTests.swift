import Foundation
import PanguGrammar
import XCTest

/// Mask + accept time per token on a synthetic vocabulary as large as openPangu's (153,376 ids). Prints only:
/// timings depend on the machine and the build configuration.
final class MaskTimingTests: XCTestCase {
    static func syntheticVocabulary(size: Int) -> (GrammarVocabulary, eos: Int) {
        var rng = SplitMix64(seed: 42)
        var tokens: [[UInt8]] = (0..<256).map { [UInt8($0)] }
        let eos = tokens.count
        tokens.append([])
        let letters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        let punct = Array("{}[]\":,.-_0123456789 \n\\/'!?()".utf8)
        var seen = Set(tokens)
        while tokens.count < size {
            var t: [UInt8] = []
            switch rng.next() % 10 {
            case 0..<6:
                if rng.next() % 2 == 0 { t.append(0x20) }
                for _ in 0..<(2 + Int(rng.next() % 9)) { t.append(letters[Int(rng.next() % UInt64(letters.count))]) }
            case 6, 7:
                for _ in 0..<(1 + Int(rng.next() % 3)) {
                    let scalar = Unicode.Scalar(UInt32(0x4E00 + rng.next() % 0x5000))!
                    t += Array(String(Character(scalar)).utf8)
                }
            default:
                for _ in 0..<(1 + Int(rng.next() % 4)) { t.append(punct[Int(rng.next() % UInt64(punct.count))]) }
            }
            if seen.insert(t).inserted { tokens.append(t) }
        }
        return (GrammarVocabulary(tokenBytes: tokens, specialTokens: ["</s>": eos, "[unused11]": size, "[unused12]": size + 1]), eos)
    }

    func testMaskTimingOnLargeVocabulary() throws {
        var t0 = Date()
        let (vocab, eos) = Self.syntheticVocabulary(size: 153_376)
        print(String(format: "synthetic vocabulary: %d ids, built in %.2f s", vocab.count, Date().timeIntervalSince(t0)))
        let schema = """
        {"type":"object","properties":{"name":{"type":"string","maxLength":40},"age":{"type":"integer","minimum":0,"maximum":150},
         "tags":{"type":"array","items":{"type":"string"},"maxItems":4},"notes":{"type":"string"}},"required":["name","age","tags","notes"],
         "additionalProperties":false}
        """
        t0 = Date()
        let g = try TokenGrammar.jsonSchema(schema, vocabulary: vocab)
        print(String(format: "schema compiled in %.3f s (%d DFA states)", Date().timeIntervalSince(t0), g.stateCount))
        let bias = vocab.tokenBytes.map { b -> Float in b.contains { $0 == 0x22 || $0 == 0x7D || $0 == 0x5D } ? 2 : 0 }
        for pass in ["cold cache", "warm cache"] {
            let c = g.makeConstraint(eosTokenIds: [eos], reasoning: nil)
            var rng = SplitMix64(seed: 7)
            var maskTime = 0.0, acceptTime = 0.0, n = 0
            var logits = [Float](repeating: 0, count: vocab.count)
            while n < 300 {
                // Cheap random logits (debug builds are slow per element): xorshift over raw buffers.
                var x = rng.next() | 1
                bias.withUnsafeBufferPointer { b in
                    logits.withUnsafeMutableBufferPointer { l in
                        for i in 0..<l.count {
                            x ^= x << 13; x ^= x >> 7; x ^= x << 17
                            l[i] = Float(x >> 40) * 0x1p-24 + b[i]
                        }
                    }
                }
                var t = Date()
                c.mask(&logits)
                maskTime += Date().timeIntervalSince(t)
                let best = logits.withUnsafeBufferPointer { l in
                    var best = 0
                    for i in 0..<l.count where l[i] > l[best] { best = i }
                    return best
                }
                XCTAssert(logits[best].isFinite)
                t = Date()
                try c.accept(best)
                acceptTime += Date().timeIntervalSince(t)
                n += 1
                if best == eos { break }
            }
            print(String(format: "%@: %d tokens, mask %.3f ms/token, accept %.4f ms/token", pass, n,
                         maskTime / Double(n) * 1000, acceptTime / Double(n) * 1000))
        }
    }
}
