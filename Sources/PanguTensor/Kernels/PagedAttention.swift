// Causal grouped-query attention over a paged KV cache, tiled with an online softmax (the FlashAttention
// recurrence). One work item is one key/value head × a tile of query tokens: the item holds the rows of every
// query head sharing that KV head, and walks the sequence's key/value blocks once, so each key and value row is
// read (and converted from f16) once per tile instead of once per query head and token.
//
// Batch invariance: a query row's result depends only on its own q and the keys/values up to its position. The
// blocks are visited in order, each block's scores are plain dot products, and the running max/sum/accumulator
// update is the same whatever other rows share the tile, so a token gets bit-identical output alone, batched, or
// prefilled in chunks.
//
// Letters: T query tokens, H query heads, Hkv key/value heads, G = H / Hkv, Dh head dim, B block size.
import Foundation

/// Storage type of cached keys and values. `q8_0` is GGML's block format: 32 values as int8 with one f16 scale
/// (34 bytes), the same bytes per token as llama.cpp's q8_0 cache.
public enum KVElementType: String, Sendable, CaseIterable {
    case f32, f16, q8_0

    /// Bytes of one head's row of `d` values (q8_0 needs d to be a multiple of 32).
    public func rowBytes(_ d: Int) -> Int {
        switch self {
        case .f32: return 4 * d
        case .f16: return 2 * d
        case .q8_0: return d / 32 * 34
        }
    }

    /// Whether rows of `d` values can be stored.
    public func supports(headDim d: Int) -> Bool { self != .q8_0 || d % 32 == 0 }
}

/// Where one layer's keys and values of one sequence live: a list of fixed-size blocks, each holding for every
/// KV head `B` consecutive positions of keys and values at fixed byte offsets. Values are rows `[Hkv][B][Dh]`.
/// f32/f16 keys are stored transposed, `[Hkv][Dh][B]`, so the score kernel reads 8 positions as one vector;
/// q8_0 keys stay rows `[Hkv][B][Dh]`, because a q8_0 block quantises 32 consecutive values of one row.
public struct PagedKV {
    /// Block base addresses in position order (block i holds positions i·B ..< (i+1)·B).
    public let blocks: UnsafePointer<UnsafeMutableRawPointer>
    /// Positions per block.
    public let blockSize: Int
    /// Byte offsets of this layer's keys and values inside a block.
    public let keyOffset: Int, valueOffset: Int
    /// Element type.
    public let type: KVElementType

    /// Creates a view.
    public init(blocks: UnsafePointer<UnsafeMutableRawPointer>, blockSize: Int, keyOffset: Int, valueOffset: Int,
                type: KVElementType) {
        self.blocks = blocks
        self.blockSize = blockSize
        self.keyOffset = keyOffset
        self.valueOffset = valueOffset
        self.type = type
    }

    /// Stores rows `x` ([n, Hkv, Dh] floats) for positions first ..< first + n (keys or values).
    public func store(_ x: UnsafePointer<Float>, positions first: Int, count n: Int, kvHeads: Int, headDim d: Int,
                      values: Bool) {
        let offset = values ? valueOffset : keyOffset
        let transposed = !values && type != .q8_0
        for t in 0..<n {
            let p = first + t
            let block = blocks[p / blockSize] + offset
            for h in 0..<kvHeads {
                let src = x + (t * kvHeads + h) * d
                let head = block + h * blockSize * type.rowBytes(d)
                if transposed {
                    // Keys [Dh][B]: element i of position p at i·B + p % B.
                    for i in 0..<d {
                        let e = i * blockSize + p % blockSize
                        if type == .f32 { head.storeBytes(of: src[i], toByteOffset: 4 * e, as: Float.self) }
                        else { HalfConversion.storeF16(src[i], head, 2 * e) }
                    }
                    continue
                }
                let dst = head + (p % blockSize) * type.rowBytes(d)
                switch type {
                case .f32: dst.copyMemory(from: src, byteCount: d * 4)
                case .f16: HalfConversion.f32ToF16Row(src, k: d, into: dst)
                case .q8_0: QuantReference.quantize(src, k: d, as: .q8_0, into: dst)
                }
            }
        }
    }
}

extension Kernels {
    /// Query tokens per work item (with G query heads each).
    static let attentionQueryTile = 16

