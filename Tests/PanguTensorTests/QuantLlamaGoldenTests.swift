import XCTest
@testable import PanguTensor

/// Our reference quantisers against llama.cpp's own (`llama-quantize --pure`, ggml's quantize_row_*_ref):
/// 8 rows × 256 values of a tensor quantised by llama.cpp (scripts/quant/make_llama_quantize_goldens.sh).
final class QuantLlamaGoldenTests: XCTestCase {
    func testQuantizersAreBitExactWithLlamaQuantize() throws {
        let x = try QuantFixtures.floats("../llama_quantize/source.f32")
        XCTAssertEqual(x.count, 2048)
        for t in [DType.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q5_K, .q6_K] {
            let golden = try QuantFixtures.bytes("../llama_quantize/\(t).bin")
            let ours = QuantReference.quantize(x, as: t)
            XCTAssertEqual(ours.count, golden.count, "\(t)")
            let bad = (0..<(golden.count / t.bytesPerBlock)).filter {
                ours[($0 * t.bytesPerBlock)..<(($0 + 1) * t.bytesPerBlock)] != golden[($0 * t.bytesPerBlock)..<(($0 + 1) * t.bytesPerBlock)]
            }
            XCTAssertEqual(bad, [], "\(t): blocks differing from llama-quantize")
        }
    }
}
