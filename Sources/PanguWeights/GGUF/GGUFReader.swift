// Memory-mapped GGUF (v2, v3) reader with full validation: every read is bounds-checked and every count is
// checked against the bytes that remain, so corrupt input throws a `GGUFError` instead of crashing.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PanguTensor

/// A tensor view into a GGUF file: raw data pointer, element type and shape.
public struct GGUFTensor {
    /// Start of the tensor data (alignment is `general.alignment` relative to the file start; use unaligned loads).
    public let data: UnsafeRawPointer
    /// Element type of the data.
    public let dtype: DType
    /// Dimensions in GGUF order ne0, ne1, … (ne0 is contiguous: a matrix of `ne1` rows of `ne0` values).
    public let dims: [Int]
    /// Number of bytes at `data`.
    public let byteCount: Int
}

/// A parsed GGUF file. The file is memory-mapped read-only for the lifetime of the object.
public final class GGUFFile: @unchecked Sendable {
    /// GGUF format version (2 or 3).
    public let version: UInt32
    /// Metadata key-value pairs.
    public let metadata: [String: GGUFValue]
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    /// Tensor descriptions in file order.
    public let tensors: [GGUFTensorInfo]
    /// Data alignment (`general.alignment`, default 32).
    public let alignment: Int
    /// Absolute file offset of the tensor data section.
    public let dataOffset: Int
    /// Total file size in bytes.
    public let fileSize: Int

    private let base: UnsafeRawPointer
    private let release: () -> Void
    private let index: [String: Int]

