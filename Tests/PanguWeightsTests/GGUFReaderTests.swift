import XCTest
import Foundation
@testable import PanguWeights
import PanguTensor

/// Reads a GGUF written by the official `gguf` Python package (scripts/quant/make_gguf_fixture.py).
final class GGUFReaderTests: XCTestCase {
    func fixture() throws -> GGUFFile {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/python_written", withExtension: "gguf"))
        return try GGUFFile(path: url.path)
    }

    func testMetadataFromPythonWriter() throws {
        let f = try fixture()
        XCTAssertEqual(f.version, 3)
        XCTAssertEqual(f.alignment, 32)
        XCTAssertEqual(f.architecture, "pangu-embedded")
        XCTAssertEqual(f["pangu-embedded.block_count"], .uint32(2))
        XCTAssertEqual(f["pangu-embedded.context_length"], .uint32(32768))
        XCTAssertEqual(f["pangu-embedded.rope.freq_base"], .float32(16_000_000))
        XCTAssertEqual(f["pangu-embedded.attention.layer_norm_rms_epsilon"], .float32(1e-5))
        XCTAssertEqual(f["test.u8"], .uint8(200))
        XCTAssertEqual(f["test.i8"], .int8(-100))
        XCTAssertEqual(f["test.u16"], .uint16(60000))
        XCTAssertEqual(f["test.i16"], .int16(-30000))
        XCTAssertEqual(f["test.u32"], .uint32(4_000_000_000))
        XCTAssertEqual(f["test.i32"], .int32(-2_000_000_000))
        XCTAssertEqual(f["test.f32"], .float32(0.125))
        XCTAssertEqual(f["test.u64"], .uint64((1 << 63) + 5))
        XCTAssertEqual(f["test.i64"], .int64(-(1 << 62)))
        XCTAssertEqual(f["test.f64"], .float64(3.141592653589793))
        XCTAssertEqual(f["test.bool"], .bool(true))
        XCTAssertEqual(f["test.string"], .string("héllo ▁wörld"))
        XCTAssertEqual(f["test.ints"], .array(.int32, [.int32(1), .int32(-2), .int32(3)]))
        XCTAssertEqual(f["test.floats"], .float32s([0.5, -1.5]))
        XCTAssertEqual(f["tokenizer.ggml.tokens"]?.stringArray, ["<unk>", "<s>", "</s>", "▁hi", "你好"])
        XCTAssertEqual(f["tokenizer.ggml.scores"], .float32s([0, 0, 0, -1.5, -2.25]))
        XCTAssertEqual(f["tokenizer.ggml.token_type"], .int32s([2, 3, 3, 1, 1]))
        XCTAssertEqual(f.metadataKeys.first, "general.architecture")
    }

    func testTensorsFromPythonWriter() throws {
        let f = try fixture()
        XCTAssertEqual(f.tensors.map(\.name), ["t_f32", "t_f16", "t_q8_0", "t_q4_0", "t_bf16"])
        let a = try f.tensor("t_f32")
        XCTAssertEqual(a.dtype, .f32); XCTAssertEqual(a.dims, [5, 3]); XCTAssertEqual(a.byteCount, 60)
        XCTAssertEqual((0..<15).map { a.data.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) }, (0..<15).map { Float($0 - 7) })
        let h = try f.tensor("t_f16")
        XCTAssertEqual(h.dtype, .f16); XCTAssertEqual(h.dims, [32, 2])
        var hv = [Float](repeating: 0, count: 64)
        QuantReference.dequantize(h.data, dtype: .f16, k: 64, into: &hv)
        XCTAssertEqual(hv, (0..<64).map { Float($0) / 4 })
        let q8 = try f.tensor("t_q8_0")
        XCTAssertEqual(q8.dtype, .q8_0); XCTAssertEqual(q8.dims, [64, 3]); XCTAssertEqual(q8.byteCount, 3 * 2 * 34)
        let q8src = (0..<192).map { Float($0 % 17) / 8 - 1 }
        XCTAssertEqual([UInt8](UnsafeRawBufferPointer(start: q8.data, count: q8.byteCount)), QuantReference.quantize(q8src, as: .q8_0))
        let q4 = try f.tensor("t_q4_0")
        XCTAssertEqual(q4.dtype, .q4_0); XCTAssertEqual(q4.dims, [32, 2])
        let q4src = (0..<64).map { Float($0 % 16) - 7.5 }
        XCTAssertEqual([UInt8](UnsafeRawBufferPointer(start: q4.data, count: q4.byteCount)), QuantReference.quantize(q4src, as: .q4_0))
        let b = try f.tensor("t_bf16")
        XCTAssertEqual(b.dtype, .bf16)
        var bv = [Float](repeating: 0, count: 8)
        QuantReference.dequantize(b.data, dtype: .bf16, k: 8, into: &bv)
        XCTAssertEqual(bv, [1, -2, 0.5, 3, 0, -0.25, 7, 1024])
        for t in f.tensors { XCTAssertEqual((f.dataOffset + t.offset) % f.alignment, 0, t.name) }
        XCTAssertThrowsError(try f.tensor("missing")) { XCTAssertEqual($0 as? GGUFError, .noSuchTensor("missing")) }
    }
}
