// Register-blocked inner loops of the paged attention (PagedAttention.swift), and a vector exp.
//
// Both products are small matrix products over one cache block, written so every accumulator stays in a
// register for the whole reduction (6 rows × 16 lanes = 12 independent FMA chains, more than the FMA latency ×
// throughput; 4-row and 1-row paths take the remainder):
//   scores  S[r][j] = Σ_i Q[r][i]·K[i][j]       keys stored transposed ([Dh][B]), so j runs along a vector;
//   values  A[r][:] = A[r][:]·c[r] + Σ_j P[r][j]·V[j][:]   values stored as rows ([B][Dh]).
// Every output element is one FMA chain in a fixed order (i, or j, ascending) starting from the same value, so
// the result does not depend on how rows or lanes are grouped: the 4-row and 1-row paths give identical bits.
#if arch(x86_64)
import _Builtin_intrinsics.intel
#endif

/// Reads cached elements of one storage type as floats.
protocol KVLanes {
    /// Elements `i ..< i + 8` of the array at `p`.
    static func load8(_ p: UnsafeRawPointer, _ i: Int) -> SIMD8<Float>
    /// Element `i` of the array at `p`.
    static func load1(_ p: UnsafeRawPointer, _ i: Int) -> Float
}

enum F32Lanes: KVLanes {
    @inline(__always) static func load8(_ p: UnsafeRawPointer, _ i: Int) -> SIMD8<Float> {
        p.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
    }
    @inline(__always) static func load1(_ p: UnsafeRawPointer, _ i: Int) -> Float {
        p.loadUnaligned(fromByteOffset: 4 * i, as: Float.self)
    }
}

enum F16Lanes: KVLanes {
    @inline(__always) static func load8(_ p: UnsafeRawPointer, _ i: Int) -> SIMD8<Float> {
        HalfConversion.f16x8(p + 2 * i)
    }
    @inline(__always) static func load1(_ p: UnsafeRawPointer, _ i: Int) -> Float {
        HalfConversion.loadF16(p, 2 * i)
    }
}

