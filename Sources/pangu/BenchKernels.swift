import ArgumentParser
import Foundation
import PanguTensor

struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-kernels", abstract: "Measure matrix-product kernels in GB/s of weights and GFLOP/s.")

    @Option(help: "Rows (output features).") var rows: Int = 4096
    @Option(help: "Columns (input features).") var cols: Int = 4096
    @Option(help: "Weight dtypes to test.") var dtypes: String = "bf16,f16,f32"
    @Option(help: "Tokens per call (1 = decode).") var tokens: String = "1,64"
    @Option(help: "Distinct matrices cycled so weights come from DRAM, not cache.") var copies: Int = 8
    @Flag(help: "Repack q8_0/q4_0/q4_K/q6_K/bf16/f16 matrices into the row-interleaved layout first, as model loading does.")
    var interleave = false

    func run() throws {
        for name in dtypes.split(separator: ",") {
            guard let dtype = DType(rawValue: String(name)) else { throw ValidationError("unknown dtype \(name)") }
            let bytes = dtype.rowBytes(cols) * rows
            let buffers = (0..<copies).map { _ in UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64) }
            for b in buffers { memset(b, 0x3c, bytes) }
            let arena = WeightArena()
            let mats = buffers.map { buffer -> WeightMatrix in
                let m = WeightMatrix(rows: rows, cols: cols, dtype: dtype, data: buffer)
                return interleave ? arena.prepare(m, releaseSource: false) : m
            }
            for t in tokens.split(separator: ",").compactMap({ Int($0) }) {
                let x = [Float](repeating: 0.01, count: t * cols)
                var y = [Float](repeating: 0, count: t * rows)
                // Median per-call time over ≥ 0.5 s of calls (this VM's neighbours make single runs noisy).
                var times: [Double] = []
                let budgetEnd = monotonicNanoseconds() + 500_000_000
                var i = 0
                while monotonicNanoseconds() < budgetEnd || times.count < 5 {
                    let start = monotonicNanoseconds()
                    x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
                        Kernels.matmul(xp.baseAddress!, tokens: t, mats[i % copies], into: yp.baseAddress!)
                    } }
                    times.append(Double(monotonicNanoseconds() - start) / 1e9)
                    i += 1
                }
                let s = times.sorted()[times.count / 2]
                print(String(format: "%@ %dx%d T=%-3d %8.3f ms  %6.1f GB/s  %7.1f GFLOP/s", dtype.rawValue, rows, cols, t,
                             s * 1e3, Double(bytes) / s / 1e9, 2 * Double(rows * cols * t) / s / 1e9))
            }
            for b in buffers { b.deallocate() }
        }
    }
}
