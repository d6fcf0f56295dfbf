// A Hugging Face checkpoint directory: either one `model.safetensors` or shards listed in
// `model.safetensors.index.json` ({"metadata": {"total_size": N}, "weight_map": {tensor: shard file}}).
import Foundation
import PanguTensor

/// All safetensors files of a checkpoint directory behind one `TensorSource`.
public final class SafetensorsCheckpoint: TensorSource, @unchecked Sendable {
    /// The directory.
    public let directory: URL
    /// The opened files, in shard order.
    public let files: [SafetensorsFile]
    private let index: [String: SafetensorsFile]

    /// Opens the checkpoint in `directory`, validating every shard and the index against the shards.
    public init(directory: URL) throws {
        self.directory = directory
        let fm = FileManager.default
        let indexURL = directory.appendingPathComponent("model.safetensors.index.json")
        let single = directory.appendingPathComponent("model.safetensors")
        var opened: [SafetensorsFile] = []
        var map: [String: SafetensorsFile] = [:]
        if fm.fileExists(atPath: indexURL.path) {
            let data = try Data(contentsOf: indexURL)
            guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
                  let weightMap = root["weight_map"] as? [String: String]
            else {
                throw WeightsError.malformedHeader(path: indexURL.path, detail: "no \"weight_map\" object")
            }
            var byShard: [String: SafetensorsFile] = [:]
            var problems: [String] = []
            // Shards are files in this directory: a name with a path in it ("../x", "/dev/zero") would make an
            // index from the internet open files elsewhere (or block on a FIFO).
            for (name, shard) in weightMap where !Self.isPlainFileName(shard) {
                throw WeightsError.indexMismatch(
                    path: indexURL.path, detail: "tensor '\(name)' names shard \"\(shard)\", which is not a file name in the directory")
            }
            for shard in Set(weightMap.values).sorted() {
                let file = try SafetensorsFile(path: directory.appendingPathComponent(shard).path)
                byShard[shard] = file
                opened.append(file)
            }
            for (name, shard) in weightMap.sorted(by: { $0.key < $1.key }) {
                guard let file = byShard[shard], file.tensor(name) != nil else {
                    problems.append("'\(name)' is mapped to \(shard) but that shard does not contain it")
                    continue
                }
                map[name] = file
            }
            // Tensors present in shards but absent from the index are still loadable; include them.
            for file in opened { for name in file.tensorNames where map[name] == nil { map[name] = file } }
            if !problems.isEmpty {
                throw WeightsError.indexMismatch(path: indexURL.path, detail: problems.joined(separator: "; "))
            }
        } else if fm.fileExists(atPath: single.path) {
            let file = try SafetensorsFile(path: single.path)
            opened = [file]
            for name in file.tensorNames { map[name] = file }
        } else {
            let shards = ((try? fm.contentsOfDirectory(atPath: directory.path)) ?? [])
                .filter { $0.hasSuffix(".safetensors") }.sorted()
            guard !shards.isEmpty else { throw WeightsError.noWeights(directory: directory.path) }
            for shard in shards {
                let file = try SafetensorsFile(path: directory.appendingPathComponent(shard).path)
                opened.append(file)
                for name in file.tensorNames { map[name] = file }
            }
        }
        files = opened
        index = map
    }

    /// True for a non-empty name without a path separator, NUL, or the special names "." and "..".
    static func isPlainFileName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("\\")
            && !name.utf8.contains(0)
    }

    public var tensorNames: [String] { index.keys.sorted() }
    public func tensor(_ name: String) -> TensorInfo? { index[name]?.tensor(name) }
    public var totalBytes: Int { files.reduce(0) { $0 + $1.totalBytes } }
}