extension Kernels {
    /// s[r][j] = Σ_i q[r][i]·keys[i][j] for r in `rows`, j < `lanes` (a multiple of 8).
    /// q: [rows, Dh] floats; keys: [Dh][keyStride] elements of `K`; s: [rows][sStride].
    @inline(__always)
    static func attentionScores<K: KVLanes>(_: K.Type, q: UnsafePointer<Float>, headDim d: Int, keys: UnsafeRawPointer,
                                            keyStride: Int, lanes: Int, rows: Range<Int>,
                                            into s: UnsafeMutablePointer<Float>, sStride: Int) {
        var r = rows.lowerBound
        while r + 6 <= rows.upperBound {  // 6 rows × 16 lanes: 12 accumulators
            let q0 = q + r * d, q1 = q0 + d, q2 = q1 + d, q3 = q2 + d, q4 = q3 + d, q5 = q4 + d
            var c = 0
            while c + 16 <= lanes {
                var a0 = SIMD8<Float>(), b0 = SIMD8<Float>(), a1 = SIMD8<Float>(), b1 = SIMD8<Float>()
                var a2 = SIMD8<Float>(), b2 = SIMD8<Float>(), a3 = SIMD8<Float>(), b3 = SIMD8<Float>()
                var a4 = SIMD8<Float>(), b4 = SIMD8<Float>(), a5 = SIMD8<Float>(), b5 = SIMD8<Float>()
                for i in 0..<d {
                    let k0 = K.load8(keys, i * keyStride + c), k1 = K.load8(keys, i * keyStride + c + 8)
                    let x0 = SIMD8(repeating: q0[i]), x1 = SIMD8(repeating: q1[i]), x2 = SIMD8(repeating: q2[i])
                    a0 = a0.addingProduct(x0, k0); b0 = b0.addingProduct(x0, k1)
                    a1 = a1.addingProduct(x1, k0); b1 = b1.addingProduct(x1, k1)
                    a2 = a2.addingProduct(x2, k0); b2 = b2.addingProduct(x2, k1)
                    let x3 = SIMD8(repeating: q3[i]), x4 = SIMD8(repeating: q4[i]), x5 = SIMD8(repeating: q5[i])
                    a3 = a3.addingProduct(x3, k0); b3 = b3.addingProduct(x3, k1)
                    a4 = a4.addingProduct(x4, k0); b4 = b4.addingProduct(x4, k1)
                    a5 = a5.addingProduct(x5, k0); b5 = b5.addingProduct(x5, k1)
                }
                let o = s + r * sStride + c
                store(a0, o); store(b0, o + 8)
                store(a1, o + sStride); store(b1, o + sStride + 8)
                store(a2, o + 2 * sStride); store(b2, o + 2 * sStride + 8)
                store(a3, o + 3 * sStride); store(b3, o + 3 * sStride + 8)
                store(a4, o + 4 * sStride); store(b4, o + 4 * sStride + 8)
                store(a5, o + 5 * sStride); store(b5, o + 5 * sStride + 8)
                c += 16
            }
            if c < lanes {
                for row in r..<(r + 6) {
                    var a0 = SIMD8<Float>()
                    for i in 0..<d { a0 = a0.addingProduct(SIMD8(repeating: q[row * d + i]), K.load8(keys, i * keyStride + c)) }
                    store(a0, s + row * sStride + c)
                }
            }
            r += 6
        }
        while r + 4 <= rows.upperBound {
            let q0 = q + r * d, q1 = q0 + d, q2 = q1 + d, q3 = q2 + d
            var c = 0
            while c + 16 <= lanes {
                var a0 = SIMD8<Float>(), b0 = SIMD8<Float>(), a1 = SIMD8<Float>(), b1 = SIMD8<Float>()
                var a2 = SIMD8<Float>(), b2 = SIMD8<Float>(), a3 = SIMD8<Float>(), b3 = SIMD8<Float>()
                for i in 0..<d {
                    let k0 = K.load8(keys, i * keyStride + c), k1 = K.load8(keys, i * keyStride + c + 8)
                    let x0 = SIMD8(repeating: q0[i]), x1 = SIMD8(repeating: q1[i])
                    a0 = a0.addingProduct(x0, k0); b0 = b0.addingProduct(x0, k1)
                    a1 = a1.addingProduct(x1, k0); b1 = b1.addingProduct(x1, k1)
                    let x2 = SIMD8(repeating: q2[i]), x3 = SIMD8(repeating: q3[i])
                    a2 = a2.addingProduct(x2, k0); b2 = b2.addingProduct(x2, k1)
                    a3 = a3.addingProduct(x3, k0); b3 = b3.addingProduct(x3, k1)
                }
                let o = s + r * sStride + c
                store(a0, o); store(b0, o + 8)
                store(a1, o + sStride); store(b1, o + sStride + 8)
                store(a2, o + 2 * sStride); store(b2, o + 2 * sStride + 8)
                store(a3, o + 3 * sStride); store(b3, o + 3 * sStride + 8)
                c += 16
            }
            if c < lanes {  // one vector of lanes left
                var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
                for i in 0..<d {
                    let k0 = K.load8(keys, i * keyStride + c)
                    a0 = a0.addingProduct(SIMD8(repeating: q0[i]), k0)
                    a1 = a1.addingProduct(SIMD8(repeating: q1[i]), k0)
                    a2 = a2.addingProduct(SIMD8(repeating: q2[i]), k0)
                    a3 = a3.addingProduct(SIMD8(repeating: q3[i]), k0)
                }
                let o = s + r * sStride + c
                store(a0, o); store(a1, o + sStride); store(a2, o + 2 * sStride); store(a3, o + 3 * sStride)
            }
            r += 4
        }
        while r < rows.upperBound {
            let q0 = q + r * d
            var c = 0
            while c < lanes {
                var a0 = SIMD8<Float>()
                for i in 0..<d { a0 = a0.addingProduct(SIMD8(repeating: q0[i]), K.load8(keys, i * keyStride + c)) }
                store(a0, s + r * sStride + c)
                c += 8
            }
            r += 1
        }
    }

