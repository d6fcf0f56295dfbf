// Fuzz harness `generation-config`: generation_config.json from untrusted bytes (GenerationConfig.load reads the
// file and calls the same decoder), plus GGUF-style sampling metadata. See Docs/Fuzzing.md.
import Foundation
import PanguFuzzSupport
import PanguRuntime
import PanguWeights

@main enum Harness {
    static func main() {
        runHarness { bytes in
            _ = try? GenerationConfig.decode(Data(bytes), path: "generation_config.json", fallbackEOS: [2])
            // The first bytes as GGUF general.sampling.* values of various types.
            guard bytes.count >= 8 else { return }
            let raw = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
            let values: [GGUFValue] = [.float32(Float(bitPattern: UInt32(truncatingIfNeeded: raw))), .float64(Double(bitPattern: raw)),
                                       .int64(Int64(bitPattern: raw)), .uint64(raw), .bool(raw & 1 == 0), .string("x")]
            let keys = ["general.sampling.temp", "general.sampling.top_k", "general.sampling.top_p",
                        "general.sampling.min_p", "general.sampling.penalty_repeat"]
            let pick = Int(bytes[0]) % keys.count, kind = Int(bytes[1]) % values.count
            _ = try? GenerationConfig.gguf(metadata: { $0 == keys[pick] ? values[kind] : nil }, path: "fuzz.gguf", eosTokenIds: [2])
        }
    }
}
