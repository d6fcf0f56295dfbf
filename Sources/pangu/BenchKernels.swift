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

    func run() throws {
        for name in dtypes.split(separator: ",") {
            guard let dtype = DType(rawValue: String(name)) else { throw ValidationError("unknown dtype \(name)") }
            let bytes = dtype.rowBytes(cols) * rows
            let buffers = (0..<copies).map { _ in UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64) }
            for b in buffers { memset(b, 0x3c, bytes) }
            let mats = buffers.map { WeightMatrix(rows: rows, cols: cols, dtype: dtype, data: $0) }
            for t in tokens.split(separator: ",").compactMap({ Int($0) }) {
                let x = [Float](repeating: 0.01, count: t * cols)
                var y = [Float](repeating: 0, count: t * rows)
                let iterations = t == 1 ? 64 : 4
                let start = monotonicNanoseconds()
                for i in 0..<iterations {
                    x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
                        Kernels.matmul(xp.baseAddress!, tokens: t, mats[i % copies], into: yp.baseAddress!)
                    } }
                }
                let s = Double(monotonicNanoseconds() - start) / 1e9 / Double(iterations)
                print(String(format: "%@ %dx%d T=%-3d %8.3f ms  %6.1f GB/s  %7.1f GFLOP/s", dtype.rawValue, rows, cols, t,
                             s * 1e3, Double(bytes) / s / 1e9, 2 * Double(rows * cols * t) / s / 1e9))
            }
            for b in buffers { b.deallocate() }
        }
    }
}
