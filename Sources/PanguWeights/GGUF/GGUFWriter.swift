// Streaming GGUF v3 writer: declare metadata and tensor infos, write the header, then stream each tensor's
// bytes in declaration order; data is padded so every tensor starts at a multiple of the alignment.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PanguTensor

/// Writes GGUF v3 files that llama.cpp and the `gguf` Python package can load.
///
/// Usage: `set` metadata and `addTensor` infos, `writeHeader()`, then `writeTensorData` once per tensor in the
/// order they were added, then `finish()`. Only one tensor needs to be in memory at a time.
public final class GGUFWriter {
    /// Output path.
    public let path: String
    /// Data alignment; values other than 32 are recorded as `general.alignment`.
    public let alignment: Int
    private var file: UnsafeMutablePointer<FILE>?
    private var keys = [String](), values = [String: GGUFValue]()
    private var infos = [GGUFTensorInfo]()
    private var dataSize = 0
    private var headerWritten = false
    private var nextTensor = 0
    private var written = 0

    /// Creates (truncates) the file at `path`.
    public init(path: String, alignment: Int = 32) throws {
        guard alignment > 0, alignment & (alignment - 1) == 0 else { throw GGUFError.badAlignment(UInt64(alignment)) }
        guard let f = fopen(path, "wb") else { throw GGUFError.cannotOpen(path: path, errno: errno) }
        setvbuf(f, nil, _IOFBF, 1 << 20)
        self.path = path; self.alignment = alignment; self.file = f
        if alignment != 32 { set("general.alignment", .uint32(UInt32(alignment))) }
    }

    deinit { if let f = file { fclose(f) } }

    /// Sets metadata `key` (keeps the first insertion position when replacing).
    public func set(_ key: String, _ value: GGUFValue) {
        if values[key] == nil { keys.append(key) }
        values[key] = value
    }

    /// Sets every pair in order.
    public func set(_ pairs: [(String, GGUFValue)]) { for (k, v) in pairs { set(k, v) } }

    /// Declares a tensor of `dtype` with GGUF dims (ne0 first, ne0 = contiguous row length).
    public func addTensor(name: String, dims: [Int], dtype: DType) throws {
        try addTensor(name: name, dims: dims, ggmlType: GGMLType.id(of: dtype))
    }

    /// Declares a tensor by raw ggml type id (any type in `GGMLType.table`).
    public func addTensor(name: String, dims: [Int], ggmlType: UInt32) throws {
        guard !headerWritten else { throw GGUFError.writerState("addTensor after writeHeader") }
        guard let g = GGMLType.table[ggmlType] else { throw GGUFError.unknownTensorType(tensor: name, typeID: ggmlType) }
        guard (1...4).contains(dims.count), dims.allSatisfy({ $0 >= 0 }), dims[0] % g.blockSize == 0 else {
            throw GGUFError.badTensorShape(tensor: name, dims: dims.map { UInt64(bitPattern: Int64($0)) })
        }
        guard !infos.contains(where: { $0.name == name }) else { throw GGUFError.duplicateTensor(name) }
        let n = dims.reduce(1, *), bytes = n / g.blockSize * g.bytesPerBlock
        infos.append(GGUFTensorInfo(name: name, dims: dims, ggmlType: ggmlType, dtype: GGMLType.dtype(forID: ggmlType),
                                    offset: dataSize, byteCount: bytes))
        dataSize += (bytes + alignment - 1) / alignment * alignment
    }

    /// Writes magic, version, counts, metadata and tensor infos, and pads to the data section.
    public func writeHeader() throws {
        guard !headerWritten else { throw GGUFError.writerState("writeHeader called twice") }
        for k in keys where !Self.isHomogeneous(values[k]!) {
            throw GGUFError.writerState("array '\(k)' has elements that differ from its element type")
        }
        var h = [UInt8]()
        h += [0x47, 0x47, 0x55, 0x46]
        Self.put(&h, UInt32(3)); Self.put(&h, UInt64(infos.count)); Self.put(&h, UInt64(keys.count))
        for k in keys {
            Self.putString(&h, k)
            let v = values[k]!
            Self.put(&h, v.type.rawValue)
            Self.putValue(&h, v)
        }
        for t in infos {
            Self.putString(&h, t.name)
            Self.put(&h, UInt32(t.dims.count))
            for d in t.dims { Self.put(&h, UInt64(d)) }
            Self.put(&h, t.ggmlType)
            Self.put(&h, UInt64(t.offset))
        }
        while h.count % alignment != 0 { h.append(0) }
        try raw(h)
        headerWritten = true
    }