    /// Memory-maps and parses the GGUF file at `path`. `willNeed` asks the kernel to read ahead (MADV_WILLNEED).
    public convenience init(path: String, willNeed: Bool = false) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw GGUFError.cannotOpen(path: path, errno: errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw GGUFError.cannotOpen(path: path, errno: errno) }
        let size = Int(st.st_size)
        guard size >= 8 else { throw GGUFError.truncated(what: "header", offset: 0, needed: 24, fileSize: size) }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw GGUFError.cannotOpen(path: path, errno: errno)
        }
        if willNeed { _ = madvise(p, size, MADV_WILLNEED) }
        try self.init(base: UnsafeRawPointer(p), size: size) { munmap(p, size) }
    }

    /// Parses a GGUF image held in memory (the bytes are copied).
    public convenience init(bytes: [UInt8]) throws {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 64)
        bytes.withUnsafeBytes { if let b = $0.baseAddress { p.copyMemory(from: b, byteCount: bytes.count) } }
        try self.init(base: UnsafeRawPointer(p), size: bytes.count) { p.deallocate() }
    }

    private init(base: UnsafeRawPointer, size: Int, release: @escaping () -> Void) throws {
        var c = Cursor(base: base, size: size)
        do {
            let magic = try c.bytes(4, "magic")
            guard magic == [0x47, 0x47, 0x55, 0x46] else { throw GGUFError.badMagic(found: magic) }
            let version = try c.u32("version")
            guard version == 2 || version == 3 else { throw GGUFError.unsupportedVersion(version) }
            let nTensors = try c.u64("tensor count"), nKV = try c.u64("metadata count")
            // Each tensor info needs ≥ 8+4+4+8 bytes, each key-value ≥ 8+4+1.
            guard nTensors <= UInt64(GGUFLimits.maxTensors) else {
                throw GGUFError.limitExceeded(what: "tensor count", value: nTensors, limit: GGUFLimits.maxTensors)
            }
            guard nKV <= UInt64(GGUFLimits.maxMetadataEntries) else {
                throw GGUFError.limitExceeded(what: "metadata count", value: nKV, limit: GGUFLimits.maxMetadataEntries)
            }
            guard nTensors <= UInt64(c.remaining / 24) else { throw GGUFError.countTooLarge(what: "tensor", count: nTensors) }
            guard nKV <= UInt64(c.remaining / 13) else { throw GGUFError.countTooLarge(what: "metadata", count: nKV) }
            var md = [String: GGUFValue](), keys = [String]()
            for _ in 0..<Int(nKV) {
                let key = try c.string("metadata key")
                let raw = try c.u32("type of '\(key)'")
                guard let t = GGUFValueType(rawValue: raw) else { throw GGUFError.invalidValueType(key: key, rawType: raw) }
                c.arrayElements = 0
                let v = try c.value(t, key: key, depth: 0)
                guard md[key] == nil else { throw GGUFError.duplicateKey(key) }
                md[key] = v; keys.append(key)
            }
            var alignment = 32
            if let a = md["general.alignment"] {
                guard let ai = a.intValue, ai > 0, ai & (ai - 1) == 0, ai <= 1 << 30 else {
                    throw GGUFError.badAlignment(UInt64(truncatingIfNeeded: a.intValue ?? 0))
                }
                alignment = ai
            }
            var infos = [GGUFTensorInfo](), idx = [String: Int]()
            var raws = [(String, [UInt64], UInt32, UInt64)]()
            for _ in 0..<Int(nTensors) {
                let name = try c.string("tensor name")
                let nd = try c.u32("dims of '\(name)'")
                guard nd >= 1 && nd <= 4 else { throw GGUFError.badTensorShape(tensor: name, dims: []) }
                var dims = [UInt64]()
                for _ in 0..<nd { dims.append(try c.u64("dims of '\(name)'")) }
                let type = try c.u32("type of '\(name)'")
                let off = try c.u64("offset of '\(name)'")
                raws.append((name, dims, type, off))
            }
            let dataStart = (c.pos + alignment - 1) / alignment * alignment
            guard dataStart <= size else {
                throw GGUFError.truncated(what: "data section", offset: c.pos, needed: dataStart - c.pos, fileSize: size)
            }
            let dataSize = size - dataStart
            for (name, dims, type, off) in raws {
                guard let g = GGMLType.table[type] else { throw GGUFError.unknownTensorType(tensor: name, typeID: type) }
                var n: UInt64 = 1
                for d in dims {
                    guard d < (1 << 62) else { throw GGUFError.badTensorShape(tensor: name, dims: dims) }
                    let (m, o) = n.multipliedReportingOverflow(by: d)
                    guard !o, m < (1 << 62) else { throw GGUFError.badTensorShape(tensor: name, dims: dims) }
                    n = m
                }
                guard dims[0] % UInt64(g.blockSize) == 0 else { throw GGUFError.badTensorShape(tensor: name, dims: dims) }
                let (bytes, o2) = (n / UInt64(g.blockSize)).multipliedReportingOverflow(by: UInt64(g.bytesPerBlock))
                guard !o2, bytes < (1 << 62) else { throw GGUFError.badTensorShape(tensor: name, dims: dims) }
                guard off % UInt64(alignment) == 0 else {
                    throw GGUFError.misalignedTensor(tensor: name, offset: off, alignment: alignment)
                }
                guard off <= UInt64(dataSize), bytes <= UInt64(dataSize) - off else {
                    throw GGUFError.tensorOutOfBounds(tensor: name, offset: Int(clamping: off), size: Int(bytes), dataSize: dataSize)
                }
                guard idx[name] == nil else { throw GGUFError.duplicateTensor(name) }
                idx[name] = infos.count
                infos.append(GGUFTensorInfo(name: name, dims: dims.map { Int($0) }, ggmlType: type,
                                            dtype: GGMLType.dtype(forID: type), offset: Int(off), byteCount: Int(bytes)))
            }
            self.version = version; self.metadata = md; self.metadataKeys = keys; self.tensors = infos
            self.alignment = alignment; self.dataOffset = dataStart; self.fileSize = size
            self.base = base; self.release = release; self.index = idx
        } catch {
            release()
            throw error
        }
    }

    deinit { release() }

    /// The info of the tensor called `name`, if present.
    public func info(_ name: String) -> GGUFTensorInfo? { index[name].map { tensors[$0] } }

    /// Raw data pointer of a tensor described by this file.
    public func data(of info: GGUFTensorInfo) -> UnsafeRawPointer { base + dataOffset + info.offset }

    /// Pointer, `DType` and shape of the tensor called `name`; throws if it is absent or of a type Pangu lacks.
    public func tensor(_ name: String) throws -> GGUFTensor {
        guard let i = info(name) else { throw GGUFError.noSuchTensor(name) }
        guard let dt = i.dtype else { throw GGUFError.unsupportedTensorType(tensor: name, typeName: i.typeName) }
        return GGUFTensor(data: data(of: i), dtype: dt, dims: i.dims, byteCount: i.byteCount)
    }

    /// Metadata value for `key`.
    public subscript(key: String) -> GGUFValue? { metadata[key] }

    /// `general.architecture`, e.g. "pangu-embedded".
    public var architecture: String? { metadata["general.architecture"]?.stringValue }
}

