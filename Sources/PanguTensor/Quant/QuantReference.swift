// Reference (plain-loop) quantisers and dequantisers for the GGML block formats.
//
// Layouts follow ggml's `block_*` structs (little-endian, packed, no padding); the legacy 32-value formats
// round exactly like ggml's `quantize_row_*_ref` (and the numpy quantisers of the `gguf` Python package),
// so their bytes are bit-identical. K-quant quantisers live in QuantReferenceK.swift.

/// Plain-loop quantisers/dequantisers for every stored and activation format (bit-exact GGML layouts).
public enum QuantReference {
    /// Quantises `k` floats (a multiple of `dtype.blockSize`) into `dtype.rowBytes(k)` bytes at `out`.
    /// Float types (f32/f16/bf16) are converted; every other `DType` is quantised block by block.
    public static func quantize(_ x: UnsafePointer<Float>, k: Int, as dtype: DType, into out: UnsafeMutableRawPointer) {
        precondition(k % dtype.blockSize == 0, "k=\(k) is not a multiple of the \(dtype) block size \(dtype.blockSize)")
        let nb = k / dtype.blockSize, bs = dtype.blockSize, bb = dtype.bytesPerBlock
        switch dtype {
        case .f32: out.copyMemory(from: x, byteCount: 4 * k)
        case .f16: HalfConversion.f32ToF16Row(x, k: k, into: out)
        case .bf16: HalfConversion.f32ToBF16Row(x, k: k, into: out)
        case .q8_0: for b in 0..<nb { quantizeQ8_0(x + b * bs, out + b * bb) }
        case .q8_1: for b in 0..<nb { quantizeQ8_1(x + b * bs, out + b * bb) }
        case .q4_0: for b in 0..<nb { quantizeQ4_0(x + b * bs, out + b * bb) }
        case .q4_1: for b in 0..<nb { quantizeQ4_1(x + b * bs, out + b * bb) }
        case .q5_0: for b in 0..<nb { quantizeQ5_0(x + b * bs, out + b * bb) }
        case .q5_1: for b in 0..<nb { quantizeQ5_1(x + b * bs, out + b * bb) }
        case .q4_K: for b in 0..<nb { quantizeQ4_K(x + b * bs, out + b * bb) }
        case .q5_K: for b in 0..<nb { quantizeQ5_K(x + b * bs, out + b * bb) }
        case .q6_K: for b in 0..<nb { quantizeQ6_K(x + b * bs, out + b * bb) }
        case .q8_K: for b in 0..<nb { quantizeQ8_K(x + b * bs, out + b * bb) }
        }
    }

