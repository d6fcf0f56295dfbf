// Read-only memory mapping of a whole file. Weight tensors point straight into the mapping: loading a model
// costs no copy and the kernel's page cache is shared between processes.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file mapped read-only into memory for the lifetime of this object.
public final class MappedFile: @unchecked Sendable {
    /// Path the file was opened from (for error messages).
    public let path: String
    /// First byte of the mapping.
    public let base: UnsafeRawPointer
    /// File size in bytes.
    public let size: Int

    /// Maps `path` read-only. Throws `WeightsError.cannotOpen` if the file is missing or cannot be mapped.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw WeightsError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw WeightsError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        size = Int(st.st_size)
        if size == 0 {
            // mmap of length 0 fails; an empty file is still a (truncated) file the parsers must report.
            base = UnsafeRawPointer(UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 64))
            isMapped = false
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != UnsafeMutableRawPointer(bitPattern: -1)
        else { throw WeightsError.cannotOpen(path: path, reason: "mmap failed: \(String(cString: strerror(errno)))") }
        base = UnsafeRawPointer(p)
        isMapped = true
        // Hint the kernel to read ahead: cold loads through page faults alone are 2-2.5x slower.
        _ = madvise(p, size, MADV_WILLNEED)
    }

    /// An in-memory image of a file (the bytes are copied), for parsing data that did not come from disk.
    /// `path` is only used in error messages.
    public init(bytes: [UInt8], path: String) {
        self.path = path
        size = bytes.count
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 64)
        bytes.withUnsafeBytes { if let b = $0.baseAddress { p.copyMemory(from: b, byteCount: bytes.count) } }
        base = UnsafeRawPointer(p)
        isMapped = false
    }

    private let isMapped: Bool

    deinit {
        if isMapped {
            munmap(UnsafeMutableRawPointer(mutating: base), size)
        } else {
            UnsafeMutableRawPointer(mutating: base).deallocate()
        }
    }
}