    /// acc[r][:] = acc[r][:]·correction[r] + Σ_{j < n} p[r][j]·values[j][:] for r in `rows`.
    /// p: [rows][pStride]; values: [n][Dh] elements of `V`; acc: [rows, Dh].
    @inline(__always)
    static func attentionAccumulate<V: KVLanes>(_: V.Type, p: UnsafePointer<Float>, pStride: Int,
                                                correction: UnsafePointer<Float>, values: UnsafeRawPointer, count n: Int,
                                                headDim d: Int, rows: Range<Int>, acc: UnsafeMutablePointer<Float>) {
        var r = rows.lowerBound
        while r + 6 <= rows.upperBound {  // 6 rows × 16 elements: 12 accumulators
            let p0 = p + r * pStride, p1 = p0 + pStride, p2 = p1 + pStride
            let p3 = p2 + pStride, p4 = p3 + pStride, p5 = p4 + pStride
            let c0 = SIMD8(repeating: correction[r]), c1 = SIMD8(repeating: correction[r + 1])
            let c2 = SIMD8(repeating: correction[r + 2]), c3 = SIMD8(repeating: correction[r + 3])
            let c4 = SIMD8(repeating: correction[r + 4]), c5 = SIMD8(repeating: correction[r + 5])
            let o = acc + r * d
            var e = 0
            while e + 16 <= d {
                var a0 = load(o + e) * c0, b0 = load(o + e + 8) * c0
                var a1 = load(o + d + e) * c1, b1 = load(o + d + e + 8) * c1
                var a2 = load(o + 2 * d + e) * c2, b2 = load(o + 2 * d + e + 8) * c2
                var a3 = load(o + 3 * d + e) * c3, b3 = load(o + 3 * d + e + 8) * c3
                var a4 = load(o + 4 * d + e) * c4, b4 = load(o + 4 * d + e + 8) * c4
                var a5 = load(o + 5 * d + e) * c5, b5 = load(o + 5 * d + e + 8) * c5
                for j in 0..<n {
                    let v0 = V.load8(values, j * d + e), v1 = V.load8(values, j * d + e + 8)
                    let x0 = SIMD8(repeating: p0[j]), x1 = SIMD8(repeating: p1[j]), x2 = SIMD8(repeating: p2[j])
                    a0 = a0.addingProduct(x0, v0); b0 = b0.addingProduct(x0, v1)
                    a1 = a1.addingProduct(x1, v0); b1 = b1.addingProduct(x1, v1)
                    a2 = a2.addingProduct(x2, v0); b2 = b2.addingProduct(x2, v1)
                    let x3 = SIMD8(repeating: p3[j]), x4 = SIMD8(repeating: p4[j]), x5 = SIMD8(repeating: p5[j])
                    a3 = a3.addingProduct(x3, v0); b3 = b3.addingProduct(x3, v1)
                    a4 = a4.addingProduct(x4, v0); b4 = b4.addingProduct(x4, v1)
                    a5 = a5.addingProduct(x5, v0); b5 = b5.addingProduct(x5, v1)
                }
                store(a0, o + e); store(b0, o + e + 8)
                store(a1, o + d + e); store(b1, o + d + e + 8)
                store(a2, o + 2 * d + e); store(b2, o + 2 * d + e + 8)
                store(a3, o + 3 * d + e); store(b3, o + 3 * d + e + 8)
                store(a4, o + 4 * d + e); store(b4, o + 4 * d + e + 8)
                store(a5, o + 5 * d + e); store(b5, o + 5 * d + e + 8)
                e += 16
            }
            for row in r..<(r + 6) { accumulateTail(V.self, p: p + row * pStride, correction: correction[row], values: values,
                                                    count: n, headDim: d, from: e, acc: acc + row * d) }
            r += 6
        }
        while r + 4 <= rows.upperBound {
            let p0 = p + r * pStride, p1 = p0 + pStride, p2 = p1 + pStride, p3 = p2 + pStride
            let c0 = SIMD8(repeating: correction[r]), c1 = SIMD8(repeating: correction[r + 1])
            let c2 = SIMD8(repeating: correction[r + 2]), c3 = SIMD8(repeating: correction[r + 3])
            let o = acc + r * d
            var e = 0
            while e + 16 <= d {
                var a0 = load(o + e) * c0, b0 = load(o + e + 8) * c0
                var a1 = load(o + d + e) * c1, b1 = load(o + d + e + 8) * c1
                var a2 = load(o + 2 * d + e) * c2, b2 = load(o + 2 * d + e + 8) * c2
                var a3 = load(o + 3 * d + e) * c3, b3 = load(o + 3 * d + e + 8) * c3
                for j in 0..<n {
                    let v0 = V.load8(values, j * d + e), v1 = V.load8(values, j * d + e + 8)
                    let x0 = SIMD8(repeating: p0[j]), x1 = SIMD8(repeating: p1[j])
                    a0 = a0.addingProduct(x0, v0); b0 = b0.addingProduct(x0, v1)
                    a1 = a1.addingProduct(x1, v0); b1 = b1.addingProduct(x1, v1)
                    let x2 = SIMD8(repeating: p2[j]), x3 = SIMD8(repeating: p3[j])
                    a2 = a2.addingProduct(x2, v0); b2 = b2.addingProduct(x2, v1)
                    a3 = a3.addingProduct(x3, v0); b3 = b3.addingProduct(x3, v1)
                }
                store(a0, o + e); store(b0, o + e + 8)
                store(a1, o + d + e); store(b1, o + d + e + 8)
                store(a2, o + 2 * d + e); store(b2, o + 2 * d + e + 8)
                store(a3, o + 3 * d + e); store(b3, o + 3 * d + e + 8)
                e += 16
            }
            for row in r..<(r + 4) { accumulateTail(V.self, p: p + row * pStride, correction: correction[row], values: values,
                                                    count: n, headDim: d, from: e, acc: acc + row * d) }
            r += 4
        }
        while r < rows.upperBound {
            accumulateTail(V.self, p: p + r * pStride, correction: correction[r], values: values, count: n, headDim: d,
                           from: 0, acc: acc + r * d)
            r += 1
        }
    }

