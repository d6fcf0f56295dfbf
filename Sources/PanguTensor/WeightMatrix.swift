/// A read-only 2-D weight matrix `[rows, cols]` (PyTorch `[out_features, in_features]` order) stored row-major
/// in any `DType`, usually pointing straight into a memory-mapped model file.
///
/// Rows are contiguous: row `r` starts at `data + r * dtype.rowBytes(cols)`. The data need not be aligned.
public struct WeightMatrix: @unchecked Sendable {
    /// Output features (number of rows).
    public let rows: Int
    /// Input features (values per row).
    public let cols: Int
    /// Storage type of the elements.
    public let dtype: DType
    /// First byte of row 0.
    public let data: UnsafeRawPointer

    /// Wraps `rows × cols` values of `dtype` starting at `data`.
    public init(rows: Int, cols: Int, dtype: DType, data: UnsafeRawPointer) {
        self.rows = rows
        self.cols = cols
        self.dtype = dtype
        self.data = data
    }

    /// Bytes per row.
    public var rowBytes: Int { dtype.rowBytes(cols) }
    /// Total bytes of the matrix.
    public var byteCount: Int { rowBytes * rows }
    /// Pointer to the first byte of row `r`.
    @inlinable public func row(_ r: Int) -> UnsafeRawPointer { data + r * dtype.rowBytes(cols) }
}

/// A read-only vector (bias or norm weight) of `count` values of a float `DType`.
public struct WeightVector: @unchecked Sendable {
    /// Number of elements.
    public let count: Int
    /// Storage type (f32, f16 or bf16).
    public let dtype: DType
    /// First element.
    public let data: UnsafeRawPointer

    /// Wraps `count` values of `dtype` at `data`.
    public init(count: Int, dtype: DType, data: UnsafeRawPointer) {
        self.count = count
        self.dtype = dtype
        self.data = data
    }

    /// Element `i` widened to `Float`.
    @inlinable public subscript(i: Int) -> Float { HalfConversion.load(data, i, dtype) }

    /// All elements widened to `Float` (vectors are small: norm and bias weights).
    public func toFloats() -> [Float] { (0..<count).map { self[$0] } }
}
