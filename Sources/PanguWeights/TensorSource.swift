import PanguTensor

/// One tensor inside a weight file: where its bytes are and how to read them.
public struct TensorInfo: @unchecked Sendable, Equatable {
    /// Name as stored in the file.
    public let name: String
    /// Storage type.
    public let dtype: DType
    /// Shape in PyTorch order (outermost first), e.g. `[out_features, in_features]`.
    public let shape: [Int]
    /// First byte of the tensor's data (inside a memory mapping).
    public let data: UnsafeRawPointer
    /// Size of the data in bytes.
    public let byteCount: Int
    /// File the tensor lives in (for messages).
    public let file: String

    /// Number of elements.
    public var elementCount: Int { shape.reduce(1, *) }

    /// Creates a tensor record.
    public init(name: String, dtype: DType, shape: [Int], data: UnsafeRawPointer, byteCount: Int, file: String) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.data = data
        self.byteCount = byteCount
        self.file = file
    }
}

/// Anything that holds named tensors: a safetensors file, a sharded checkpoint, a GGUF file.
public protocol TensorSource: AnyObject, Sendable {
    /// Names of every tensor, sorted.
    var tensorNames: [String] { get }
    /// The tensor called `name`, or nil.
    func tensor(_ name: String) -> TensorInfo?
    /// Bytes of tensor data across all files.
    var totalBytes: Int { get }
}
