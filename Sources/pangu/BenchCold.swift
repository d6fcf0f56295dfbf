// `pangu bench --cold`: start-up cost, i.e. what `pangu generate` spends before the first token appears.
import ArgumentParser
import Foundation
import PanguEngine
import PanguModels
import PanguRuntime
import PanguTensor

extension Bench {
    /// Times loading (mapping, prefault, repacking, tokenizer) and the first token of a short text prompt, counted
    /// from the start of the process, like a user waiting for `pangu generate`. Run it in a fresh process each time:
    /// only the first load in a process is a cold start (the page cache may still hold the file: see README).
    func runCold() throws {
        let atRun = monotonicNanoseconds()
        let beforeRun = secondsSinceProcessStart()  // process start → here (runtime start-up, argument parsing)
        func since(_ t: UInt64) -> Double { beforeRun + Double(t - atRun) / 1e9 }
        let loaded = try ModelOptions.load(path: model, quiet: true, cacheType: cacheType)
        let loadedAt = monotonicNanoseconds()
        let engine = try Engine(loaded: loaded)
        let readyAt = monotonicNanoseconds()
        let prompt = "The quick brown fox"
        let ids = engine.tokenizer.encode(prompt, addSpecialTokens: true)
        let logits = try loaded.model.forward([SequenceStep(tokens: ids, cache: loaded.model.makeCache())])[0]
        _ = Sampler.argmax(logits)
        let firstAt = monotonicNanoseconds()
        let rss = peakResidentBytes()
        let info = loaded.model.info
        if json {
            let object: [String: Any] = [
                "model": loaded.directory.path, "threads": ThreadPool.shared.threadCount,
                "process_start_s": beforeRun, "load_s": since(loadedAt), "tokenizer_s": Double(readyAt - loadedAt) / 1e9,
                "first_token_s": since(firstAt), "prompt_tokens": ids.count, "repacked_bytes": info.repackedBytes,
                "peak_rss_bytes": rss, "repack": WeightArena.repackEnabled,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("model: \(loaded.directory.path)  threads: \(ThreadPool.shared.threadCount)  repacked: "
                  + String(format: "%.1f MB", Double(info.repackedBytes) / 1e6))
            print(String(format: "process start → command: %.3f s", beforeRun))
            print(String(format: "model loaded:             %.3f s", since(loadedAt)))
            print(String(format: "tokenizer ready:          %.3f s", since(readyAt)))
            print(String(format: "first token (%d-token prompt): %.3f s", ids.count, since(firstAt)))
            print(String(format: "peak RSS %.2f GB", Double(rss) / 1e9))
        }
    }
}

/// Seconds since this process started (Linux: /proc/self/stat start time, 10 ms resolution); 0 elsewhere.
func secondsSinceProcessStart() -> Double {
    #if os(Linux)
    guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
          let uptime = try? String(contentsOfFile: "/proc/uptime", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return 0 }
    // Fields after the command name (which may contain spaces) start at field 3; start time is field 22.
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 19, let ticks = Double(fields[19]), let now = Double(uptime.split(separator: " ")[0]) else { return 0 }
    let hz = Double(sysconf(Int32(_SC_CLK_TCK)))
    return max(0, now - ticks / hz)
    #else
    return 0
    #endif
}
