// Half-precision conversions. bf16 has no native Swift type: it is the top 16 bits of an IEEE f32, stored as UInt16.
// f16 uses Swift's `Float16`, which compiles to F16C instructions when the target enables them.
#if arch(x86_64)
import _Builtin_intrinsics.intel
#endif

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

    /// Eight bf16 values at `p` → eight floats (zero-extend, shift into the high half).
    /// On x86-64 this is two AVX2 instructions; the generic SIMD conversion is an out-of-line call there.
    @inlinable @inline(__always)
    public static func bf16x8(_ p: UnsafeRawPointer) -> SIMD8<Float> {
        #if arch(x86_64)
        let v = p.loadUnaligned(as: SIMD2<Int64>.self)  // __m128i
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(v), 16))
        #else
        let v = p.loadUnaligned(as: SIMD8<UInt16>.self)
        return unsafeBitCast(SIMD8<UInt32>(truncatingIfNeeded: v) &<< 16, to: SIMD8<Float>.self)
        #endif
    }

    /// Eight f16 values at `p` → eight floats (F16C `vcvtph2ps` on x86-64).
    @inlinable @inline(__always)
    public static func f16x8(_ p: UnsafeRawPointer) -> SIMD8<Float> {
        #if arch(x86_64)
        return _mm256_cvtph_ps(p.loadUnaligned(as: SIMD2<Int64>.self))
        #else
        return SIMD8<Float>(p.loadUnaligned(as: SIMD8<Float16>.self))
        #endif
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
