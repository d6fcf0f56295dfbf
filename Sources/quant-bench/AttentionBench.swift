// `quant-bench attention`: Kernels.pagedAttention over a synthetic paged cache, timed on the shared pool.
//
// Usage: quant-bench attention [depth=4096] [tokens=512] [type=f16] [heads=32] [kvHeads=8] [headDim=128]
// Times `tokens` query tokens at positions depth ..< depth + tokens (the prefill of a pp512 at that depth, one
// layer) and reports wall seconds per call and GFLOP/s (4 flops per query head, key and head dimension: QKᵀ and PV).
import Foundation
import PanguTensor

enum AttentionBench {
    static func run(_ args: [String]) {
        func arg(_ i: Int, _ d: Int) -> Int { args.count > i ? Int(args[i]) ?? d : d }
        let depth = arg(0, 4096), tokens = arg(1, 512)
        let type = args.count > 2 ? KVElementType(rawValue: args[2]) ?? .f16 : .f16
        let heads = arg(3, 32), kvHeads = arg(4, 8), d = arg(5, 128)
        let b = 16, s = depth + tokens, blocks = (s + b - 1) / b
        let half = kvHeads * b * type.rowBytes(d)
        let memory = UnsafeMutableRawPointer.allocate(byteCount: blocks * 2 * half, alignment: 64)
        defer { memory.deallocate() }
        var table = (0..<blocks).map { memory + $0 * 2 * half }
        var seed: UInt64 = 0x9E3779B97F4A7C15
        func random(_ n: Int) -> [Float] {
            (0..<n).map { _ in
                seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17
                return Float(seed % 2001) / 1000 - 1
            }
        }
        let k = random(s * kvHeads * d), v = random(s * kvHeads * d), q = random(tokens * heads * d)
        var out = [Float](repeating: 0, count: tokens * heads * d)
        let flops = (0..<tokens).reduce(0.0) { $0 + Double(depth + $1 + 1) } * Double(heads * d * 4)
        table.withUnsafeMutableBufferPointer { t in
            let kv = PagedKV(blocks: t.baseAddress!, blockSize: b, keyOffset: 0, valueOffset: half, type: type)
            kv.store(k, positions: 0, count: s, kvHeads: kvHeads, headDim: d, values: false)
            kv.store(v, positions: 0, count: s, kvHeads: kvHeads, headDim: d, values: true)
            q.withUnsafeBufferPointer { qp in out.withUnsafeMutableBufferPointer { op in
                var samples = [Double]()
                let end = now() + 3
                while samples.count < 3 || (now() < end && samples.count < 20) {
                    let t0 = now()
                    Kernels.pagedAttention(q: qp.baseAddress!, cache: kv, tokens: tokens, firstPosition: depth,
                                           heads: heads, kvHeads: kvHeads, headDim: d, into: op.baseAddress!)
                    samples.append(now() - t0)
                }
                samples.sort()
                let m = samples[samples.count / 2]
                print(String(format: "attention depth %d tokens %d %@ H %d Hkv %d Dh %d: %.4f s/call, %.1f GFLOP/s (%d samples); checksum %.6f",
                             depth, tokens, type.rawValue, heads, kvHeads, d, m, flops / m / 1e9, samples.count,
                             op.reduce(0, +)))
            } }
        }
    }
}