    /// Dequantises `k` values of `dtype` stored at `src` into `y`.
    public static func dequantize(_ src: UnsafeRawPointer, dtype: DType, k: Int, into y: UnsafeMutablePointer<Float>) {
        precondition(k % dtype.blockSize == 0, "k=\(k) is not a multiple of the \(dtype) block size \(dtype.blockSize)")
        let nb = k / dtype.blockSize, bs = dtype.blockSize, bb = dtype.bytesPerBlock
        switch dtype {
        case .f32: for i in 0..<k { y[i] = src.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) }
        case .f16: HalfConversion.f16ToF32Row(src, k: k, into: y)
        case .bf16: HalfConversion.bf16ToF32Row(src, k: k, into: y)
        case .q8_0: for b in 0..<nb { dequantizeQ8_0(src + b * bb, y + b * bs) }
        case .q8_1: for b in 0..<nb { dequantizeQ8_1(src + b * bb, y + b * bs) }
        case .q4_0: for b in 0..<nb { dequantizeQ4_0(src + b * bb, y + b * bs) }
        case .q4_1: for b in 0..<nb { dequantizeQ4_1(src + b * bb, y + b * bs) }
        case .q5_0: for b in 0..<nb { dequantizeQ5_0(src + b * bb, y + b * bs) }
        case .q5_1: for b in 0..<nb { dequantizeQ5_1(src + b * bb, y + b * bs) }
        case .q4_K: for b in 0..<nb { dequantizeQ4_K(src + b * bb, y + b * bs) }
        case .q5_K: for b in 0..<nb { dequantizeQ5_K(src + b * bb, y + b * bs) }
        case .q6_K: for b in 0..<nb { dequantizeQ6_K(src + b * bb, y + b * bs) }
        case .q8_K: for b in 0..<nb { dequantizeQ8_K(src + b * bb, y + b * bs) }
        }
    }

    /// Array convenience for `quantize(_:k:as:into:)`; returns `dtype.rowBytes(x.count)` bytes.
    public static func quantize(_ x: [Float], as dtype: DType) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: dtype.rowBytes(x.count))
        x.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBytes { quantize(xp.baseAddress!, k: x.count, as: dtype, into: $0.baseAddress!) }
        }
        return out
    }

    /// Array convenience for `dequantize(_:dtype:k:into:)`; `bytes` must hold at least `dtype.rowBytes(k)` bytes.
    public static func dequantize(_ bytes: [UInt8], dtype: DType, k: Int) -> [Float] {
        precondition(bytes.count >= dtype.rowBytes(k), "need \(dtype.rowBytes(k)) bytes, got \(bytes.count)")
        var y = [Float](repeating: 0, count: k)
        bytes.withUnsafeBytes { b in
            y.withUnsafeMutableBufferPointer { dequantize(b.baseAddress!, dtype: dtype, k: k, into: $0.baseAddress!) }
        }
        return y
    }

    // MARK: - Helpers

    /// Index of the first element with the largest magnitude, and that (signed) element.
    @inline(__always)
    static func signedAbsMax(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var amax: Float = 0, maxv: Float = 0
        for j in 0..<n where amax < abs(x[j]) { amax = abs(x[j]); maxv = x[j] }
        return maxv
    }

    /// Truncating float→int conversion used by the ggml reference quantisers (`(int8_t)(v)`).
    /// Non-finite or huge inputs (NaN/inf weights or activations) saturate instead of trapping.
    @inline(__always)
    static func trunc(_ v: Float) -> Int { safeInt(v.rounded(.towardZero)) }

    /// Round half away from zero (C `roundf`), saturating like `trunc`.
    @inline(__always)
    static func roundAway(_ v: Float) -> Int { safeInt(v.rounded(.toNearestOrAwayFromZero)) }

    /// `Int(v)` for |v| < 2^31, ±Int32 saturation beyond, 0 for NaN.
    @inline(__always)
    static func safeInt(_ v: Float) -> Int {
        if abs(v) < 2_147_483_520 { return Int(v) }
        return v > 0 ? Int(Int32.max) : (v < 0 ? Int(Int32.min) : 0)
    }

    // MARK: - q8_0 {f16 d; i8 qs[32]}

    static func quantizeQ8_0(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
        var amax: Float = 0
        for j in 0..<32 { amax = max(amax, abs(x[j])) }
        let d = amax / 127, id: Float = d != 0 ? 1 / d : 0
        HalfConversion.storeF16(d, out)
        for j in 0..<32 { out.storeBytes(of: Int8(clamping: roundAway(x[j] * id)), toByteOffset: 2 + j, as: Int8.self) }
    }

    static func dequantizeQ8_0(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = HalfConversion.loadF16(b)
        for j in 0..<32 { y[j] = Float(b.load(fromByteOffset: 2 + j, as: Int8.self)) * d }
    }

    // MARK: - q8_1 {f16 d; f16 s = d * sum(qs); i8 qs[32]}

    static func quantizeQ8_1(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
        var amax: Float = 0
        for j in 0..<32 { amax = max(amax, abs(x[j])) }
        let d = amax / 127, id: Float = d != 0 ? 1 / d : 0
        var sum = 0
        for j in 0..<32 {
            let q = Int8(clamping: roundAway(x[j] * id))
            sum += Int(q)
            out.storeBytes(of: q, toByteOffset: 4 + j, as: Int8.self)
        }
        HalfConversion.storeF16(d, out)
        HalfConversion.storeF16(Float(sum) * d, out, 2)
    }

    static func dequantizeQ8_1(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = HalfConversion.loadF16(b)
        for j in 0..<32 { y[j] = Float(b.load(fromByteOffset: 4 + j, as: Int8.self)) * d }
    }

    // MARK: - q4_0 {f16 d; u8 qs[16]}: value j = (nibble - 8) * d; low nibbles hold 0..15, high 16..31

    static func quantizeQ4_0(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
        let d = signedAbsMax(x, 32) / -8, id: Float = d != 0 ? 1 / d : 0
        HalfConversion.storeF16(d, out)
        for j in 0..<16 {
            let a = min(15, max(0, trunc(x[j] * id + 8.5))), b = min(15, max(0, trunc(x[j + 16] * id + 8.5)))
            out.storeBytes(of: UInt8(a | (b << 4)), toByteOffset: 2 + j, as: UInt8.self)
        }
    }

    static func dequantizeQ4_0(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = HalfConversion.loadF16(b)
        for j in 0..<16 {
            let q = b.load(fromByteOffset: 2 + j, as: UInt8.self)
            y[j] = d * Float(Int(q & 0xF) - 8)
            y[j + 16] = d * Float(Int(q >> 4) - 8)
        }
    }

    // MARK: - q4_1 {f16 d; f16 m; u8 qs[16]}: value = nibble * d + m

    static func quantizeQ4_1(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
        var lo = x[0], hi = x[0]
        for j in 1..<32 { lo = min(lo, x[j]); hi = max(hi, x[j]) }
        let d = (hi - lo) / 15, id: Float = d != 0 ? 1 / d : 0
        HalfConversion.storeF16(d, out)
        HalfConversion.storeF16(lo, out, 2)
        for j in 0..<16 {
            let a = min(15, max(0, trunc((x[j] - lo) * id + 0.5))), b = min(15, max(0, trunc((x[j + 16] - lo) * id + 0.5)))
            out.storeBytes(of: UInt8(a | (b << 4)), toByteOffset: 4 + j, as: UInt8.self)
        }
    }

    static func dequantizeQ4_1(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = HalfConversion.loadF16(b), m = HalfConversion.loadF16(b, 2)
        for j in 0..<16 {
            let q = b.load(fromByteOffset: 4 + j, as: UInt8.self)
            y[j] = d * Float(q & 0xF) + m
            y[j + 16] = d * Float(q >> 4) + m
        }
    }

    // MARK: - q5_0 {f16 d; u32 qh; u8 qs[16]}: value j = (nibble | bit j of qh << 4) - 16, times d

    static func quantizeQ5_0(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
        let d = signedAbsMax(x, 32) / -16, id: Float = d != 0 ? 1 / d : 0
        HalfConversion.storeF16(d, out)
        var qh: UInt32 = 0
        for j in 0..<16 {
            let a = min(31, max(0, trunc(x[j] * id + 16.5))), b = min(31, max(0, trunc(x[j + 16] * id + 16.5)))
            out.storeBytes(of: UInt8((a & 0xF) | ((b & 0xF) << 4)), toByteOffset: 6 + j, as: UInt8.self)
            qh |= UInt32((a >> 4) & 1) << UInt32(j)
            qh |= UInt32((b >> 4) & 1) << UInt32(j + 16)
        }
        out.storeBytes(of: qh.littleEndian, toByteOffset: 2, as: UInt32.self)
    }

    static func dequantizeQ5_0(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = HalfConversion.loadF16(b)
        let qh = UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
        for j in 0..<16 {
            let q = UInt32(b.load(fromByteOffset: 6 + j, as: UInt8.self))
            let a = (q & 0xF) | (((qh >> UInt32(j)) & 1) << 4), c = (q >> 4) | (((qh >> UInt32(j + 16)) & 1) << 4)
            y[j] = d * Float(Int(a) - 16)
            y[j + 16] = d * Float(Int(c) - 16)
        }
    }

    // MARK: - q5_1 {f16 d; f16 m; u32 qh; u8 qs[16]}: value = 5-bit q * d + m

    static func quantizeQ5_1(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
        var lo = x[0], hi = x[0]
        for j in 1..<32 { lo = min(lo, x[j]); hi = max(hi, x[j]) }
        let d = (hi - lo) / 31, id: Float = d != 0 ? 1 / d : 0
        HalfConversion.storeF16(d, out)
        HalfConversion.storeF16(lo, out, 2)
        var qh: UInt32 = 0
        for j in 0..<16 {
            let a = min(31, max(0, trunc((x[j] - lo) * id + 0.5))), b = min(31, max(0, trunc((x[j + 16] - lo) * id + 0.5)))
            out.storeBytes(of: UInt8((a & 0xF) | ((b & 0xF) << 4)), toByteOffset: 8 + j, as: UInt8.self)
            qh |= UInt32((a >> 4) & 1) << UInt32(j)
            qh |= UInt32((b >> 4) & 1) << UInt32(j + 16)
        }
        out.storeBytes(of: qh.littleEndian, toByteOffset: 4, as: UInt32.self)
    }

    static func dequantizeQ5_1(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = HalfConversion.loadF16(b), m = HalfConversion.loadF16(b, 2)
        let qh = UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        for j in 0..<16 {
            let q = UInt32(b.load(fromByteOffset: 8 + j, as: UInt8.self))
            let a = (q & 0xF) | (((qh >> UInt32(j)) & 1) << 4), c = (q >> 4) | (((qh >> UInt32(j + 16)) & 1) << 4)
            y[j] = d * Float(a) + m
            y[j + 16] = d * Float(c) + m
        }
    }
}
