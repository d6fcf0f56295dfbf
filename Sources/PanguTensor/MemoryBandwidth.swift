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
        buffer.initialize(repeating: SIMD8<Float>(repeating: 1), count: count)  // fault every page in first
        let chunks = pool.threadCount * 16
        let per = (count + chunks - 1) / chunks
        var rates: [Double] = []
        let sums = UnsafeMutablePointer<Float>.allocate(capacity: chunks)
        defer { sums.deallocate() }
        for _ in 0..<repetitions {
            let start = monotonicNanoseconds()
            pool.parallelFor(chunks: chunks) { c in
                let lo = c * per, hi = min(count, lo + per)
                var a = SIMD8<Float>(), b = SIMD8<Float>(), d = SIMD8<Float>(), e = SIMD8<Float>()
                var i = lo
                while i + 4 <= hi {
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

/// Nanoseconds from a monotonic clock.
public func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Peak resident set size of this process in bytes.
public func peakResidentBytes() -> Int {
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
