// Matrix products with GGML block-quantised weights: each activation row is quantised once per call to the
// format the weight type pairs with, then `QuantKernels.gemm` runs integer dot products over row ranges that the
// thread pool hands out.

enum QuantMatMul {
    static let rowBlock = 32

    static func run(_ x: UnsafePointer<Float>, tokens: Int, _ w: WeightMatrix, into y: UnsafeMutablePointer<Float>,
                    pool: ThreadPool) {
        let k = w.cols, n = w.rows
        let actType = QuantKernels.activationFormat(for: w.dtype)
        let actRow = actType.rowBytes(k)
        let qx = UnsafeMutableRawPointer.allocate(byteCount: max(1, actRow * tokens), alignment: 64)
        defer { qx.deallocate() }
        let interleaved = w.layout == .interleaved8
        let auxRow = interleaved ? QuantKernels.interleavedAuxBytes(w.dtype, k: k) : 0
        let aux = UnsafeMutableRawPointer.allocate(byteCount: max(1, auxRow * tokens), alignment: 64)
        defer { aux.deallocate() }
        pool.parallelFor(chunks: tokens) { t in
            QuantKernels.quantizeActivations(x + t * k, k: k, weights: w.dtype, into: qx + t * actRow)
            if interleaved { QuantKernels.interleavedAux(qx + t * actRow, dtype: w.dtype, k: k, into: aux + t * auxRow) }
        }
        let tokenBlock = 32
        let rowBlocks = (n + rowBlock - 1) / rowBlock
        let tokenBlocks = (tokens + tokenBlock - 1) / tokenBlock
        pool.parallelFor(chunks: rowBlocks * tokenBlocks) { item in
            let rb = item % rowBlocks, tb = item / rowBlocks
            let rows = (rb * rowBlock)..<min(n, (rb + 1) * rowBlock)
            let t0 = tb * tokenBlock, t1 = min(tokens, t0 + tokenBlock)
            // gemm writes out[t * outStride + (r - rows.lowerBound)]: point `out` at y[t0, rows.lowerBound].
            if interleaved {
                QuantKernels.gemmInterleaved(w, rows: rows, qx: UnsafeRawPointer(qx + t0 * actRow),
                                             aux: UnsafeRawPointer(aux + t0 * auxRow), tokens: t1 - t0,
                                             out: y + t0 * n + rows.lowerBound, outStride: n)
                return
            }
            QuantKernels.gemm(weights: w.data, dtype: w.dtype, k: k, rows: rows,
                              qx: UnsafeRawPointer(qx + t0 * actRow), tokens: t1 - t0,
                              out: y + t0 * n + rows.lowerBound, outStride: n)
        }
    }
}