    /// Attention for T query tokens of one sequence at positions firstPosition ..< firstPosition + T, each seeing
    /// cache positions 0...its own. q: [T, H, Dh]; out: [T, H, Dh]. Query head h reads KV head h / G.
    public static func pagedAttention(q: UnsafePointer<Float>, cache kv: PagedKV, tokens: Int, firstPosition: Int,
                                      heads: Int, kvHeads: Int, headDim d: Int, into out: UnsafeMutablePointer<Float>,
                                      pool: ThreadPool = .shared) {
        let group = heads / kvHeads
        let tile = attentionQueryTile
        let tiles = (tokens + tile - 1) / tile
        pool.parallelFor(chunks: kvHeads * tiles) { item in
            let kh = item % kvHeads, t0 = (item / kvHeads) * tile
            let n = min(tile, tokens - t0)
            attentionTile(q: q, kv: kv, kvHead: kh, group: group, heads: heads, headDim: d,
                          firstToken: t0, tokens: n, firstPosition: firstPosition, into: out)
        }
    }

    /// One KV head × `tokens` query tokens starting at `firstToken`: G·tokens rows, online softmax over blocks.
    private static func attentionTile(q: UnsafePointer<Float>, kv: PagedKV, kvHead kh: Int, group: Int, heads: Int,
                                      headDim d: Int, firstToken: Int, tokens: Int, firstPosition: Int,
                                      into out: UnsafeMutablePointer<Float>) {
        let b = kv.blockSize, rows = group * tokens
        let lanes = (b + 7) / 8 * 8                    // score columns per block, whole vectors
        let scale = 1 / Float(d).squareRoot()
        let lastPosition = firstPosition + firstToken + tokens - 1
        let blockCount = lastPosition / b + 1
        // Keys are read straight from the cache when they are stored transposed in whole vectors (f32/f16 with
        // B % 8 == 0). Otherwise (q8_0, odd test block sizes), and for f16 when several row groups would each
        // convert the same block again, a block is first widened into f32 scratch.
        let wholeVectors = kv.type != .q8_0 && b % 8 == 0
        let widen = !wholeVectors || (kv.type == .f16 && rows > 4)
        let scratch = 2 * rows * d + rows * lanes + 3 * rows + (widen ? d * lanes + b * d : 0)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: scratch) { buf in
            let acc = buf.baseAddress!                 // [rows, Dh] running Σ p·v
            let qs = acc + rows * d                    // [rows, Dh] this item's query rows, packed
            let scores = qs + rows * d                 // [rows, lanes] scores, then probabilities
            let runMax = scores + rows * lanes         // [rows]
            let runSum = runMax + rows                 // [rows]
            let correction = runSum + rows             // [rows] rescale of acc for this block
            let kt = correction + rows, vf = kt + d * lanes  // scratch keys [Dh][lanes] and values [B][Dh]
            acc.initialize(repeating: 0, count: rows * d)
            runMax.initialize(repeating: -Float.infinity, count: rows)
            runSum.initialize(repeating: 0, count: rows)
            // Row r = (token i, head g): query head kh·G + g of token firstToken + i.
            for r in 0..<rows {
                let src = q + ((firstToken + r / group) * heads + kh * group + r % group) * d
                (qs + r * d).update(from: src, count: d)
            }
            for blk in 0..<blockCount {
                let base = blk * b
                let valid = min(b, lastPosition + 1 - base)  // positions of this block any row may see
                // Rows are in position order; those whose position is before this block see none of it.
                let active = max(0, base - firstPosition - firstToken) * group ..< rows
                let head = kv.blocks[blk] + kh * b * kv.type.rowBytes(d)
                var keys = UnsafeRawPointer(head + kv.keyOffset), values = UnsafeRawPointer(head + kv.valueOffset)
                var keyStride = b, f16 = kv.type == .f16
                if widen {
                    widenBlock(kv, keys: keys, values: values, count: valid, headDim: d, lanes: lanes,
                               keysInto: kt, valuesInto: vf)
                    keys = UnsafeRawPointer(kt); values = UnsafeRawPointer(vf); keyStride = lanes; f16 = false
                }
                if f16 {
                    attentionScores(F16Lanes.self, q: qs, headDim: d, keys: keys, keyStride: keyStride, lanes: lanes,
                                    rows: active, into: scores, sStride: lanes)
                } else {
                    attentionScores(F32Lanes.self, q: qs, headDim: d, keys: keys, keyStride: keyStride, lanes: lanes,
                                    rows: active, into: scores, sStride: lanes)
                }
                // Online softmax: new running max, rescale factor for what was accumulated, this block's
                // probabilities (0 past each row's own position), running sum.
                for r in active {
                    let seen = min(valid, firstPosition + firstToken + r / group - base + 1)
                    let s = scores + r * lanes
                    var top = SIMD8<Float>(repeating: -.infinity)
                    var c = 0
                    while c < lanes {
                        let x = keepFirst(load(s + c) * scale, seen - c, else: -.infinity)
                        store(x, s + c)
                        top = lanewiseMax(top, x)
                        c += 8
                    }
                    let m = max(runMax[r], horizontalMax(top))
                    correction[r] = exp(SIMD8(repeating: runMax[r] - m))[0]
                    var sum = SIMD8<Float>()
                    c = 0
                    while c < lanes {
                        let p = keepFirst(exp(load(s + c) - m), seen - c, else: 0)
                        store(p, s + c)
                        sum += p
                        c += 8
                    }
                    runSum[r] = runSum[r] * correction[r] + horizontalSum(sum)
                    runMax[r] = m
                }
                // Σ p·v over the block's first `valid` rows (later ones have p = 0 for every row that sees them).
                let seenAny = min(valid, firstPosition + firstToken + tokens - 1 - base + 1)
                if f16 {
                    attentionAccumulate(F16Lanes.self, p: scores, pStride: lanes, correction: correction, values: values,
                                        count: seenAny, headDim: d, rows: active, acc: acc)
                } else {
                    attentionAccumulate(F32Lanes.self, p: scores, pStride: lanes, correction: correction, values: values,
                                        count: seenAny, headDim: d, rows: active, acc: acc)
                }
            }
            for r in 0..<rows {
                let o = out + ((firstToken + r / group) * heads + kh * group + r % group) * d
                let inv = 1 / runSum[r]
                for i in 0..<d { o[i] = acc[r * d + i] * inv }
            }
        }
    }

    /// Keys of one head's block as f32 [Dh][lanes] (zero past `count`) and values as f32 [count][Dh].
    private static func widenBlock(_ kv: PagedKV, keys: UnsafeRawPointer, values: UnsafeRawPointer, count: Int,
                                   headDim d: Int, lanes: Int, keysInto kt: UnsafeMutablePointer<Float>,
                                   valuesInto vf: UnsafeMutablePointer<Float>) {
        let b = kv.blockSize
        switch kv.type {
        case .f16 where b % 8 == 0:
            // Keys [Dh][B] are one contiguous run (lanes == B); lanes past `count` are masked later.
            var e = 0
            while e < d * b { store(F16Lanes.load8(keys, e), kt + e); e += 8 }
            e = 0
            while e + 8 <= count * d { store(F16Lanes.load8(values, e), vf + e); e += 8 }
            while e < count * d { vf[e] = F16Lanes.load1(values, e); e += 1 }
        case .q8_0:
            // Rows are whole q8_0 blocks (d % 32 == 0), so `count` rows are count·d/32 consecutive blocks.
            kt.initialize(repeating: 0, count: d * lanes)
            QuantReference.dequantize(keys, dtype: .q8_0, k: count * d, into: vf)
            for j in 0..<count { for i in 0..<d { kt[i * lanes + j] = vf[j * d + i] } }
            QuantReference.dequantize(values, dtype: .q8_0, k: count * d, into: vf)
        case .f16:
            kt.initialize(repeating: 0, count: d * lanes)
            for i in 0..<d { for j in 0..<count { kt[i * lanes + j] = F16Lanes.load1(keys, i * b + j) } }
            for e in 0..<(count * d) { vf[e] = F16Lanes.load1(values, e) }
        case .f32:
            kt.initialize(repeating: 0, count: d * lanes)
            for i in 0..<d { for j in 0..<count { kt[i * lanes + j] = F32Lanes.load1(keys, i * b + j) } }
            vf.update(from: values.assumingMemoryBound(to: Float.self), count: count * d)
        }
    }
}
