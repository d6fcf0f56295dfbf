/// Everything that can go wrong reading a weight file. Each case names the file and, where there is one,
/// the tensor or field, so a user can tell which download is broken.
public enum WeightsError: Error, CustomStringConvertible, Equatable {
    /// The file could not be opened or mapped.
    case cannotOpen(path: String, reason: String)
    /// The file is shorter than its own header says.
    case truncated(path: String, detail: String)
    /// The header is not what the format requires.
    case malformedHeader(path: String, detail: String)
    /// A tensor's dtype is not one we can compute with.
    case unknownDType(path: String, tensor: String, dtype: String)
    /// A tensor's byte range is inconsistent with its shape and dtype or lies outside the data section.
    case badTensorExtent(path: String, tensor: String, detail: String)
    /// The directory holds no weight files we recognise.
    case noWeights(directory: String)
    /// A sharded checkpoint's index names a tensor its shard does not contain.
    case indexMismatch(path: String, detail: String)
    /// A file this loader writes could not be written.
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): return "cannot open \(path): \(reason)"
        case let .truncated(path, detail): return "\(path) is truncated: \(detail)"
        case let .malformedHeader(path, detail): return "\(path) has a malformed header: \(detail)"
        case let .unknownDType(path, tensor, dtype):
            return "\(path): tensor '\(tensor)' has unsupported dtype '\(dtype)' (supported: F32, F16, BF16)"
        case let .badTensorExtent(path, tensor, detail): return "\(path): tensor '\(tensor)': \(detail)"
        case let .noWeights(directory):
            return "no weights in \(directory): expected model.safetensors, model.safetensors.index.json or *.gguf"
        case let .indexMismatch(path, detail): return "\(path): \(detail)"
        case let .writeFailed(path, reason): return "cannot write \(path): \(reason)"
        }
    }
}
