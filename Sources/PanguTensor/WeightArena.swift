// Load-time weight preparation: matrices whose format has a faster in-memory layout (RowInterleave) are copied
// into it once, and the file pages they came from are handed back to the kernel, so resident memory stays at
// about one copy of the weights (not the file plus the repacked copy).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Owns the memory of repacked weight matrices; keep it alive as long as the matrices it returned.
public final class WeightArena: @unchecked Sendable {
    private var regions: [(pointer: UnsafeMutableRawPointer, bytes: Int)] = []
    private var owned: [UnsafeMutableRawPointer] = []

    /// Whether repacking is on: `PANGU_REPACK=0` keeps every matrix in the file's layout (for comparisons).
    public static var repackEnabled: Bool {
        if let s = getenv("PANGU_REPACK"), String(cString: s) == "0" { return false }
        return true
    }

    /// Bytes held in repacked copies.
    public private(set) var repackedBytes = 0

    /// Creates an empty arena.
    public init() {}

    /// `w` in the fastest layout for the matmul kernels: an interleaved copy for q8_0/q4_0/q4_K/q6_K (rows a multiple
    /// of 8; `RowInterleave`) and bf16/f16 (`FloatInterleave`), otherwise `w` itself. With `releaseSource`, the
    /// source's whole pages are dropped from this process's resident set afterwards; only pass it for read-only file
    /// mappings (they are re-read from the file if touched again), never for anonymous memory, whose contents
    /// `MADV_DONTNEED` would discard.
    public func prepare(_ w: WeightMatrix, releaseSource: Bool, pool: ThreadPool = .shared) -> WeightMatrix {
        guard Self.repackEnabled, w.layout == .rowMajor else { return w }
        let float = FloatInterleave.supports(w.dtype, rows: w.rows, k: w.cols)
        guard float || RowInterleave.supports(w.dtype, rows: w.rows, k: w.cols) else { return w }
        let bytes = float ? FloatInterleave.packedBytes(rows: w.rows, k: w.cols) : w.byteCount
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let mapped = (bytes + page - 1) / page * page
        guard let raw = mmap(nil, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              raw != MAP_FAILED else { return w }  // out of address space: the row-major kernels still work
        #if os(Linux)
        _ = madvise(raw, mapped, MADV_HUGEPAGE)   // fewer TLB misses while streaming; harmless if unsupported
        #endif
        let groups = (w.rows + 7) / 8, rowBytes = w.rowBytes
        let perChunk = 64
        pool.parallelFor(chunks: (groups + perChunk - 1) / perChunk) { c in
            let chunk = (c * perChunk)..<min(groups, (c + 1) * perChunk)
            if float {
                FloatInterleave.pack(w, groups: chunk, into: raw)
            } else {
                RowInterleave.pack(w, groups: chunk, into: raw)
            }
            // Released chunk by chunk, so the peak is one copy plus a few chunks even for the largest tensor.
            if releaseSource {
                let firstRow = 8 * chunk.lowerBound, endRow = min(w.rows, 8 * chunk.upperBound)
                Self.releasePages(w.data + firstRow * rowBytes, bytes: (endRow - firstRow) * rowBytes, pageSize: page)
            }
        }
        regions.append((raw, mapped))
        repackedBytes += bytes
        return WeightMatrix(rows: w.rows, cols: w.cols, dtype: w.dtype, data: UnsafeRawPointer(raw), layout: .interleaved8)
    }

    /// A copy of `v` widened to f32 in memory the arena owns. Small vectors (biases) are copied so that no file
    /// page is touched after loading: touching one would map back the released pages around it (the kernel maps
    /// whole page-cache folios on a fault).
    public func copy(_ v: WeightVector) -> WeightVector {
        let bytes = max(4, v.count * 4)
        let p = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        for i in 0..<v.count { p.storeBytes(of: v[i], toByteOffset: 4 * i, as: Float.self) }
        owned.append(p)
        return WeightVector(count: v.count, dtype: .f32, data: UnsafeRawPointer(p))
    }

    /// Drops the whole pages inside [p, p + bytes) of a file mapping from the resident set.
    static func releasePages(_ p: UnsafeRawPointer, bytes: Int, pageSize: Int) {
        let start = (UInt(bitPattern: p) + UInt(pageSize) - 1) / UInt(pageSize) * UInt(pageSize)
        let end = (UInt(bitPattern: p) + UInt(bytes)) / UInt(pageSize) * UInt(pageSize)
        guard end > start, let base = UnsafeMutableRawPointer(bitPattern: start) else { return }
        _ = madvise(base, Int(end - start), MADV_DONTNEED)
    }

    deinit {
        for r in regions { munmap(r.pointer, r.bytes) }
        for p in owned { p.deallocate() }
    }
}
