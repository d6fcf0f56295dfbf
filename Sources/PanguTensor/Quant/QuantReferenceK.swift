// Reference quantisers/dequantisers for the 256-value "K" super-block formats (q4_K, q5_K, q6_K, q8_K).
//
// Layouts (ggml, QK_K = 256):
//   q4_K {f16 d; f16 dmin; u8 scales[12]; u8 qs[128]}            8 sub-blocks of 32, 6-bit scale + 6-bit min each
//   q5_K {f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]} as q4_K plus a 5th bit per value
//   q6_K {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}           16 sub-blocks of 16, value = d * scale * (q - 32)
//   q8_K {f32 d; i8 qs[256]; i16 bsums[16]}                       activation format, bsums = sums of 16 qs
// The quantisers follow the weighted least-squares scale search of ggml's reference (`make_qkx2_quants`,
// `make_qx_quants`), written from the algorithm description.

extension QuantReference {
    /// ggml's `nearest_int`: round half to even.
    @inline(__always)
    static func nearestInt(_ v: Float) -> Int { safeInt(v.rounded(.toNearestOrEven)) }

    /// Unpacks the 6-bit (scale, min) pair of sub-block `j` (0..<8) from the 12 packed bytes at `q`.
    @inline(__always)
    static func scaleMinK4(_ j: Int, _ q: UnsafeRawPointer) -> (UInt8, UInt8) {
        let b = q.assumingMemoryBound(to: UInt8.self)
        if j < 4 { return (b[j] & 63, b[j + 4] & 63) }
        return ((b[j + 4] & 0xF) | ((b[j - 4] >> 6) << 4), (b[j + 4] >> 4) | ((b[j] >> 6) << 4))
    }

    /// Packs 8 six-bit scales and mins into the 12-byte q4_K/q5_K layout.
    static func packScalesK4(_ ls: [Int], _ lm: [Int], _ out: UnsafeMutableRawPointer) {
        let s = out.assumingMemoryBound(to: UInt8.self)
        for i in 0..<12 { s[i] = 0 }
        for j in 0..<8 {
            if j < 4 {
                s[j] = UInt8(ls[j]); s[j + 4] = UInt8(lm[j])
            } else {
                s[j + 4] = UInt8((ls[j] & 0xF) | ((lm[j] & 0xF) << 4))
                s[j - 4] |= UInt8((ls[j] >> 4) << 6)
                s[j] |= UInt8((lm[j] >> 4) << 6)
            }
        }
    }

    /// Weighted asymmetric search: finds scale and (non-positive) min so that x ≈ scale * L + min, L in 0...nmax.
    /// Returns (scale, -min) and writes the levels into `L`.
    static func makeQKX2(_ n: Int, _ nmax: Int, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                         _ L: UnsafeMutablePointer<UInt8>, _ aux: UnsafeMutablePointer<UInt8>,
                         rmin: Float, rdelta: Float, nstep: Int) -> (Float, Float) {
        var lo = x[0], hi = x[0], sumW: Float = w[0], sumX: Float = w[0] * x[0]
        for i in 1..<n { lo = min(lo, x[i]); hi = max(hi, x[i]); sumW += w[i]; sumX += w[i] * x[i] }
        if lo > 0 { lo = 0 }
        if hi == lo { for i in 0..<n { L[i] = 0 }; return (0, -lo) }
        var iscale = Float(nmax) / (hi - lo), scale = 1 / iscale, bestErr: Float = 0
        for i in 0..<n {
            let l = max(0, min(nmax, nearestInt(iscale * (x[i] - lo))))
            L[i] = UInt8(l)
            let diff = scale * Float(l) + lo - x[i]
            bestErr += w[i] * (diff * diff)
        }
        for step in 0...nstep {
            iscale = (rmin + rdelta * Float(step) + Float(nmax)) / (hi - lo)
            var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
            for i in 0..<n {
                let l = max(0, min(nmax, nearestInt(iscale * (x[i] - lo))))
                aux[i] = UInt8(l)
                let fl = Float(l)
                sumL += w[i] * fl; sumL2 += w[i] * fl * fl; sumXL += w[i] * fl * x[i]
            }
            let det = sumW * sumL2 - sumL * sumL
            guard det > 0 else { continue }
            var thisScale = (sumW * sumXL - sumX * sumL) / det
            var thisMin = (sumL2 * sumX - sumL * sumXL) / det
            if thisMin > 0 { thisMin = 0; thisScale = sumXL / sumL2 }
            var err: Float = 0
            for i in 0..<n { let diff = thisScale * Float(aux[i]) + thisMin - x[i]; err += w[i] * (diff * diff) }
            if err < bestErr {
                for i in 0..<n { L[i] = aux[i] }
                bestErr = err; scale = thisScale; lo = thisMin
            }
        }
        return (scale, -lo)
    }

