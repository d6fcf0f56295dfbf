// A GGUF file behind the same `TensorSource` interface as a safetensors checkpoint. GGUF stores dimensions
// innermost first (ne0 = columns); they are reversed here to the PyTorch order the model tables use.
import PanguTensor

/// The tensors of a memory-mapped GGUF file, with GGUF names and PyTorch-order shapes.
public final class GGUFTensorSource: TensorSource, @unchecked Sendable {
    /// The parsed file (metadata is read from it by the model and tokenizer loaders).
    public let file: GGUFFile
    /// Where it was read from.
    public let path: String
    private let tensors: [String: TensorInfo]

    /// Opens `path`. Errors name the file; a tensor of a type we cannot compute with names the tensor and type.
    public convenience init(path: String) throws {
        let file: GGUFFile
        do { file = try GGUFFile(path: path, willNeed: true) } catch let error as GGUFError {
            throw WeightsError.malformedHeader(path: path, detail: error.description)
        }
        try self.init(file: file, path: path)
    }

    /// Wraps an already parsed file (e.g. `GGUFFile(bytes:)`); `path` names it in errors.
    public init(file: GGUFFile, path: String) throws {
        self.path = path
        self.file = file
        var found: [String: TensorInfo] = [:]
        for info in file.tensors {
            guard let dtype = info.dtype else {
                throw WeightsError.unknownDType(path: path, tensor: info.name, dtype: info.typeName)
            }
            found[info.name] = TensorInfo(name: info.name, dtype: dtype, shape: info.dims.reversed(),
                                          data: file.data(of: info), byteCount: info.byteCount, file: path)
        }
        tensors = found
    }

    public var tensorNames: [String] { tensors.keys.sorted() }
    public func tensor(_ name: String) -> TensorInfo? { tensors[name] }
    public var totalBytes: Int { tensors.values.reduce(0) { $0 + $1.byteCount } }

    /// Metadata value for `key`.
    public subscript(key: String) -> GGUFValue? { file[key] }
}
