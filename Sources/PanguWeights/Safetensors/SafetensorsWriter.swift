// Streaming safetensors writer: the header is computed up front from the tensor list, then tensor bytes are
// appended in order, so multi-gigabyte checkpoints are written without holding them in memory.
import Foundation
import PanguTensor

/// Writes one `.safetensors` file tensor by tensor.
public final class SafetensorsWriter {
    /// Name, dtype and shape of a tensor to be written.
    public struct Entry: Sendable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        /// Creates an entry.
        public init(name: String, dtype: DType, shape: [Int]) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
        }
        /// Bytes of data.
        public var byteCount: Int { shape.reduce(1, *) * dtype.bytesPerBlock }
    }

    private let handle: FileHandle
    private let path: String
    private var pending: [Entry]

    /// Creates `path` and writes the header for `entries` (data must follow in the same order via `append`).
    public init(path: String, entries: [Entry], metadata: [String: String] = ["format": "pt"]) throws {
        self.path = path
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let h = FileHandle(forWritingAtPath: path)
        else { throw WeightsError.writeFailed(path: path, reason: "cannot create file") }
        handle = h
        pending = entries
        var parts: [String] = []
        if !metadata.isEmpty {
            let m = metadata.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)):\(jsonString($0.value))" }
            parts.append("\"__metadata__\":{\(m.joined(separator: ","))}")
        }
        var offset = 0
        for e in entries {
            guard let dt = SafetensorsFile.name(of: e.dtype) else {
                throw WeightsError.writeFailed(path: path, reason: "dtype \(e.dtype) cannot be stored in safetensors")
            }
            let shape = e.shape.map(String.init).joined(separator: ",")
            parts.append("\(jsonString(e.name)):{\"dtype\":\"\(dt)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + e.byteCount)]}")
            offset += e.byteCount
        }
        var header = Array("{\(parts.joined(separator: ","))}".utf8)
        while header.count % 8 != 0 { header.append(0x20) }  // pad with spaces so data starts 8-aligned
        var length = UInt64(header.count).littleEndian
        handle.write(Data(bytes: &length, count: 8))
        handle.write(Data(header))
        while let next = pending.first, next.byteCount == 0 { pending.removeFirst() }
    }

    /// Appends data in declaration order. A tensor's bytes may come in several pieces; a piece never spans two
    /// tensors.
    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard let e = pending.first else {
            throw WeightsError.writeFailed(path: path, reason: "more data than the declared tensors hold")
        }
        let remaining = e.byteCount - writtenOfCurrent
        guard bytes.count <= remaining else {
            throw WeightsError.writeFailed(
                path: path, reason: "tensor '\(e.name)' needs \(remaining) more bytes, got \(bytes.count)")
        }
        handle.write(Data(bytes))
        writtenOfCurrent += bytes.count
        if writtenOfCurrent == e.byteCount {
            pending.removeFirst()
            writtenOfCurrent = 0
            // Zero-size tensors that follow need no data.
            while let next = pending.first, next.byteCount == 0 { pending.removeFirst() }
        }
    }

    private var writtenOfCurrent = 0

    /// Finishes the file; throws if some declared tensors were never written.
    public func close() throws {
        try handle.close()
        guard pending.isEmpty else {
            throw WeightsError.writeFailed(path: path, reason: "\(pending.count) declared tensors were not written")
        }
    }
}

private func jsonString(_ s: String) -> String {
    let data = try! JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])
    let text = String(decoding: data, as: UTF8.self)
    return String(text.dropFirst().dropLast())
}
