// Float16 / bfloat16 scalar and row conversions shared by the quantisers and kernels.

/// Scalar and row conversions between `Float` and the 16-bit float formats stored in GGUF / safetensors files.
extension HalfConversion {
    /// Converts IEEE half-precision bits to `Float` (exact).
    @inline(__always)
    public static func f16ToF32(_ bits: UInt16) -> Float { Float(Float16(bitPattern: bits)) }

    /// Converts `Float` to IEEE half-precision bits, rounding to nearest even (like `vcvtps2ph` / numpy).
    @inline(__always)
    public static func f32ToF16(_ x: Float) -> UInt16 { Float16(x).bitPattern }

    /// Converts bfloat16 bits to `Float` (exact).
    @inline(__always)
    public static func bf16ToF32(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    /// Converts `Float` to bfloat16 bits, rounding to nearest even; NaNs become quiet NaNs (as ggml does).
    @inline(__always)
    public static func f32ToBF16(_ x: Float) -> UInt16 {
        let u = x.bitPattern
        if (u & 0x7fff_ffff) > 0x7f80_0000 { return UInt16(truncatingIfNeeded: (u >> 16) | 64) }
        let rounded = (UInt64(u) + 0x7fff + UInt64((u >> 16) & 1)) >> 16
        return UInt16(truncatingIfNeeded: rounded)
    }

    /// Loads little-endian f16 bits at `p + offset` (any alignment) as `Float`.
    @inline(__always)
    static func loadF16(_ p: UnsafeRawPointer, _ offset: Int = 0) -> Float {
        f16ToF32(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    /// Stores `x` as little-endian f16 bits at `p + offset`.
    @inline(__always)
    static func storeF16(_ x: Float, _ p: UnsafeMutableRawPointer, _ offset: Int = 0) {
        p.storeBytes(of: f32ToF16(x).littleEndian, toByteOffset: offset, as: UInt16.self)
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
        for i in 0..<k { out.storeBytes(of: f32ToBF16(x[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
    }

    /// Converts `k` bf16 values to floats.
    public static func bf16ToF32Row(_ src: UnsafeRawPointer, k: Int, into y: UnsafeMutablePointer<Float>) {
        for i in 0..<k {
            y[i] = bf16ToF32(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
        }
    }
}
