// Row conversions between Float and f16/bf16, used by the quantisers (the scalar conversions are in Half.swift).

/// Scalar and row conversions between `Float` and the 16-bit float formats stored in GGUF / safetensors files.
extension HalfConversion {
    /// Loads little-endian f16 bits at `p + offset` (any alignment) as `Float`.
    @inline(__always)
    static func loadF16(_ p: UnsafeRawPointer, _ offset: Int = 0) -> Float {
        f16ToFloat(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    /// Stores `x` as little-endian f16 bits at `p + offset`.
    @inline(__always)
    static func storeF16(_ x: Float, _ p: UnsafeMutableRawPointer, _ offset: Int = 0) {
        p.storeBytes(of: floatToF16(x).littleEndian, toByteOffset: offset, as: UInt16.self)
    }

    /// Converts `k` floats to f16 bits (`out` needs 2k bytes, any alignment).
    public static func f32ToF16Row(_ x: UnsafePointer<Float>, k: Int, into out: UnsafeMutableRawPointer) {
        for i in 0..<k { storeF16(x[i], out, 2 * i) }
    }

    /// Converts `k` f16 values to floats.
    public static func f16ToF32Row(_ src: UnsafeRawPointer, k: Int, into y: UnsafeMutablePointer<Float>) {
        for i in 0..<k { y[i] = loadF16(src, 2 * i) }
    }

    /// Converts `k` floats to bf16 bits (`out` needs 2k bytes, any alignment).
    public static func f32ToBF16Row(_ x: UnsafePointer<Float>, k: Int, into out: UnsafeMutableRawPointer) {
        for i in 0..<k { out.storeBytes(of: floatToBF16(x[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
    }

    /// Converts `k` bf16 values to floats.
    public static func bf16ToF32Row(_ src: UnsafeRawPointer, k: Int, into y: UnsafeMutablePointer<Float>) {
        for i in 0..<k {
            y[i] = bf16ToFloat(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
        }
    }
}
