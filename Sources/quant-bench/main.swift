// quant-bench: single-thread throughput of QuantKernels.gemm per weight format.
//
// Usage: quant-bench [seconds-per-case=0.4] [formats=q8_0,q4_0,...]   (swift build -c release --product quant-bench)
//        quant-bench attention [depth] [tokens] [f32|f16|q8_0]   (the paged attention kernel: AttentionBench.swift)
// Decode (tokens = 1) cases cycle through distinct copies of the weights (≥ 512 MiB in all) so DRAM, not the
// 32 MiB L3, is measured; reported as GB/s of weight bytes. Prefill (tokens = 32) uses one 4096×4096 matrix and
// reports GB/s of weight bytes per pass and effective GFLOP/s.
import Foundation
import PanguTensor

let args = CommandLine.arguments
if args.count > 1 && args[1] == "write-gguf" {
    guard args.count >= 4, let dt = DType(rawValue: args[3]) else {
        print("usage: quant-bench write-gguf PATH TYPE [1b|7b|tiny]"); exit(2)
    }
    try RandomGGUF.write(path: args[2], dtype: dt, size: args.count > 4 ? args[4] : "1b")
    print("wrote \(args[2])")
    exit(0)
}
if args.count > 1 && args[1] == "attention" {
    AttentionBench.run(Array(args.dropFirst(2)))
    exit(0)
}
let secondsPerCase = args.count > 1 ? Double(args[1]) ?? 0.4 : 0.4
let all: [DType] = [.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q5_K, .q6_K, .f16, .bf16, .f32]
let formats = args.count > 2 ? args[2].split(separator: ",").compactMap { DType(rawValue: String($0)) } : all

/// Wall-clock seconds (budget) and this thread's CPU seconds (timing: excludes time the shared VM deschedules us).
func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
func cpuNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Random bytes with every block's scale fields set to sane f16 values (so no NaN/denormal paths are timed).
func fillWeights(_ p: UnsafeMutableRawPointer, bytes: Int, dtype: DType, seed: UInt64) {
    var s = seed | 1
    let words = p.bindMemory(to: UInt64.self, capacity: bytes / 8)
    for i in 0..<(bytes / 8) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; words[i] = s }
    let bb = dtype.bytesPerBlock, half = Float16(0.01).bitPattern, bf = UInt16(0x3C23)
    switch dtype {
    case .f16: for i in 0..<(bytes / 2) { p.storeBytes(of: half, toByteOffset: 2 * i, as: UInt16.self) }
    case .bf16: for i in 0..<(bytes / 2) { p.storeBytes(of: bf, toByteOffset: 2 * i, as: UInt16.self) }
    case .f32: for i in 0..<(bytes / 4) { p.storeBytes(of: Float(0.01), toByteOffset: 4 * i, as: Float.self) }
    default:
        let scaleOffsets: [Int] = dtype == .q6_K ? [208] : ([.q4_1, .q5_1, .q4_K, .q5_K].contains(dtype) ? [0, 2] : [0])
        for b in 0..<(bytes / bb) { for o in scaleOffsets { p.storeBytes(of: half, toByteOffset: b * bb + o, as: UInt16.self) } }
    }
}