    /// Symmetric search with x² weights: x ≈ scale * (L - nmax), L in 0..<2*nmax. Returns the scale.
    static func makeQX(_ n: Int, _ nmax: Int, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<UInt8>) -> Float {
        var amax: Float = 0, maxv: Float = 0
        for i in 0..<n where amax < abs(x[i]) { amax = abs(x[i]); maxv = x[i] }
        if amax < 1e-15 { for i in 0..<n { L[i] = 0 }; return 0 }
        func levels(_ iscale: Float, _ out: UnsafeMutablePointer<UInt8>) -> (Float, Float) {
            var sumLX: Float = 0, sumL2: Float = 0
            for i in 0..<n {
                let l = max(-nmax, min(nmax - 1, nearestInt(iscale * x[i])))
                out[i] = UInt8(l + nmax)
                let w = x[i] * x[i]
                sumLX += w * x[i] * Float(l); sumL2 += w * Float(l) * Float(l)
            }
            return (sumLX, sumL2)
        }
        let (lx0, l20) = levels(-Float(nmax) / maxv, L)
        var scale: Float = l20 > 0 ? lx0 / l20 : 0, best = scale * lx0
        let aux = UnsafeMutablePointer<UInt8>.allocate(capacity: n)
        defer { aux.deallocate() }
        for step in -9...9 where step != 0 {
            let (lx, l2) = levels(-(Float(nmax) + 0.1 * Float(step)) / maxv, aux)
            if l2 > 0 && lx * lx > best * l2 {
                for i in 0..<n { L[i] = aux[i] }
                scale = lx / l2; best = scale * lx
            }
        }
        return scale
    }

    /// Weights used by the q4_K/q5_K searches: rms of each 32-value sub-block plus |x|.
    static func kWeights(_ x: UnsafePointer<Float>) -> [Float] {
        var w = [Float](repeating: 0, count: 256)
        for j in 0..<8 {
            var s: Float = 0
            for l in 0..<32 { s += x[32 * j + l] * x[32 * j + l] }
            let av = (s / 32).squareRoot()
            for l in 0..<32 { w[32 * j + l] = av + abs(x[32 * j + l]) }
        }
        return w
    }

    /// Shared q4_K/q5_K scale selection: writes d, dmin, scales (bytes 0..<16) and returns levels L[256] in 0...nmax.
    static func quantizeScalesK(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer, nmax: Int, rmin: Float,
                                nstep: Int) -> [UInt8] {
        var L = [UInt8](repeating: 0, count: 256)
        var scales = [Float](repeating: 0, count: 8), mins = [Float](repeating: 0, count: 8)
        let w = kWeights(x)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { aux in
            L.withUnsafeMutableBufferPointer { lp in
                w.withUnsafeBufferPointer { wp in
                    for j in 0..<8 {
                        (scales[j], mins[j]) = makeQKX2(32, nmax, x + 32 * j, wp.baseAddress! + 32 * j, lp.baseAddress! + 32 * j,
                                                        aux.baseAddress!, rmin: rmin, rdelta: 0.1, nstep: nstep)
                    }
                }
            }
        }
        let maxScale = scales.max()!, maxMin = mins.max()!
        let invScale: Float = maxScale > 0 ? 63 / maxScale : 0, invMin: Float = maxMin > 0 ? 63 / maxMin : 0
        let ls = scales.map { min(63, nearestInt(invScale * $0)) }, lm = mins.map { min(63, nearestInt(invMin * $0)) }
        HalfConversion.storeF16(maxScale / 63, out)
        HalfConversion.storeF16(maxMin / 63, out, 2)
        packScalesK4(ls, lm, out + 4)
        let d = HalfConversion.loadF16(out), dmin = HalfConversion.loadF16(out, 2)
        for j in 0..<8 {
            let (sc, m) = scaleMinK4(j, out + 4)
            let dd = d * Float(sc)
            if dd == 0 { continue }
            let dm = dmin * Float(m)
            for i in 0..<32 { L[32 * j + i] = UInt8(max(0, min(nmax, nearestInt((x[32 * j + i] + dm) / dd)))) }
        }
        return L
    }

