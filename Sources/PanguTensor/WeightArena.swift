// Load-time weight preparation: matrices whose format has a faster in-memory layout (RowInterleave, FloatInterleave)
// are copied into it once, and the file pages they came from are handed back to the kernel, so resident memory stays
// at about one copy of the weights (not the file plus the repacked copy).
//
// Load time (Docs/Performance.md, "Loading"): the copy is cut into ~1 MiB chunks that all pool threads take from a
// shared counter; each thread first populates its chunk's fresh pages in one call (`MADV_POPULATE_WRITE`, no
// fault per page) and then fills them, and releases the source pages it has read. The kernel's zero-filling of
// new anonymous pages is most of the cost, so it runs on every thread, and without `MADV_HUGEPAGE`: zeroing 2 MB
// pages measured twice the kernel time of 4 KiB ones on the development VM, and streaming reads were the same.
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

    /// Whether bf16/f16 matrices are repacked too (`PANGU_REPACK_FLOAT=0` keeps them row-major while quantised
    /// matrices are still repacked, to compare the two float decode kernels in one build).
    public static var floatRepackEnabled: Bool {
        if let s = getenv("PANGU_REPACK_FLOAT"), String(cString: s) == "0" { return false }
        return true
    }

    /// Whether `MADV_HUGEPAGE` is requested for repacked copies (`PANGU_HUGEPAGES=1`; off by default, see above).
    public static var hugePagesEnabled: Bool {
        if let s = getenv("PANGU_HUGEPAGES"), String(cString: s) == "1" { return true }
        return false
    }

    /// Whether `prepare` would repack a matrix of this type and shape ([rows, cols]) into a new copy. Loaders use it
    /// to skip prefaulting such tensors: the repack reads them anyway, on every thread.
    public static func willRepack(_ dtype: DType, shape: [Int]) -> Bool {
        guard repackEnabled, shape.count == 2 else { return false }
        return (floatRepackEnabled && FloatInterleave.supports(dtype, rows: shape[0], k: shape[1]))
            || RowInterleave.supports(dtype, rows: shape[0], k: shape[1])
    }

    /// Destination bytes per work item of a repack: large enough to amortise the system calls, small enough that
    /// both threads share even the smaller matrices (k/v projections) and the source is released promptly.
    static let chunkBytes = 1 << 20

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
        let float = Self.floatRepackEnabled && FloatInterleave.supports(w.dtype, rows: w.rows, k: w.cols)
        guard float || RowInterleave.supports(w.dtype, rows: w.rows, k: w.cols) else { return w }
        let bytes = float ? FloatInterleave.packedBytes(rows: w.rows, k: w.cols) : w.byteCount
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let mapped = (bytes + page - 1) / page * page
        guard let raw = mmap(nil, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              raw != MAP_FAILED else { return w }  // out of address space: the row-major kernels still work
        #if os(Linux)
        if Self.hugePagesEnabled { _ = madvise(raw, mapped, MADV_HUGEPAGE) }
        #endif
        let groups = (w.rows + 7) / 8, rowBytes = w.rowBytes
        let groupBytes = bytes / groups  // destination bytes per group (exact for both layouts)
        let perChunk = max(1, Self.chunkBytes / groupBytes)
        pool.parallelFor(chunks: (groups + perChunk - 1) / perChunk) { c in
            let chunk = (c * perChunk)..<min(groups, (c + 1) * perChunk)
            // The destination bytes of these groups, populated by this thread before it writes them.
            Self.populate(raw + chunk.lowerBound * groupBytes, bytes: chunk.count * groupBytes, pageSize: page)
            if float {
                FloatInterleave.pack(w, groups: chunk, into: raw)
            } else {
                RowInterleave.packFast(w, groups: chunk, into: raw)
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

    /// Maps fresh zeroed pages for [p, p + bytes) (rounded out to pages) in one call instead of one fault per page.
    /// Best effort: on kernels without `MADV_POPULATE_WRITE` (before Linux 5.14) the writes fault them in instead.
    static func populate(_ p: UnsafeMutableRawPointer, bytes: Int, pageSize: Int) {
        #if os(Linux)
        let start = UInt(bitPattern: p) / UInt(pageSize) * UInt(pageSize)
        let end = (UInt(bitPattern: p) + UInt(bytes) + UInt(pageSize) - 1) / UInt(pageSize) * UInt(pageSize)
        guard end > start, let base = UnsafeMutableRawPointer(bitPattern: start) else { return }
        _ = madvise(base, Int(end - start), 23)  // MADV_POPULATE_WRITE (not in every Glibc's headers)
        #endif
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
