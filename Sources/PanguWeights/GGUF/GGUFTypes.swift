// GGUF value types, metadata values, GGML tensor type ids and errors (GGUF v2/v3, little-endian).
import PanguTensor

/// Type tags of GGUF metadata values (the `gguf_type` enum of the GGUF specification).
public enum GGUFValueType: UInt32, Sendable, CaseIterable {
    /// Scalar and string tags 0...8.
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7, string = 8
    /// Array tag 9 and 64-bit scalar tags 10...12.
    case array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// Size in bytes of a fixed-size scalar of this type (nil for string and array).
    public var scalarSize: Int? {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string, .array: return nil
        }
    }
}

/// One GGUF metadata value. Arrays carry their element type so that empty arrays round-trip.
public indirect enum GGUFValue: Equatable, Sendable {
    /// Integer scalars.
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    /// Float, bool, UTF-8 string and 64-bit scalars.
    case float32(Float), bool(Bool), string(String), uint64(UInt64), int64(Int64), float64(Double)
    /// Array of values that all have type `elementType` (arrays of arrays are allowed by the format).
    case array(GGUFValueType, [GGUFValue])

    /// The type tag written for this value.
    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .float32: return .float32
        case .bool: return .bool
        case .string: return .string
        case .uint64: return .uint64
        case .int64: return .int64
        case .float64: return .float64
        case .array: return .array
        }
    }

    /// Integer value of any integer-typed (or bool) scalar, nil otherwise or when it does not fit `Int`.
    public var intValue: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        case .uint32(let v): return Int(v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return Int(exactly: v)
        case .int64(let v): return Int(v)
        case .bool(let v): return v ? 1 : 0
        default: return nil
        }
    }

    /// Floating-point value of any numeric scalar, nil otherwise.
    public var doubleValue: Double? {
        switch self {
        case .float32(let v): return Double(v)
        case .float64(let v): return v
        default: return intValue.map(Double.init)
        }
    }

    /// The string of a `.string` value.
    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }

    /// The flag of a `.bool` value.
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }

    /// Elements of an `.array` value.
    public var arrayValue: [GGUFValue]? { if case .array(_, let a) = self { return a } else { return nil } }

    /// Elements of an array of strings (e.g. `tokenizer.ggml.tokens`).
    public var stringArray: [String]? { arrayValue?.compactMap(\.stringValue) }

    /// Convenience constructors for homogeneous arrays.
    public static func strings(_ a: [String]) -> GGUFValue { .array(.string, a.map { .string($0) }) }
    /// Array of float32 values.
    public static func float32s(_ a: [Float]) -> GGUFValue { .array(.float32, a.map { .float32($0) }) }
    /// Array of int32 values.
    public static func int32s(_ a: [Int32]) -> GGUFValue { .array(.int32, a.map { .int32($0) }) }
}

/// GGML tensor type ids as stored in GGUF tensor infos, with their block geometry.
public enum GGMLType {
    /// (name, values per block, bytes per block) for every ggml type id known to this reader.
    /// Q8_1 is 36 bytes (f16 d, f16 s, 32 × i8) as in current ggml.
    public static let table: [UInt32: (name: String, blockSize: Int, bytesPerBlock: Int)] = [
        0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22),
        7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36), 10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110),
        12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
        16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98), 19: ("IQ1_S", 256, 50),
        20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110), 22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136),
        24: ("I8", 1, 1), 25: ("I16", 1, 2), 26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8),
        29: ("IQ1_M", 256, 56), 30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66),
        39: ("MXFP4", 32, 17), 40: ("NVFP4", 64, 36), 41: ("Q1_0", 128, 18),
    ]

    /// The ggml type id of a `DType`.
    public static func id(of dtype: DType) -> UInt32 {
        switch dtype {
        case .f32: return 0
        case .f16: return 1
        case .q4_0: return 2
        case .q4_1: return 3
        case .q5_0: return 6
        case .q5_1: return 7
        case .q8_0: return 8
        case .q8_1: return 9
        case .q4_K: return 12
        case .q5_K: return 13
        case .q6_K: return 14
        case .q8_K: return 15
        case .bf16: return 30
        }
    }

    /// The `DType` for a ggml type id, nil when Pangu has no kernels for it (e.g. Q2_K, IQ formats).
    public static func dtype(forID id: UInt32) -> DType? { DType.allCases.first { Self.id(of: $0) == id } }

    /// llama.cpp `general.file_type` (LLAMA_FTYPE) for a model whose large matrices are mostly `dtype`.
    /// K-quants map to the "_M" mixes' ids (q4_K → 15 Q4_K_M, q5_K → 17 Q5_K_M, q6_K → 18).
    public static func fileType(for dtype: DType) -> UInt32 {
        switch dtype {
        case .f32: return 0
        case .f16: return 1
        case .q4_0: return 2
        case .q4_1: return 3
        case .q8_0: return 7
        case .q5_0: return 8
        case .q5_1: return 9
        case .q4_K: return 15
        case .q5_K: return 17
        case .q6_K: return 18
        case .bf16: return 32
        case .q8_1, .q8_K: return 1024 // "guessed": activation formats are never whole-model types
        }
    }
}

/// Resource limits of the GGUF reader: far above what real models use (a 153k-token vocabulary, ~1,000 tensors,
/// chat templates of a few KB), low enough that a hostile file cannot make the reader allocate gigabytes of
/// metadata values before anything else is checked.
public enum GGUFLimits {
    /// Tensors in one file.
    public static let maxTensors = 1 << 20
    /// Metadata key-value pairs in one file.
    public static let maxMetadataEntries = 1 << 16
    /// Elements of one metadata array (all nesting levels together).
    public static let maxArrayElements = 1 << 24
    /// Bytes of one string (keys, values, tensor names).
    public static let maxStringBytes = 1 << 24
}

