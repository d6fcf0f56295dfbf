// Half-precision conversions. bf16 has no native Swift type: it is the top 16 bits of an IEEE f32, stored as UInt16.
// f16 uses Swift's `Float16`, which compiles to F16C instructions when the target enables them.

/// Converts half-precision storage to `Float`.
public enum HalfConversion {
    /// bf16 bits → f32 (exact: bf16 is a truncated f32).
    @inlinable @inline(__always)
    public static func bf16ToFloat(_ bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// f32 → bf16 bits, rounding to nearest even (NaN stays NaN), as PyTorch's `.to(torch.bfloat16)`.
    @inlinable @inline(__always)
    public static func floatToBF16(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: (bits >> 16) | 0x40) }
        let rounding = UInt32(0x7FFF) + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
    }

    /// f16 bits → f32.
    @inlinable @inline(__always)
    public static func f16ToFloat(_ bits: UInt16) -> Float {
        Float(Float16(bitPattern: bits))
    }

    /// f32 → f16 bits (round to nearest even).
    @inlinable @inline(__always)
    public static func floatToF16(_ value: Float) -> UInt16 {
        Float16(value).bitPattern
    }

    /// Eight bf16 values → eight floats (zero-extend, shift into the high half).
    @inlinable @inline(__always)
    public static func bf16x8(_ v: SIMD8<UInt16>) -> SIMD8<Float> {
        unsafeBitCast(SIMD8<UInt32>(truncatingIfNeeded: v) &<< 16, to: SIMD8<Float>.self)
    }

    /// Eight f16 values → eight floats.
    @inlinable @inline(__always)
    public static func f16x8(_ v: SIMD8<UInt16>) -> SIMD8<Float> {
        SIMD8<Float>(unsafeBitCast(v, to: SIMD8<Float16>.self))
    }

    /// Reads element `index` of a row stored as `dtype` (f32, f16 or bf16) as a `Float`.
    @inlinable
    public static func load(_ base: UnsafeRawPointer, _ index: Int, _ dtype: DType) -> Float {
        switch dtype {
        case .f32: return base.loadUnaligned(fromByteOffset: index * 4, as: Float.self)
        case .f16: return f16ToFloat(base.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
        case .bf16: return bf16ToFloat(base.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
        default: preconditionFailure("HalfConversion.load: \(dtype) is not a float type")
        }
    }
}
