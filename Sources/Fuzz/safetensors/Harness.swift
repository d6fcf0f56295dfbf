// Fuzz harness `safetensors`: one .safetensors file from untrusted bytes (header length, header JSON, dtypes,
// shapes, data offsets), parsed from memory; every accepted tensor's extent is touched. See Docs/Fuzzing.md.
import Foundation
import PanguFuzzSupport
import PanguWeights

@main enum Harness {
    static func main() {
        runHarness { bytes in
            guard let file = try? SafetensorsFile(file: MappedFile(bytes: bytes, path: "fuzz.safetensors")) else { return }
            var sum: UInt8 = 0
            for name in file.tensorNames {
                guard let t = file.tensor(name) else { continue }
                fuzzCheck(t.byteCount == t.elementCount * t.dtype.bytesPerBlock, "\(name): byteCount disagrees with shape")
                // Touch the first and last byte: AddressSanitizer reports any extent outside the buffer.
                if t.byteCount > 0 {
                    let p = t.data.assumingMemoryBound(to: UInt8.self)
                    sum &+= p[0] &+ p[t.byteCount - 1]
                }
            }
            _ = file.totalBytes
            _ = sum
        }
    }
}