/// Bounds-checked little-endian reader over the mapped bytes.
struct Cursor {
    let base: UnsafeRawPointer
    let size: Int
    var pos = 0
    var remaining: Int { size - pos }
    /// Array elements read for the current metadata value (reset per key by the caller).
    var arrayElements = 0

    init(base: UnsafeRawPointer, size: Int) { self.base = base; self.size = size }

    mutating func need(_ n: Int, _ what: String) throws {
        guard n >= 0, n <= size - pos else { throw GGUFError.truncated(what: what, offset: pos, needed: n, fileSize: size) }
    }
    mutating func load<T: FixedWidthInteger>(_: T.Type, _ what: String) throws -> T {
        try need(MemoryLayout<T>.size, what)
        defer { pos += MemoryLayout<T>.size }
        return T(littleEndian: base.loadUnaligned(fromByteOffset: pos, as: T.self))
    }
    mutating func u32(_ what: String) throws -> UInt32 { try load(UInt32.self, what) }
    mutating func u64(_ what: String) throws -> UInt64 { try load(UInt64.self, what) }
    mutating func bytes(_ n: Int, _ what: String) throws -> [UInt8] {
        try need(n, what)
        defer { pos += n }
        return [UInt8](UnsafeRawBufferPointer(start: base + pos, count: n))
    }
    mutating func string(_ what: String) throws -> String {
        let n = try u64("length of \(what)")
        guard n <= UInt64(GGUFLimits.maxStringBytes) else {
            throw GGUFError.limitExceeded(what: "length of \(what) at offset \(pos - 8)", value: n, limit: GGUFLimits.maxStringBytes)
        }
        guard n <= UInt64(remaining) else { throw GGUFError.truncated(what: what, offset: pos, needed: Int(clamping: n), fileSize: size) }
        let start = pos
        let buf = UnsafeRawBufferPointer(start: base + pos, count: Int(n))
        pos += Int(n)
        guard let s = String(validating: buf.bindMemory(to: UInt8.self), as: UTF8.self) else {
            throw GGUFError.invalidUTF8(what: what, offset: start)
        }
        return s
    }

    mutating func value(_ t: GGUFValueType, key: String, depth: Int) throws -> GGUFValue {
        let w = "value of '\(key)'"
        switch t {
        case .uint8: return .uint8(try load(UInt8.self, w))
        case .int8: return .int8(try load(Int8.self, w))
        case .uint16: return .uint16(try load(UInt16.self, w))
        case .int16: return .int16(try load(Int16.self, w))
        case .uint32: return .uint32(try load(UInt32.self, w))
        case .int32: return .int32(try load(Int32.self, w))
        case .uint64: return .uint64(try load(UInt64.self, w))
        case .int64: return .int64(try load(Int64.self, w))
        case .float32: return .float32(Float(bitPattern: try load(UInt32.self, w)))
        case .float64: return .float64(Double(bitPattern: try load(UInt64.self, w)))
        case .bool: return .bool(try load(UInt8.self, w) != 0)
        case .string: return .string(try string(w))
        case .array:
            let raw = try u32("array type of '\(key)'")
            guard let et = GGUFValueType(rawValue: raw), depth < 4 else {
                throw GGUFError.invalidValueType(key: key, rawType: raw)
            }
            let n = try u64("array length of '\(key)'")
            let minSize = UInt64(et.scalarSize ?? (et == .string ? 8 : 12))
            guard n <= UInt64(remaining) / minSize else { throw GGUFError.countTooLarge(what: "array '\(key)'", count: n) }
            // Nested arrays count against one budget per top-level value.
            arrayElements += Int(n)
            guard arrayElements <= GGUFLimits.maxArrayElements else {
                throw GGUFError.limitExceeded(what: "element count of array '\(key)'", value: UInt64(arrayElements),
                                              limit: GGUFLimits.maxArrayElements)
            }
            var a = [GGUFValue]()
            a.reserveCapacity(Int(n))
            for _ in 0..<Int(n) { a.append(try value(et, key: key, depth: depth + 1)) }
            return .array(et, a)
        }
    }
}
