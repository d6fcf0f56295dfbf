/// A read-only 2-D weight matrix `[rows, cols]` (PyTorch `[out_features, in_features]` order) stored row-major
/// in any `DType`, usually pointing straight into a memory-mapped model file.
///
/// With `layout == .rowMajor` rows are contiguous: row `r` starts at `data + r * dtype.rowBytes(cols)`; with
/// `.interleaved8` groups of 8 rows are stored block-interleaved (see `RowInterleave`). The data need not be aligned.
public struct WeightMatrix: @unchecked Sendable {
    /// Output features (number of rows).
    public let rows: Int
    /// Input features (values per row).
    public let cols: Int
    /// Storage type of the elements.
    public let dtype: DType
    /// First byte of row 0 (row-major) or of row group 0 (interleaved).
    public let data: UnsafeRawPointer
    /// How the rows are arranged in memory.
    public let layout: WeightLayout

    /// Wraps `rows × cols` values of `dtype` starting at `data`.
    public init(rows: Int, cols: Int, dtype: DType, data: UnsafeRawPointer, layout: WeightLayout = .rowMajor) {
        self.rows = rows
        self.cols = cols
        self.dtype = dtype
        self.data = data
        self.layout = layout
    }

    /// Bytes per row.
    public var rowBytes: Int { dtype.rowBytes(cols) }
    /// Total bytes of the matrix.
    public var byteCount: Int { rowBytes * rows }
    /// Pointer to the first byte of row `r` (row-major layout only).
    @inlinable public func row(_ r: Int) -> UnsafeRawPointer {
        precondition(layout == .rowMajor, "row access into an interleaved weight matrix")
        return data + r * dtype.rowBytes(cols)
    }
}

/// Memory arrangement of a weight matrix's rows.
public enum WeightLayout: Sendable, Equatable {
    /// Row after row, as stored in GGUF and safetensors files.
    case rowMajor
    /// Groups of 8 rows with their blocks interleaved, so one vector instruction works on 8 rows (`RowInterleave`).
    case interleaved8
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
