// Measures the machine's memory read bandwidth with the same thread pool the kernels use, so benchmarks can
// report decode speed as a fraction of the roofline (bytes per token ÷ bandwidth) measured in the same run.

/// Memory read bandwidth probe.
public enum MemoryBandwidth {
    /// Last checksum of the probe (read by nobody; it exists so the summed loads are not dead code).
    nonisolated(unsafe) public static var sink: Float = 0

    /// Median read bandwidth in bytes/s over `repetitions` passes through a buffer of `bytes` (well above cache
    /// sizes). The median, not the best: a single lucky pass would make every roofline fraction look worse.
    public static func measure(bytes: Int = 1 << 30, repetitions: Int = 5, pool: ThreadPool = .shared) -> Double {
        let count = bytes / 32
        let buffer = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: count)
        defer { buffer.deallocate() }
        // Fault every page in first, with distinct contents per page: identical pages could be merged or
        // compressed by the host and read back faster than DRAM allows.
        for i in 0..<count { (buffer + i).initialize(to: SIMD8<Float>(repeating: Float(i & 0xFFFFF))) }
        let chunks = pool.threadCount * 16
        let per = (count + chunks - 1) / chunks
        var rates: [Double] = []
        let pf = Prefetch.distance  // the decode kernels prefetch too: the roofline is what a prefetching stream gets
        let sums = UnsafeMutablePointer<Float>.allocate(capacity: chunks)
        defer { sums.deallocate() }
        for _ in 0..<repetitions {
            let start = monotonicNanoseconds()
            pool.parallelFor(chunks: chunks) { c in
                let lo = c * per, hi = min(count, lo + per)
                var a = SIMD8<Float>(), b = SIMD8<Float>(), d = SIMD8<Float>(), e = SIMD8<Float>()
                var i = lo
                while i + 4 <= hi {
                    Prefetch.ahead(buffer + i, bytes: 128, distance: pf)
                    a += buffer[i]; b += buffer[i + 1]; d += buffer[i + 2]; e += buffer[i + 3]
                    i += 4
                }
                while i < hi { a += buffer[i]; i += 1 }
                sums[c] = (a + b + d + e).sum()
            }
            let seconds = Double(monotonicNanoseconds() - start) / 1e9
            rates.append(Double(count * 32) / seconds)
            var total: Float = 0
            for c in 0..<chunks { total += sums[c] }
            sink = total  // keeps the reads observable so the optimiser cannot drop them
        }
        return rates.sorted()[rates.count / 2]
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Resets the peak-RSS counter (Linux `/proc/self/clear_refs` = 5), so a measurement tool's own buffers do not count.
public func resetPeakResidentBytes() {
    #if os(Linux)
    try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    #endif
}

/// Nanoseconds from a monotonic clock.
public func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Peak resident set size of this process in bytes (Linux: VmHWM, which `resetPeakResidentBytes` can reset).
public func peakResidentBytes() -> Int {
    #if os(Linux)
    if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
       let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
       let kb = Int(line.split(separator: " ").dropFirst().first ?? "") {
        return kb * 1024
    }
    #endif
    var usage = rusage()
    #if os(Linux)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    #else
    getrusage(RUSAGE_SELF, &usage)
    #endif
    #if os(Linux)
    return usage.ru_maxrss * 1024
    #else
    return usage.ru_maxrss
    #endif
}