/// Errors thrown while reading or writing GGUF files; each names what is wrong and where.
public enum GGUFError: Error, Equatable, CustomStringConvertible {
    /// The file could not be opened, stat'ed or mapped.
    case cannotOpen(path: String, errno: Int32)
    /// The first 4 bytes are not "GGUF".
    case badMagic(found: [UInt8])
    /// Version other than 2 or 3.
    case unsupportedVersion(UInt32)
    /// The file ends inside `what`.
    case truncated(what: String, offset: Int, needed: Int, fileSize: Int)
    /// A tensor/metadata/array count cannot fit in the remaining bytes.
    case countTooLarge(what: String, count: UInt64)
    /// A count or length is beyond what any real model file needs (see `GGUFLimits`).
    case limitExceeded(what: String, value: UInt64, limit: Int)
    /// A metadata value (or array element) has an unknown type tag.
    case invalidValueType(key: String, rawType: UInt32)
    /// A string is not valid UTF-8.
    case invalidUTF8(what: String, offset: Int)
    /// The same metadata key appears twice.
    case duplicateKey(String)
    /// The same tensor name appears twice.
    case duplicateTensor(String)
    /// `general.alignment` is not a positive power of two.
    case badAlignment(UInt64)
    /// A tensor has a ggml type id not in `GGMLType.table`.
    case unknownTensorType(tensor: String, typeID: UInt32)
    /// Invalid dimension count, overflowing size, or ne0 not a multiple of the block size.
    case badTensorShape(tensor: String, dims: [UInt64])
    /// A tensor offset is not a multiple of the alignment.
    case misalignedTensor(tensor: String, offset: UInt64, alignment: Int)
    /// Tensor data extends past the end of the file.
    case tensorOutOfBounds(tensor: String, offset: Int, size: Int, dataSize: Int)
    /// The tensor's ggml type has no `DType` (Pangu has no kernels for it).
    case unsupportedTensorType(tensor: String, typeName: String)
    /// No tensor with this name.
    case noSuchTensor(String)
    /// Writing or closing the output failed.
    case writeFailed(path: String, errno: Int32)
    /// The writer was used out of order or given inconsistent data.
    case writerState(String)

    /// Human-readable message naming the problem and where it was found.
    public var description: String {
        switch self {
        case .cannotOpen(let p, let e): return "GGUF: cannot open \(p) (errno \(e))"
        case .badMagic(let f): return "GGUF: bad magic \(f.map { String(format2x: $0) }.joined()) (expected 'GGUF')"
        case .unsupportedVersion(let v): return "GGUF: unsupported version \(v) (supported: 2, 3)"
        case .truncated(let w, let o, let n, let s):
            return "GGUF: file truncated reading \(w) at offset \(o) (need \(n) bytes, file has \(s))"
        case .countTooLarge(let w, let c): return "GGUF: \(w) count \(c) is too large for the file"
        case .limitExceeded(let w, let v, let l): return "GGUF: \(w) is \(v), more than the limit of \(l)"
        case .invalidValueType(let k, let t): return "GGUF: metadata key '\(k)' has invalid value type \(t)"
        case .invalidUTF8(let w, let o): return "GGUF: \(w) at offset \(o) is not valid UTF-8"
        case .duplicateKey(let k): return "GGUF: duplicate metadata key '\(k)'"
        case .duplicateTensor(let n): return "GGUF: duplicate tensor '\(n)'"
        case .badAlignment(let a): return "GGUF: general.alignment \(a) is not a power of two"
        case .unknownTensorType(let n, let t): return "GGUF: tensor '\(n)' has unknown ggml type id \(t)"
        case .badTensorShape(let n, let d): return "GGUF: tensor '\(n)' has invalid dims \(d)"
        case .misalignedTensor(let n, let o, let a): return "GGUF: tensor '\(n)' offset \(o) is not a multiple of \(a)"
        case .tensorOutOfBounds(let n, let o, let s, let d):
            return "GGUF: tensor '\(n)' data [\(o), \(o)+\(s)) is outside the data section of \(d) bytes"
        case .unsupportedTensorType(let n, let t): return "GGUF: tensor '\(n)' has type \(t), which Pangu cannot compute with"
        case .noSuchTensor(let n): return "GGUF: no tensor named '\(n)'"
        case .writeFailed(let p, let e): return "GGUF: write to \(p) failed (errno \(e))"
        case .writerState(let m): return "GGUF writer: \(m)"
        }
    }
}

extension String {
    init(format2x b: UInt8) {
        let h = String(b, radix: 16)
        self = h.count == 1 ? "0" + h : h
    }
}

/// Description of one tensor in a GGUF file.
public struct GGUFTensorInfo: Equatable, Sendable {
    /// Tensor name, e.g. `blk.0.attn_q.weight`.
    public let name: String
    /// Dimensions in GGUF order ne0, ne1, … (ne0 is the contiguous row length).
    public let dims: [Int]
    /// Raw ggml type id.
    public let ggmlType: UInt32
    /// The matching `DType`, nil for ggml types Pangu has no kernels for.
    public let dtype: DType?
    /// Offset of the data relative to the start of the data section.
    public let offset: Int
    /// Size of the tensor data in bytes.
    public let byteCount: Int
    /// Product of `dims`.
    public var elementCount: Int { dims.reduce(1, *) }
    /// ggml name of the type (e.g. "Q4_K").
    public var typeName: String { GGMLType.table[ggmlType]?.name ?? "type\(ggmlType)" }
}