    /// One row's elements `from ..< Dh` of `attentionAccumulate`, 8 then 1 at a time.
    @inline(__always)
    private static func accumulateTail<V: KVLanes>(_: V.Type, p: UnsafePointer<Float>, correction: Float,
                                                   values: UnsafeRawPointer, count n: Int, headDim d: Int, from: Int,
                                                   acc o: UnsafeMutablePointer<Float>) {
        var e = from
        while e + 8 <= d {
            var a = load(o + e) * correction
            for j in 0..<n { a = a.addingProduct(SIMD8(repeating: p[j]), V.load8(values, j * d + e)) }
            store(a, o + e)
            e += 8
        }
        while e < d {
            var a = o[e] * correction
            for j in 0..<n { a = a.addingProduct(p[j], V.load1(values, j * d + e)) }
            o[e] = a
            e += 1
        }
    }

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always) static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    /// eˣ per lane (Cephes' single-precision method: x = n·ln2 + r, |r| ≤ ln2/2, a degree-7 polynomial for eʳ,
    /// then 2ⁿ through the exponent bits); relative error about 2e-7. Inputs below -87.3 give ≈ 1e-38, not 0.
    @inline(__always)
    static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let x = lanewiseMin(lanewiseMax(x, SIMD8(repeating: -87.33654)), SIMD8(repeating: 88.37626))
        let n = (x * 1.44269504088896341).rounded(.toNearestOrEven)
        var r = x.addingProduct(n, SIMD8(repeating: -0.693359375))
        r = r.addingProduct(n, SIMD8(repeating: 2.12194440e-4))
        var y = SIMD8<Float>(repeating: 1.9875691500e-4)
        y = y * r + 1.3981999507e-3
        y = y * r + 8.3334519073e-3
        y = y * r + 4.1665795894e-2
        y = y * r + 1.6666665459e-1
        y = y * r + 5.0000001201e-1
        y = y * (r * r) + r + 1
        #if arch(x86_64)
        let bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23)
        return y * _mm256_castsi256_ps(bits)
        #else
        var scale = SIMD8<Float>()
        for l in 0..<8 { scale[l] = Float(sign: .plus, exponent: Int(n[l]), significand: 1) }
        return y * scale
        #endif
    }

    // The stdlib's SIMD masks, pointwise min/max and reductions compile to lane loops or calls here; these
    // spell out the AVX2 instruction, with a portable fallback.

    /// Lanes `0 ..< k` of `v`, `fill` in the others.
    @inline(__always)
    static func keepFirst(_ v: SIMD8<Float>, _ k: Int, else fill: Float) -> SIMD8<Float> {
        if k >= 8 { return v }
        #if arch(x86_64)
        let keep = _mm256_cmpgt_epi32(_mm256_set1_epi32(Int32(max(k, 0))), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
        return _mm256_blendv_ps(SIMD8(repeating: fill), v, _mm256_castsi256_ps(keep))
        #else
        var out = SIMD8<Float>(repeating: fill)
        for l in 0..<max(k, 0) { out[l] = v[l] }
        return out
        #endif
    }

    @inline(__always) static func lanewiseMax(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
        #if arch(x86_64)
        return _mm256_max_ps(a, b)
        #else
        return pointwiseMax(a, b)
        #endif
    }

    @inline(__always) static func lanewiseMin(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
        #if arch(x86_64)
        return _mm256_min_ps(a, b)
        #else
        return pointwiseMin(a, b)
        #endif
    }

    /// Largest lane (lanes are never NaN here).
    @inline(__always) static func horizontalMax(_ v: SIMD8<Float>) -> Float {
        let h = lanewiseMax(v.lowHalf, v.highHalf)
        return max(max(h[0], h[2]), max(h[1], h[3]))
    }

    /// Sum of the lanes, in a fixed order: ((0+4)+(2+6)) + ((1+5)+(3+7)).
    @inline(__always) static func horizontalSum(_ v: SIMD8<Float>) -> Float {
        let h = v.lowHalf + v.highHalf
        return (h[0] + h[2]) + (h[1] + h[3])
    }

    @inline(__always) static func lanewiseMax(_ a: SIMD4<Float>, _ b: SIMD4<Float>) -> SIMD4<Float> {
        #if arch(x86_64)
        return _mm_max_ps(a, b)
        #else
        return pointwiseMax(a, b)
        #endif
    }
}
