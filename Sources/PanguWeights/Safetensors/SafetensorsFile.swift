// The safetensors format: an 8-byte little-endian header length N, N bytes of JSON
// {"name": {"dtype": "BF16", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
// then the data section; offsets are relative to the start of the data section.
import Foundation
import PanguTensor

/// A memory-mapped `.safetensors` file with every tensor's extent validated at open time.
public final class SafetensorsFile: TensorSource, @unchecked Sendable {
    /// The underlying mapping.
    public let file: MappedFile
    /// Free-form `__metadata__` strings.
    public let metadata: [String: String]
    private let tensors: [String: TensorInfo]

    /// Opens and validates `path`. Throws a `WeightsError` naming the file (and tensor) on any inconsistency:
    /// truncation, a header that lies about offsets, unknown dtypes, overlapping sizes.
    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    /// Validates an already mapped (or in-memory, `MappedFile(bytes:path:)`) file; errors name `file.path`.
    public init(file: MappedFile) throws {
        self.file = file
        let path = file.path
        let size = file.size
        guard size >= 8 else { throw WeightsError.truncated(path: path, detail: "\(size) bytes, no 8-byte header length") }
        let rawHeaderLength = UInt64(littleEndian: file.base.loadUnaligned(as: UInt64.self))
        guard rawHeaderLength >= 2, rawHeaderLength <= 100 << 20 else {
            throw WeightsError.malformedHeader(path: path, detail: "implausible header length \(rawHeaderLength)")
        }
        let headerLength = Int(rawHeaderLength)
        guard 8 + headerLength <= size else {
            throw WeightsError.truncated(
                path: path, detail: "header says \(headerLength) bytes of JSON but the file has \(size - 8)")
        }
        let json = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: file.base + 8), count: headerLength,
                        deallocator: .none)
        guard let root = (try? JSONSerialization.jsonObject(with: json)) as? [String: Any] else {
            throw WeightsError.malformedHeader(path: path, detail: "header is not a JSON object")
        }
        let dataStart = 8 + headerLength
        let dataSize = size - dataStart
        var meta: [String: String] = [:]
        var found: [String: TensorInfo] = [:]
        for (name, value) in root {
            if name == "__metadata__" {
                if let m = value as? [String: Any] { for (k, v) in m { meta[k] = "\(v)" } }
                continue
            }
            guard let entry = value as? [String: Any] else {
                throw WeightsError.malformedHeader(path: path, detail: "entry '\(name)' is not an object")
            }
            guard let dtypeName = entry["dtype"] as? String else {
                throw WeightsError.malformedHeader(path: path, detail: "tensor '\(name)' has no dtype")
            }
            guard let shape = entry["shape"] as? [Int], shape.allSatisfy({ $0 >= 0 }) else {
                throw WeightsError.malformedHeader(path: path, detail: "tensor '\(name)' has no valid shape")
            }
            guard let offsets = entry["data_offsets"] as? [Int], offsets.count == 2 else {
                throw WeightsError.malformedHeader(path: path, detail: "tensor '\(name)' has no valid data_offsets")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, end >= begin else {
                throw WeightsError.badTensorExtent(path: path, tensor: name, detail: "data_offsets [\(begin), \(end)] are reversed")
            }
            guard end <= dataSize else {
                throw WeightsError.truncated(
                    path: path, detail: "tensor '\(name)' ends at byte \(end) of the data section, which has \(dataSize)")
            }
            // Skip tensors we never compute with (e.g. rotary_emb.inv_freq stored as F32 is fine, I64 is not)
            // only after reporting them: an unknown dtype is an error unless the tensor is ignorable.
            guard let dtype = SafetensorsFile.dtype(named: dtypeName) else {
                throw WeightsError.unknownDType(path: path, tensor: name, dtype: dtypeName)
            }
            var elements = 1
            for d in shape {
                let (m, overflow) = elements.multipliedReportingOverflow(by: d)
                guard !overflow else {
                    throw WeightsError.badTensorExtent(path: path, tensor: name, detail: "shape \(shape) overflows")
                }
                elements = m
            }
            let (expected, overflow) = elements.multipliedReportingOverflow(by: dtype.bytesPerBlock)
            guard !overflow else {
                throw WeightsError.badTensorExtent(path: path, tensor: name, detail: "shape \(shape) of \(dtypeName) overflows")
            }
            guard end - begin == expected else {
                throw WeightsError.badTensorExtent(
                    path: path, tensor: name,
                    detail: "shape \(shape) of \(dtypeName) needs \(expected) bytes but data_offsets span \(end - begin)")
            }
            found[name] = TensorInfo(name: name, dtype: dtype, shape: shape, data: file.base + dataStart + begin,
                                     byteCount: expected, file: path)
        }
        // As the safetensors library requires: the tensors tile the data section exactly, in offset order, with
        // no gap and no overlap (an overlap would let two tensors alias the same bytes).
        var next = 0
        for t in found.values.sorted(by: { ($0.data, $0.name) < ($1.data, $1.name) }) {
            let begin = t.data - (file.base + dataStart)
            guard begin == next else {
                throw WeightsError.badTensorExtent(
                    path: path, tensor: t.name,
                    detail: begin < next ? "data_offsets overlap the previous tensor (which ends at \(next))"
                                         : "data_offsets leave a gap of \(begin - next) bytes before it")
            }
            next = begin + t.byteCount
        }
        guard next == dataSize else {
            throw WeightsError.badTensorExtent(path: path, tensor: "-",
                                               detail: "the data section has \(dataSize) bytes but the tensors cover \(next)")
        }
        tensors = found
        metadata = meta
    }

    /// Maps a safetensors dtype string to a `DType`; nil for types we do not compute with.
    public static func dtype(named name: String) -> DType? {
        switch name {
        case "F32": return .f32
        case "F16": return .f16
        case "BF16": return .bf16
        default: return nil
        }
    }

    /// The safetensors dtype string for a float `DType`.
    public static func name(of dtype: DType) -> String? {
        switch dtype {
        case .f32: return "F32"
        case .f16: return "F16"
        case .bf16: return "BF16"
        default: return nil
        }
    }

    public var tensorNames: [String] { tensors.keys.sorted() }
    public func tensor(_ name: String) -> TensorInfo? { tensors[name] }
    public var totalBytes: Int { tensors.values.reduce(0) { $0 + $1.byteCount } }
}
