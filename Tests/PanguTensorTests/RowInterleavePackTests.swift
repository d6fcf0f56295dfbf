import XCTest
@testable import PanguTensor

/// The load-time packer (`packFast`: 4×4 transpositions for runs of 4-byte units) writes exactly the bytes of the
/// unit-by-unit `pack`, for every interleaved format, on a sub-range of groups as the arena calls it.
final class RowInterleavePackTests: XCTestCase {
    func testPackFastEqualsPack() {
        for dtype in [DType.q8_0, .q4_0, .q4_K, .q6_K] {
            let rows = 32, k = 512
            var rng = QuantTestRNG(17)
            var w = [UInt8]()
            for _ in 0..<rows { w += QuantReference.quantize(rng.normals(k), as: dtype) }
            var slow = [UInt8](repeating: 0xAB, count: w.count), fast = slow
            w.withUnsafeBytes { src in
                let m = WeightMatrix(rows: rows, cols: k, dtype: dtype, data: src.baseAddress!)
                slow.withUnsafeMutableBytes { RowInterleave.pack(m, groups: 1..<3, into: $0.baseAddress!) }
                fast.withUnsafeMutableBytes { RowInterleave.packFast(m, groups: 1..<3, into: $0.baseAddress!) }
            }
            XCTAssertEqual(fast, slow, "\(dtype)")
            XCTAssertNotEqual(slow, [UInt8](repeating: 0xAB, count: w.count), "\(dtype): something was packed")
        }
    }

    /// Most units go through the transposition path (else it would not be faster).
    func testPlanUsesQuads() {
        XCTAssertEqual(RowInterleave.packPlan(.q8_0).quads.count, 2)
        XCTAssertEqual(RowInterleave.packPlan(.q4_0).quads.count, 1)
        XCTAssertEqual(RowInterleave.packPlan(.q4_K).quads.count, 8)
        XCTAssertEqual(RowInterleave.packPlan(.q6_K).quads.count, 1)
    }
}
