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
/// KV head `B` consecutive positions of keys `[Hkv][B][Dh]` and values `[Hkv][B][Dh]` at fixed byte offsets.
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
        for t in 0..<n {
            let p = first + t
            let block = blocks[p / blockSize] + offset
            for h in 0..<kvHeads {
                let src = x + (t * kvHeads + h) * d
                let dst = block + (h * blockSize + p % blockSize) * type.rowBytes(d)
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
        let scale = 1 / Float(d).squareRoot()
        let lastPosition = firstPosition + firstToken + tokens - 1
        let blockCount = lastPosition / b + 1
        withUnsafeTemporaryAllocation(of: Float.self, capacity: rows * d + rows * b + 2 * rows + 2 * b * d) { buf in
            let acc = buf.baseAddress!                 // [rows, Dh] running Σ p·v
            let scores = acc + rows * d                // [rows, B]
            let runMax = scores + rows * b             // [rows]
            let runSum = runMax + rows                 // [rows]
            let kf = runSum + rows, vf = kf + b * d    // [B, Dh] this block's keys / values as f32
            acc.initialize(repeating: 0, count: rows * d)
            runMax.initialize(repeating: -Float.infinity, count: rows)
            runSum.initialize(repeating: 0, count: rows)
            // Row r = (token i, head g): query head kh·G + g of token firstToken + i.
            func qRow(_ r: Int) -> UnsafePointer<Float> {
                q + ((firstToken + r / group) * heads + kh * group + r % group) * d
            }
            for blk in 0..<blockCount {
                let base = blk * b
                let valid = min(b, lastPosition + 1 - base)  // positions of this block any row may see
                load(kv, block: blk, offset: kv.keyOffset, head: kh, count: valid, headDim: d, into: kf)
                load(kv, block: blk, offset: kv.valueOffset, head: kh, count: valid, headDim: d, into: vf)
                for r in 0..<rows {
                    let position = firstPosition + firstToken + r / group
                    guard position >= base else { continue }  // block entirely in this row's future
                    let seen = min(valid, position - base + 1)
                    let qr = qRow(r), s = scores + r * b
                    var m = runMax[r]
                    for j in 0..<seen {
                        s[j] = dot(qr, kf + j * d, d) * scale
                        m = max(m, s[j])
                    }
                    // Rescale what was accumulated under the old max, then add this block's terms in order.
                    let correction = expf(runMax[r] - m)
                    let a = acc + r * d
                    var sum = runSum[r] * correction
                    scaleRow(a, correction, d)
                    for j in 0..<seen {
                        let p = expf(s[j] - m)
                        sum += p
                        axpy(a, p, vf + j * d, d)
                    }
                    runMax[r] = m
                    runSum[r] = sum
                }
            }
            for r in 0..<rows {
                let o = out + ((firstToken + r / group) * heads + kh * group + r % group) * d
                let inv = 1 / runSum[r]
                for i in 0..<d { o[i] = acc[r * d + i] * inv }
            }
        }
    }

    /// Keys or values of head `head`, positions 0..<count of block `block`, as floats.   out: [count, Dh]
    @inline(__always)
    private static func load(_ kv: PagedKV, block: Int, offset: Int, head: Int, count: Int, headDim d: Int,
                             into out: UnsafeMutablePointer<Float>) {
        let src = kv.blocks[block] + offset + head * kv.blockSize * kv.type.rowBytes(d)
        switch kv.type {
        case .q8_0:
            // Rows are whole q8_0 blocks (d % 32 == 0), so `count` rows are count·d/32 consecutive blocks.
            QuantReference.dequantize(src, dtype: .q8_0, k: count * d, into: out)
        case .f32: out.update(from: src.assumingMemoryBound(to: Float.self), count: count * d)
        case .f16:
            var i = 0
            let n = count * d
            while i + 8 <= n {
                UnsafeMutableRawPointer(out + i).storeBytes(of: HalfConversion.f16x8(src + 2 * i), as: SIMD8<Float>.self)
                i += 8
            }
            while i < n { out[i] = HalfConversion.loadF16(src, 2 * i); i += 1 }
        }
    }

    @inline(__always)
    private static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ d: Int) -> Float {
        var acc = SIMD8<Float>()
        var i = 0
        while i + 8 <= d {
            acc.addProduct(UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self),
                           UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self))
            i += 8
        }
        var s = acc.sum()
        while i < d { s += a[i] * b[i]; i += 1 }
        return s
    }

    /// a = a·c
    @inline(__always)
    private static func scaleRow(_ a: UnsafeMutablePointer<Float>, _ c: Float, _ d: Int) {
        var i = 0
        while i + 8 <= d {
            let v = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(a + i).storeBytes(of: v * c, as: SIMD8<Float>.self)
            i += 8
        }
        while i < d { a[i] *= c; i += 1 }
    }

    /// a += p·v
    @inline(__always)
    private static func axpy(_ a: UnsafeMutablePointer<Float>, _ p: Float, _ v: UnsafePointer<Float>, _ d: Int) {
        var i = 0
        while i + 8 <= d {
            let cur = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
            let add = UnsafeRawPointer(v + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(a + i).storeBytes(of: cur.addingProduct(p, add), as: SIMD8<Float>.self)
            i += 8
        }
        while i < d { a[i] += p * v[i]; i += 1 }
    }
}
