// Fuzz harness `model-config`: config.json from untrusted bytes, decoded and validated as
// PanguEmbeddedConfiguration.load does (JSONDecoder + validate), from memory. See Docs/Fuzzing.md.
import Foundation
import PanguFuzzSupport
import PanguModels

@main enum Harness {
    static func main() {
        runHarness { bytes in
            guard let c = try? JSONDecoder().decode(PanguEmbeddedConfiguration.self, from: Data(bytes)) else { return }
            guard (try? c.validate(file: "config.json")) != nil else { return }
            // What the model builder derives from a validated configuration.
            _ = c.kvHeads; _ = c.resolvedHeadDim; _ = c.hasAttentionBias; _ = c.tied
        }
    }
}