    /// Streams bytes of the declared tensors in order. A tensor may arrive in several pieces (so a large one never
    /// has to be held in memory); a piece never spans two tensors. Padding follows each completed tensor.
    public func writeTensorData(_ bytes: UnsafeRawBufferPointer) throws {
        guard headerWritten else { throw GGUFError.writerState("writeTensorData before writeHeader") }
        guard nextTensor < infos.count else { throw GGUFError.writerState("more tensor data than declared tensors") }
        let t = infos[nextTensor]
        let remaining = t.byteCount - writtenOfCurrent
        guard bytes.count <= remaining, bytes.count > 0 || t.byteCount == 0 else {
            throw GGUFError.writerState("tensor '\(t.name)' needs \(remaining) more bytes, got \(bytes.count)")
        }
        if let b = bytes.baseAddress, bytes.count > 0 {
            guard fwrite(b, 1, bytes.count, file) == bytes.count else { throw GGUFError.writeFailed(path: path, errno: errno) }
        }
        writtenOfCurrent += bytes.count
        guard writtenOfCurrent == t.byteCount else { return }
        let pad = (alignment - t.byteCount % alignment) % alignment
        if pad > 0 { try raw([UInt8](repeating: 0, count: pad)) }
        nextTensor += 1
        writtenOfCurrent = 0
    }

    private var writtenOfCurrent = 0

    /// Array convenience for `writeTensorData(_:)`.
    public func writeTensorData(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try writeTensorData($0) } }

    /// Checks that every declared tensor was written, flushes and closes the file.
    public func finish() throws {
        guard headerWritten else { throw GGUFError.writerState("finish before writeHeader") }
        guard nextTensor == infos.count else {
            throw GGUFError.writerState("only \(nextTensor) of \(infos.count) tensors were written")
        }
        guard let f = file else { throw GGUFError.writerState("finish called twice") }
        file = nil
        let ok = fflush(f) == 0
        let closed = fclose(f) == 0
        guard ok && closed else { throw GGUFError.writeFailed(path: path, errno: errno) }
    }

    private func raw(_ b: [UInt8]) throws {
        guard let f = file else { throw GGUFError.writerState("file already closed") }
        let n = b.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
        guard n == b.count else { throw GGUFError.writeFailed(path: path, errno: errno) }
        written += n
    }

    static func isHomogeneous(_ v: GGUFValue) -> Bool {
        guard case .array(let et, let a) = v else { return true }
        return a.allSatisfy { $0.type == et && isHomogeneous($0) }
    }

    static func put<T: FixedWidthInteger>(_ h: inout [UInt8], _ v: T) {
        withUnsafeBytes(of: v.littleEndian) { h += $0 }
    }
    static func putString(_ h: inout [UInt8], _ s: String) {
        let u = Array(s.utf8)
        put(&h, UInt64(u.count)); h += u
    }
    static func putValue(_ h: inout [UInt8], _ v: GGUFValue) {
        switch v {
        case .uint8(let x): put(&h, x)
        case .int8(let x): put(&h, x)
        case .uint16(let x): put(&h, x)
        case .int16(let x): put(&h, x)
        case .uint32(let x): put(&h, x)
        case .int32(let x): put(&h, x)
        case .uint64(let x): put(&h, x)
        case .int64(let x): put(&h, x)
        case .float32(let x): put(&h, x.bitPattern)
        case .float64(let x): put(&h, x.bitPattern)
        case .bool(let x): h.append(x ? 1 : 0)
        case .string(let s): putString(&h, s)
        case .array(let et, let a):
            put(&h, et.rawValue); put(&h, UInt64(a.count))
            for e in a { putValue(&h, e) }
        }
    }
}
