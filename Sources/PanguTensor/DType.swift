/// Element types a weight tensor can be stored in.
///
/// Float types hold one value per element. Quantised types (the GGML block formats, bit-compatible with
/// llama.cpp) hold `blockSize` values in `bytesPerBlock` bytes; a row of `k` values takes
/// `k / blockSize * bytesPerBlock` bytes and `k` must be a multiple of `blockSize`.
public enum DType: String, Sendable, CaseIterable, CustomStringConvertible {
    case f32, f16, bf16
    case q8_0 = "q8_0", q4_0 = "q4_0", q4_1 = "q4_1", q5_0 = "q5_0", q5_1 = "q5_1"
    case q4_K = "q4_K", q5_K = "q5_K", q6_K = "q6_K"
    /// Activation-side formats used only inside quantised dot products (never stored in model files by us).
    case q8_1 = "q8_1", q8_K = "q8_K"

    /// Number of values in one block (1 for float types).
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: return 1
        case .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q8_1: return 32
        case .q4_K, .q5_K, .q6_K, .q8_K: return 256
        }
    }

    /// Bytes taken by one block (the element size for float types).
    public var bytesPerBlock: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .q8_0: return 34        // f16 scale + 32 × i8
        case .q4_0: return 18        // f16 scale + 16 bytes of nibbles
        case .q4_1: return 20        // f16 scale + f16 min + 16 bytes
        case .q5_0: return 22        // f16 scale + 4 bytes high bits + 16 bytes
        case .q5_1: return 24        // f16 scale + f16 min + 4 + 16
        case .q8_1: return 36        // f16 scale + f16 sum + 32 × i8
        case .q4_K: return 144       // 2×f16 + 12 scale bytes + 128 nibble bytes
        case .q5_K: return 176       // 2×f16 + 12 + 32 high bits + 128
        case .q6_K: return 210       // 128 low + 64 high + 16 scales + f16
        case .q8_K: return 292       // f32 scale + 256 × i8 + 16 × i16 sums
        }
    }

    /// True for the GGML block-quantised formats.
    public var isQuantized: Bool { blockSize > 1 }

    /// Bytes needed for a row of `k` values. `k` must be a multiple of `blockSize`.
    public func rowBytes(_ k: Int) -> Int { k / blockSize * bytesPerBlock }

    public var description: String { rawValue }
}
