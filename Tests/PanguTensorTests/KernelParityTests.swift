// Every optimised kernel against its plain reference on random inputs with odd sizes.
import PanguTensor
import PanguTestSupport
import XCTest

final class KernelParityTests: XCTestCase {
    /// Stores `values` as `dtype` bytes and wraps them as a [rows, cols] matrix.
    func makeMatrix(_ values: [Float], rows: Int, cols: Int, dtype: DType) -> (WeightMatrix, UnsafeMutableRawPointer) {
        let p = UnsafeMutableRawPointer.allocate(byteCount: rows * cols * dtype.bytesPerBlock, alignment: 64)
        for (i, v) in values.enumerated() {
            switch dtype {
            case .f32: p.storeBytes(of: v, toByteOffset: i * 4, as: Float.self)
            case .f16: p.storeBytes(of: HalfConversion.floatToF16(v), toByteOffset: i * 2, as: UInt16.self)
            default: p.storeBytes(of: HalfConversion.floatToBF16(v), toByteOffset: i * 2, as: UInt16.self)
            }
        }
        return (WeightMatrix(rows: rows, cols: cols, dtype: dtype, data: p), p)
    }

    func testMatmulAllFloatTypesDecodeAndPrefill() {
        let pool = ThreadPool(threads: 3)
        for dtype in [DType.f32, .f16, .bf16] {
            for (rows, cols, tokens) in [(1, 8, 1), (1, 16, 1), (37, 64, 1), (13, 4096, 1), (37, 70, 1), (65, 300, 5), (130, 264, 9), (33, 520, 70), (21, 4200, 30)] {
                let (w, buf) = makeMatrix(randomFloats(rows * cols, seed: UInt64(rows * cols)), rows: rows, cols: cols, dtype: dtype)
                defer { buf.deallocate() }
                let x = randomFloats(tokens * cols, seed: 7)
                let bias = randomFloats(rows, seed: 9)
                let (bv, bbuf) = makeMatrix(bias, rows: 1, cols: rows, dtype: .f32)
                defer { bbuf.deallocate() }
                var y = [Float](repeating: .nan, count: tokens * rows)
                x.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer { yp in
                        Kernels.matmul(xp.baseAddress!, tokens: tokens, w,
                                       bias: WeightVector(count: rows, dtype: .f32, data: bv.data),
                                       into: yp.baseAddress!, pool: pool)
                    }
                }
                let ref = ReferenceKernels.matmul(x: x, tokens: tokens, weight: w, bias: bias)
                let c = compare(y, ref)
                XCTAssertTrue(c.within(relative: 1e-5), "\(dtype) \(rows)x\(cols) T=\(tokens): \(c)")
            }
        }
    }

    func testHalfConversionsRoundTrip() {
        for v in randomFloats(1000, seed: 3, scale: 100) {
            XCTAssertEqual(HalfConversion.f16ToFloat(HalfConversion.floatToF16(v)), Float(Float16(v)))
            let b = HalfConversion.bf16ToFloat(HalfConversion.floatToBF16(v))
            XCTAssertLessThanOrEqual(abs(b - v), abs(v) * 0x1p-8)
        }
        // Round-to-nearest-even at a tie: 1 + 2^-8 is exactly between two bf16 values → rounds to 1.
        XCTAssertEqual(HalfConversion.bf16ToFloat(HalfConversion.floatToBF16(1 + 0x1p-8)), 1)
        XCTAssertEqual(HalfConversion.bf16ToFloat(HalfConversion.floatToBF16(1 + 3 * 0x1p-8)), 1 + 4 * 0x1p-8)
    }

    func testRMSNorm() {
        let d = 77, t = 3
        let x = randomFloats(d * t, seed: 1, scale: 3), w = randomFloats(d, seed: 2)
        var y = [Float](repeating: 0, count: d * t)
        x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in y.withUnsafeMutableBufferPointer { yp in
            Kernels.rmsNorm(xp.baseAddress!, tokens: t, dim: d, weight: wp.baseAddress!, eps: 1e-5, into: yp.baseAddress!)
        } } }
        XCTAssertTrue(compare(y, ReferenceKernels.rmsNorm(x: x, weight: w, eps: 1e-5)).within(relative: 1e-5))
    }

    func testRoPEMatchesReference() {
        let d = 32, heads = 3
        for position in [0, 1, 17, 4000] {
            var v = randomFloats(d * heads, seed: UInt64(position))
            let expected = (0..<heads).flatMap { h in
                ReferenceKernels.rope(Array(v[(h * d)..<((h + 1) * d)]), position: position, theta: 16_000_000)
            }
            let inv = Kernels.ropeInverseFrequencies(headDim: d, theta: 16_000_000)
            v.withUnsafeMutableBufferPointer { Kernels.rope($0.baseAddress!, heads: heads, headDim: d, position: position, inverseFrequencies: inv) }
            XCTAssertTrue(compare(v, expected).within(relative: 1e-4), "position \(position)")
        }
    }

    func testSoftmaxAndSwiGLU() {
        var x = randomFloats(101, seed: 5, scale: 20)
        let expected = ReferenceKernels.softmax(x)
        x.withUnsafeMutableBufferPointer { Kernels.softmax($0.baseAddress!, count: 101) }
        XCTAssertTrue(compare(x, expected).within(relative: 1e-6))
        var g = randomFloats(50, seed: 6, scale: 5)
        let u = randomFloats(50, seed: 7)
        let e = ReferenceKernels.swiglu(gate: g, up: u)
        g.withUnsafeMutableBufferPointer { gp in u.withUnsafeBufferPointer { Kernels.swiglu(gate: gp.baseAddress!, up: $0.baseAddress!, count: 50) } }
        XCTAssertTrue(compare(g, e).within(relative: 1e-5))
    }

    /// Lays keys/values [S, Hkv, Dh] out in blocks of `b` positions (blocks in shuffled memory order, as a pool
    /// hands them out) and runs the paged kernel.
    func pagedAttention(q: [Float], k: [Float], v: [Float], tokens: Int, first: Int, heads: Int, kvHeads: Int, d: Int,
                        b: Int, type: KVElementType, pool: ThreadPool) -> [Float] {
        let s = first + tokens, blocks = (s + b - 1) / b
        let half = kvHeads * b * type.rowBytes(d)
        let memory = UnsafeMutableRawPointer.allocate(byteCount: blocks * 2 * half, alignment: 64)
        defer { memory.deallocate() }
        let order = (0..<blocks).reversed().map { $0 }
        var table = order.map { memory + $0 * 2 * half }
        var out = [Float](repeating: 0, count: tokens * heads * d)
        table.withUnsafeMutableBufferPointer { t in
            let kv = PagedKV(blocks: t.baseAddress!, blockSize: b, keyOffset: 0, valueOffset: half, type: type)
            k.withUnsafeBufferPointer { kv.store($0.baseAddress!, positions: 0, count: s, kvHeads: kvHeads, headDim: d, values: false) }
            v.withUnsafeBufferPointer { kv.store($0.baseAddress!, positions: 0, count: s, kvHeads: kvHeads, headDim: d, values: true) }
            q.withUnsafeBufferPointer { qp in out.withUnsafeMutableBufferPointer { op in
                Kernels.pagedAttention(q: qp.baseAddress!, cache: kv, tokens: tokens, firstPosition: first, heads: heads,
                                       kvHeads: kvHeads, headDim: d, into: op.baseAddress!, pool: pool)
            } }
        }
        return out
    }

    func testPagedAttentionMatchesReference() {
        let pool = ThreadPool(threads: 2)
        for (tokens, first, heads, kvHeads, d, b) in [(1, 0, 4, 2, 16, 16), (5, 3, 6, 3, 20, 4), (4, 0, 8, 1, 32, 16), (9, 20, 4, 2, 64, 16),
                                                      (37, 0, 4, 2, 16, 16), (3, 40, 4, 4, 24, 16), (20, 13, 2, 1, 8, 3)] {
            let s = first + tokens
            let q = randomFloats(tokens * heads * d, seed: 1, scale: 3), k = randomFloats(s * kvHeads * d, seed: 2)
            let v = randomFloats(s * kvHeads * d, seed: 3)
            let ref = ReferenceKernels.attention(q: q, k: k, v: v, tokens: tokens, firstPosition: first, heads: heads,
                                                 kvHeads: kvHeads, headDim: d)
            let out = pagedAttention(q: q, k: k, v: v, tokens: tokens, first: first, heads: heads, kvHeads: kvHeads,
                                     d: d, b: b, type: .f32, pool: pool)
            XCTAssertTrue(compare(out, ref).within(relative: 1e-5), "\(compare(out, ref))")
            // f16 storage rounds keys and values to 11 significant bits: relative error ~1e-3.
            let half = pagedAttention(q: q, k: k, v: v, tokens: tokens, first: first, heads: heads, kvHeads: kvHeads,
                                      d: d, b: b, type: .f16, pool: pool)
            XCTAssertTrue(compare(half, ref).within(relative: 3e-3), "\(compare(half, ref))")
            guard d % 32 == 0 else { continue }
            // q8_0 storage: 8-bit values with one scale per 32 → ~1% of each row's largest value.
            let q8 = pagedAttention(q: q, k: k, v: v, tokens: tokens, first: first, heads: heads, kvHeads: kvHeads,
                                    d: d, b: b, type: .q8_0, pool: pool)
            XCTAssertTrue(compare(q8, ref).within(relative: 2e-2), "\(compare(q8, ref))")
            XCTAssertFalse(compare(q8, ref).within(relative: 1e-6), "q8_0 must actually round")
        }
    }

    /// A token's attention output must not depend on which other query tokens share its tile or call.
    func testPagedAttentionIsBatchInvariant() {
        let pool = ThreadPool(threads: 2)
        let (tokens, heads, kvHeads, d) = (40, 4, 2, 16)
        let q = randomFloats(tokens * heads * d, seed: 4), k = randomFloats(tokens * kvHeads * d, seed: 5)
        let v = randomFloats(tokens * kvHeads * d, seed: 6)
        let all = pagedAttention(q: q, k: k, v: v, tokens: tokens, first: 0, heads: heads, kvHeads: kvHeads, d: d,
                                 b: 16, type: .f32, pool: pool)
        for split in [1, 7, 16, 33] {
            let rest = tokens - split
            let tail = pagedAttention(q: Array(q[(split * heads * d)...]), k: k, v: v, tokens: rest, first: split,
                                      heads: heads, kvHeads: kvHeads, d: d, b: 16, type: .f32, pool: pool)
            XCTAssertEqual(tail, Array(all[(split * heads * d)...]), "split at \(split)")
        }
    }

    func testThreadPoolRunsEveryChunkOnce() {
        let pool = ThreadPool(threads: 4)
        for chunks in [1, 2, 3, 17, 1000] {
            var hits = [Int](repeating: 0, count: chunks)
            hits.withUnsafeMutableBufferPointer { h in
                let p = h.baseAddress!
                pool.parallelFor(chunks: chunks) { c in p[c] += 1 }
            }
            XCTAssertEqual(hits, [Int](repeating: 1, count: chunks))
        }
    }
}
