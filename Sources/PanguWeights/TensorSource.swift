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

extension TensorSource {
    /// Reads one byte of every page of every tensor, so the first forward pass does not stall on disk reads and a
    /// large checkpoint shows progress while it is read. `progress(done, total)` gets tensor bytes. Tensors for which
    /// `skipping` is true are left alone (those the loader copies anyway: reading them twice only costs time).
    public func prefault(skipping: ((TensorInfo) -> Bool)? = nil, progress: ((Int, Int) -> Void)? = nil) {
        var sink: UInt8 = 0, done = 0, nextReport = 0
        // In address order, so each file is read front to back (sequential reads are fastest from a cold disk).
        let tensors = tensorNames.compactMap { tensor($0) }.filter { !(skipping?($0) ?? false) }
            .sorted { UInt(bitPattern: $0.data) < UInt(bitPattern: $1.data) }
        let total = tensors.reduce(0) { $0 + $1.byteCount }
        for t in tensors {
            var offset = 0
            while offset < t.byteCount {
                sink &+= t.data.load(fromByteOffset: offset, as: UInt8.self)
                offset += 4096
            }
            done += t.byteCount
            if done >= nextReport || done == total { progress?(done, total); nextReport = done + (64 << 20) }
        }
        prefaultSink = sink
    }
}

/// Keeps the prefault reads observable (nobody reads it).
nonisolated(unsafe) var prefaultSink: UInt8 = 0
