// tokenizer-bench: encodes every line of a corpus file with a SentencePiece model and reports throughput.
// Usage: tokenizer-bench <tokenizer.model> <corpus.txt> [repeats]
// Prints MB/s (best of `repeats`, measured in process CPU time so that other processes on a shared machine
// distort it less), the token count and an FNV-1a checksum of all ids (to compare with Python).
import Foundation
import PanguTokenizer

/// CPU time of the process in seconds.
func threadCPUTime() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

let args = CommandLine.arguments
guard args.count >= 3 else {
    FileHandle.standardError.write("usage: tokenizer-bench <tokenizer.model> <corpus.txt> [repeats]\n".data(using: .utf8)!)
    exit(2)
}
do {
    let loadStart = DispatchTime.now().uptimeNanoseconds
    let sp = try SentencePieceProcessor(contentsOf: URL(fileURLWithPath: args[1]))
    let loadMs = Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1e6
    print(String(format: "load: %.1f ms for %d pieces", loadMs, sp.vocabularySize))
    let text = try String(contentsOfFile: args[2], encoding: .utf8)
    // Split on the byte 0x0A (a Character split would keep "\r\n" together).
    let lines = text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    let bytes = lines.reduce(0) { $0 + $1.utf8.count }
    let repeats = args.count > 3 ? Int(args[3]) ?? 3 : 3
    var best = Double.infinity
    var tokens = 0
    var checksum: UInt64 = 0xcbf2_9ce4_8422_2325
    for r in 0..<repeats {
        let t0 = threadCPUTime()
        var n = 0
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for line in lines {
            let ids = sp.encode(line)
            n += ids.count
            if r == 0 { for id in ids { h = (h ^ UInt64(id)) &* 0x100_0000_01b3 } }
        }
        let dt = threadCPUTime() - t0
        best = min(best, dt)
        tokens = n
        if r == 0 { checksum = h }
    }
    let mbps = Double(bytes) / 1e6 / best
    print(String(format: "swift: %.2f MB/s (%d bytes, %d lines, %d tokens, best of %d: %.3f s) checksum %016llx",
                 mbps, bytes, lines.count, tokens, repeats, best, checksum))
} catch {
    FileHandle.standardError.write("error: \(error)\n".data(using: .utf8)!)
    exit(1)
}
