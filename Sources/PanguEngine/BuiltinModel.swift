// The built-in demo model: a tiny random-weight checkpoint written on first use into the user's cache
// directory, so every command works before a 16 GB download.
import Foundation
import PanguTensor

/// Locates (and creates on first use) the built-in tiny model.
public enum BuiltinModel {
    /// Version tag: bump when the preset or writer changes so stale caches are rebuilt.
    static let version = "tiny-v2"

    /// The directory of the built-in model, creating it if needed.
    public static func directory() throws -> URL {
        let env = ProcessInfo.processInfo.environment
        let base = env["PANGU_CACHE"].map { URL(fileURLWithPath: $0) }
            ?? env["XDG_CACHE_HOME"].map { URL(fileURLWithPath: $0).appendingPathComponent("pangu") }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/pangu")
        let dir = base.appendingPathComponent(version)
        if !FileManager.default.fileExists(atPath: dir.appendingPathComponent("config.json").path) {
            // Write into a temporary sibling and rename, so a concurrent or interrupted run never sees half a model.
            let tmp = base.appendingPathComponent("\(version).tmp-\(getpid())")
            try TestCheckpointWriter.write(.tiny, dtype: .bf16, seed: 1, to: tmp)
            try? FileManager.default.removeItem(at: dir)
            try FileManager.default.moveItem(at: tmp, to: dir)
        }
        return dir
    }
}
