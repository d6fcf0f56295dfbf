// Fuzz harness `safetensors-index`: a sharded checkpoint's model.safetensors.index.json from untrusted bytes,
// next to two small valid shards. See Docs/Fuzzing.md.
import Foundation
import PanguFuzzSupport
import PanguTensor
import PanguWeights

/// Writes a small valid shard holding `names` (F32 [2, 3] each).
func writeShard(_ path: String, _ names: [String]) {
    do {
        let w = try SafetensorsWriter(path: path, entries: names.map { .init(name: $0, dtype: .f32, shape: [2, 3]) })
        let values = [Float](repeating: 1, count: 6)
        for _ in names { try values.withUnsafeBytes { try w.append($0) } }
        try w.close()
    } catch { fuzzCheck(false, "cannot write the fixture shard \(path): \(error)") }
}

@main enum Harness {
    static func main() {
        let scratch = ScratchFile(name: "model.safetensors.index.json")
        writeShard(scratch.directory.appendingPathComponent("model-00001-of-00002.safetensors").path, ["a.weight", "b.weight"])
        writeShard(scratch.directory.appendingPathComponent("model-00002-of-00002.safetensors").path, ["c.weight"])
        runHarness { bytes in
            scratch.write(bytes)
            guard let checkpoint = try? SafetensorsCheckpoint(directory: scratch.directory) else { return }
            for name in checkpoint.tensorNames {
                guard let t = checkpoint.tensor(name) else { fuzzCheck(false, "listed tensor \(name) is missing"); return }
                fuzzCheck(t.shape == [2, 3] && t.byteCount == 24, "\(name) has the wrong extent")
            }
        }
    }
}
