// Software prefetch for the weight streams of the decode kernels.
//
// Why: a decode step reads every weight once, as a few long sequential streams per thread. On the Xeon host the
// hardware prefetcher alone kept too few lines in flight per core: the interleaved q4_0 kernel read 4096 × 4096
// weights from DRAM at 15.5 GB/s against the bandwidth probe's ~27 GB/s. Asking for the line 4 KiB ahead of each
// stream raised that to 24 GB/s (q8_0 19 → 25 GB/s) and the 7B-shaped Q4_0 model's decode from 3.7 to 5.0
// tokens/s (Docs/Performance.md). Swift has no prefetch intrinsic, hence the one-line C module `CPrefetch`.
import CPrefetch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum Prefetch {
    /// Bytes ahead of the read position: `PANGU_PREFETCH` (0 turns prefetching off, for comparisons), else 4096
    /// (2048–8192 measured within a few percent of each other; 512 gave back half the gain).
    static let distance: Int = {
        if let s = getenv("PANGU_PREFETCH"), let n = Int(String(cString: s)), n >= 0 { return n }
        return 4096
    }()

    /// Hints the lines `distance` bytes past `p`, one per 64 bytes of `bytes` (the stream's advance per step), so
    /// a stream that moves `bytes` per step has every line it will read requested `distance` bytes early.
    /// `distance` is passed in (read once per kernel call: a global's lazy-initialisation check per step costs).
    @inline(__always) static func ahead(_ p: UnsafeRawPointer, bytes: Int, distance: Int) {
        guard distance > 0 else { return }
        var o = 0
        while o < bytes {
            pangu_prefetch(p + distance + o)
            o += 64
        }
    }
}