    static func quantizeQ4_K(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
        let L = quantizeScalesK(x, out, nmax: 15, rmin: -1, nstep: 20)
        let q = out.assumingMemoryBound(to: UInt8.self) + 16
        for j in stride(from: 0, to: 256, by: 64) {
            for l in 0..<32 { q[j / 2 + l] = L[j + l] | (L[j + l + 32] << 4) }
        }
    }

    static func dequantizeQ4_K(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = HalfConversion.loadF16(b), dmin = HalfConversion.loadF16(b, 2)
        let q = b.assumingMemoryBound(to: UInt8.self) + 16
        for j in 0..<4 {
            let (s1, m1) = scaleMinK4(2 * j, b + 4), (s2, m2) = scaleMinK4(2 * j + 1, b + 4)
            let d1 = d * Float(s1), dm1 = dmin * Float(m1), d2 = d * Float(s2), dm2 = dmin * Float(m2)
            for l in 0..<32 {
                y[64 * j + l] = d1 * Float(q[32 * j + l] & 0xF) - dm1
                y[64 * j + 32 + l] = d2 * Float(q[32 * j + l] >> 4) - dm2
            }
        }
    }

    static func quantizeQ5_K(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
        let L = quantizeScalesK(x, out, nmax: 31, rmin: -0.5, nstep: 15)
        let qh = out.assumingMemoryBound(to: UInt8.self) + 16, ql = qh + 32
        for i in 0..<32 { qh[i] = 0 }
        for j in 0..<4 {
            let m1 = UInt8(1) << UInt8(2 * j), m2 = UInt8(2) << UInt8(2 * j)
            for l in 0..<32 {
                var l1 = L[64 * j + l], l2 = L[64 * j + 32 + l]
                if l1 > 15 { l1 -= 16; qh[l] |= m1 }
                if l2 > 15 { l2 -= 16; qh[l] |= m2 }
                ql[32 * j + l] = l1 | (l2 << 4)
            }
        }
    }

    static func dequantizeQ5_K(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = HalfConversion.loadF16(b), dmin = HalfConversion.loadF16(b, 2)
        let qh = b.assumingMemoryBound(to: UInt8.self) + 16, ql = qh + 32
        for j in 0..<4 {
            let (s1, m1) = scaleMinK4(2 * j, b + 4), (s2, m2) = scaleMinK4(2 * j + 1, b + 4)
            let d1 = d * Float(s1), dm1 = dmin * Float(m1), d2 = d * Float(s2), dm2 = dmin * Float(m2)
            let u1 = UInt8(1) << UInt8(2 * j), u2 = UInt8(2) << UInt8(2 * j)
            for l in 0..<32 {
                let lo = (ql[32 * j + l] & 0xF) + (qh[l] & u1 != 0 ? 16 : 0)
                let hi = (ql[32 * j + l] >> 4) + (qh[l] & u2 != 0 ? 16 : 0)
                y[64 * j + l] = d1 * Float(lo) - dm1
                y[64 * j + 32 + l] = d2 * Float(hi) - dm2
            }
        }
    }