func bench(_ dtype: DType, rows: Int, k: Int, tokens: Int, cycle: Bool, interleaved: Bool = false) -> (gbs: Double, usPerCall: Double) {
    let rowBytes = dtype.rowBytes(k), matBytes = rows * rowBytes
    let copies = cycle ? max(1, (512 << 20) / matBytes + 1) : 1
    let w = UnsafeMutableRawPointer.allocate(byteCount: matBytes * copies, alignment: 64)
    defer { w.deallocate() }
    for c in 0..<copies { fillWeights(w + c * matBytes, bytes: matBytes, dtype: dtype, seed: UInt64(c + 1) * 0x9E37) }
    let afmt = QuantKernels.activationFormat(for: dtype)
    let x = UnsafeMutablePointer<Float>.allocate(capacity: k * tokens)
    defer { x.deallocate() }
    for i in 0..<(k * tokens) { x[i] = Float((i * 7919) % 1000) / 500 - 1 }
    let qx = UnsafeMutableRawPointer.allocate(byteCount: afmt.rowBytes(k) * tokens, alignment: 64)
    defer { qx.deallocate() }
    for t in 0..<tokens { QuantKernels.quantizeActivations(x + t * k, k: k, weights: dtype, into: qx + t * afmt.rowBytes(k)) }
    let out = UnsafeMutablePointer<Float>.allocate(capacity: rows * tokens)
    defer { out.deallocate() }
    if interleaved {
        let tmp = UnsafeMutableRawPointer.allocate(byteCount: matBytes, alignment: 64)
        defer { tmp.deallocate() }
        for c in 0..<copies {
            tmp.copyMemory(from: w + c * matBytes, byteCount: matBytes)
            RowInterleave.pack(WeightMatrix(rows: rows, cols: k, dtype: dtype, data: tmp), groups: 0..<(rows / 8), into: w + c * matBytes)
        }
    }
    let aux = UnsafeMutableRawPointer.allocate(byteCount: max(1, QuantKernels.interleavedAuxBytes(dtype, k: k) * tokens), alignment: 64)
    defer { aux.deallocate() }
    @inline(__always) func call(_ c: Int) {
        if interleaved {
            QuantKernels.gemmInterleaved(WeightMatrix(rows: rows, cols: k, dtype: dtype, data: w + c * matBytes, layout: .interleaved8),
                                         rows: 0..<rows, qx: qx, aux: aux, tokens: tokens, out: out, outStride: rows)
        } else {
            QuantKernels.gemm(weights: w + c * matBytes, dtype: dtype, k: k, rows: 0..<rows, qx: qx, tokens: tokens, out: out, outStride: rows)
        }
    }
    for t in 0..<tokens { QuantKernels.interleavedAux(qx + t * afmt.rowBytes(k), dtype: dtype, k: k, into: aux + t * QuantKernels.interleavedAuxBytes(dtype, k: k)) }
    // Warm up (touch every copy once).
    for c in 0..<copies {
        call(c)
    }
    var calls = 0, c = 0
    var samples = [Double]()
    let end = now() + secondsPerCase
    while now() < end || samples.count < 3 {
        let t0 = cpuNow()
        call(c)
        samples.append(cpuNow() - t0)
        calls += 1; c = (c + 1) % copies
    }
    samples.sort()
    let median = samples[samples.count / 2]
    return (Double(matBytes) / median / 1e9, median * 1e6)
}

print("quant-bench: single thread, \(secondsPerCase) s per case, median of per-call thread CPU time")
print("format | 4096x4096 decode GB/s | 12800x4096 decode GB/s | 4096x12800 decode GB/s | 4096x4096 t=32 prefill GB/s-per-pass (GFLOP/s)")
for dt in formats {
    for il in RowInterleave.supports(dt, rows: 4096, k: 4096) ? [false, true] : [false] {
        let a = bench(dt, rows: 4096, k: 4096, tokens: 1, cycle: true, interleaved: il)
        let b = bench(dt, rows: 12800, k: 4096, tokens: 1, cycle: true, interleaved: il)
        let c = bench(dt, rows: 4096, k: 12800, tokens: 1, cycle: true, interleaved: il)
        let p = bench(dt, rows: 4096, k: 4096, tokens: 32, cycle: false, interleaved: il)
        let gflops = 2.0 * 4096 * 4096 * 32 / (p.usPerCall * 1e-6) / 1e9
        print(String(format: "%@%@ | %.1f (%.0f us) | %.1f | %.1f | %.1f (%.0f GFLOP/s)", dt.rawValue, il ? "x8" : "", a.gbs, a.usPerCall, b.gbs, c.gbs, p.gbs, gflops))
        fflush(nil)
    }
}

// Quantiser speed: reference weight quantiser (what `pangu quantize` would use) and the activation quantiser.
print("format | weight quantize (QuantReference) M values/s | activation quantize k=4096 us")
for dt in formats where dt.isQuantized {
    let n = 1 << 20
    let x = (0..<n).map { Float(($0 * 7919) % 2001) / 1000 - 1 }
    var q = [UInt8](repeating: 0, count: dt.rowBytes(n))
    let t0 = cpuNow()
    x.withUnsafeBufferPointer { xp in q.withUnsafeMutableBytes { QuantReference.quantize(xp.baseAddress!, k: n, as: dt, into: $0.baseAddress!) } }
    let wq = Double(n) / (cpuNow() - t0) / 1e6
    let afmt = QuantKernels.activationFormat(for: dt)
    var a = [UInt8](repeating: 0, count: afmt.rowBytes(4096))
    let reps = 2000
    let t1 = cpuNow()
    x.withUnsafeBufferPointer { xp in
        a.withUnsafeMutableBytes { for r in 0..<reps { QuantKernels.quantizeActivations(xp.baseAddress! + (r % 64) * 4096, k: 4096, weights: dt, into: $0.baseAddress!) } }
    }
    let aus = (cpuNow() - t1) / Double(reps) * 1e6
    print(String(format: "%@ | %.1f | %.1f (%@)", dt.rawValue, wq, aus, afmt.rawValue))
}