    static func quantizeQ6_K(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
        var L = [UInt8](repeating: 0, count: 256)
        var scales = [Float](repeating: 0, count: 16)
        var maxScale: Float = 0, maxAbsScale: Float = 0
        L.withUnsafeMutableBufferPointer { lp in
            for ib in 0..<16 {
                let s = makeQX(16, 32, x + 16 * ib, lp.baseAddress! + 16 * ib)
                scales[ib] = s
                if abs(s) > maxAbsScale { maxAbsScale = abs(s); maxScale = s }
            }
        }
        let o = out.assumingMemoryBound(to: UInt8.self)
        if maxAbsScale < 1e-15 {
            for i in 0..<210 { o[i] = 0 }
            return
        }
        let iscale = -128 / maxScale
        HalfConversion.storeF16(1 / iscale, out, 208)
        let sc = UnsafeMutableRawPointer(o + 192)
        for ib in 0..<16 {
            sc.storeBytes(of: Int8(clamping: min(127, nearestInt(iscale * scales[ib]))), toByteOffset: ib, as: Int8.self)
        }
        let d = HalfConversion.loadF16(out, 208)
        for j in 0..<16 {
            let dd = d * Float(sc.load(fromByteOffset: j, as: Int8.self))
            if dd == 0 { continue }
            for i in 0..<16 { L[16 * j + i] = UInt8(max(-32, min(31, nearestInt(x[16 * j + i] / dd))) + 32) }
        }
        let ql = o, qh = o + 128
        for n in 0..<2 {
            for l in 0..<32 {
                let a = L[128 * n + l], b = L[128 * n + l + 32], c = L[128 * n + l + 64], e = L[128 * n + l + 96]
                ql[64 * n + l] = (a & 0xF) | ((c & 0xF) << 4)
                ql[64 * n + l + 32] = (b & 0xF) | ((e & 0xF) << 4)
                qh[32 * n + l] = (a >> 4) | ((b >> 4) << 2) | ((c >> 4) << 4) | ((e >> 4) << 6)
            }
        }
    }

    static func dequantizeQ6_K(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = HalfConversion.loadF16(b, 208)
        let ql = b.assumingMemoryBound(to: UInt8.self), qh = ql + 128
        let sc = UnsafeRawPointer(ql + 192)
        for n in 0..<2 {
            for l in 0..<32 {
                let isc = 8 * n + l / 16
                let h = qh[32 * n + l], lo = ql[64 * n + l], hi = ql[64 * n + l + 32]
                let q1 = Int((lo & 0xF) | ((h & 3) << 4)) - 32
                let q2 = Int((hi & 0xF) | (((h >> 2) & 3) << 4)) - 32
                let q3 = Int((lo >> 4) | (((h >> 4) & 3) << 4)) - 32
                let q4 = Int((hi >> 4) | (((h >> 6) & 3) << 4)) - 32
                func s(_ i: Int) -> Float { d * Float(sc.load(fromByteOffset: isc + i, as: Int8.self)) }
                y[128 * n + l] = s(0) * Float(q1)
                y[128 * n + l + 32] = s(2) * Float(q2)
                y[128 * n + l + 64] = s(4) * Float(q3)
                y[128 * n + l + 96] = s(6) * Float(q4)
            }
        }
    }

    static func quantizeQ8_K(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
        let maxv = signedAbsMax(x, 256)
        let qs = out + 4
        if maxv == 0 {
            out.storeBytes(of: Float(0), as: Float.self)
            for i in 0..<(256 + 32) { qs.storeBytes(of: UInt8(0), toByteOffset: i, as: UInt8.self) }
            return
        }
        let iscale = -127 / maxv
        var bsum = 0
        for j in 0..<256 {
            let v = Int8(clamping: min(127, nearestInt(iscale * x[j])))
            qs.storeBytes(of: v, toByteOffset: j, as: Int8.self)
            bsum += Int(v)
            if j % 16 == 15 {
                out.storeBytes(of: Int16(bsum).littleEndian, toByteOffset: 260 + 2 * (j / 16), as: Int16.self)
                bsum = 0
            }
        }
        out.storeBytes(of: (1 / iscale).bitPattern.littleEndian, as: UInt32.self)
    }

    static func dequantizeQ8_K(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = Float(bitPattern: UInt32(littleEndian: b.loadUnaligned(as: UInt32.self)))
        for j in 0..<256 { y[j] = d * Float(b.load(fromByteOffset: 4 + j, as: Int8.self)) }
    }
}
