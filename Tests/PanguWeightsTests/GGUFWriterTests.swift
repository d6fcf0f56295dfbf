import XCTest
import Foundation
@testable import PanguWeights
import PanguTensor

/// Write → read round trips of metadata (every value type) and tensors, plus the pangu-embedded helpers.
final class GGUFWriterTests: XCTestCase {
    static let allValues: [(String, GGUFValue)] = [
        ("v.u8", .uint8(255)), ("v.i8", .int8(-128)), ("v.u16", .uint16(65535)), ("v.i16", .int16(-32768)),
        ("v.u32", .uint32(.max)), ("v.i32", .int32(.min)), ("v.u64", .uint64(.max)), ("v.i64", .int64(.min)),
        ("v.f32", .float32(-1.25e-7)), ("v.f64", .float64(1e300)), ("v.t", .bool(true)), ("v.f", .bool(false)),
        ("v.s", .string("ünïcødé ▁ 你好 \u{0}nul")), ("v.empty", .string("")),
        ("v.strs", .strings(["", "a", "▁b", String(repeating: "x", count: 1000)])),
        ("v.emptyarr", .array(.uint64, [])),
        ("v.nested", .array(.array, [.int32s([1, 2]), .int32s([])])),
        ("v.bools", .array(.bool, [.bool(true), .bool(false)])),
        ("v.f64s", .array(.float64, [.float64(-0.5), .float64(2)])),
    ]

    func testRoundTripMetadataAndTensors() throws {
        for alignment in [32, 64] {
            let path = GGUFTestSupport.tempPath("rt\(alignment).gguf")
            let w = try GGUFWriter(path: path, alignment: alignment)
            w.set(Self.allValues)
            var expected = [(String, DType, [Int], [UInt8])]()
            var rng: UInt64 = 0x9E37_79B9
            func nextFloat() -> Float { rng = rng &* 6364136223846793005 &+ 1442695040888963407; return Float(Int64(bitPattern: rng >> 11) % 2000) / 500 }
            for (i, dt) in [DType.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q5_K, .q6_K].enumerated() {
                let dims = [dt.blockSize == 256 ? 512 : 96, 3]
                let x = (0..<(dims[0] * dims[1])).map { _ in nextFloat() }
                let bytes = QuantReference.quantize(x, as: dt)
                try w.addTensor(name: "t\(i).\(dt)", dims: dims, dtype: dt)
                expected.append(("t\(i).\(dt)", dt, dims, bytes))
            }
            try w.addTensor(name: "odd.vector", dims: [7], dtype: .f32)
            let odd: [UInt8] = (0..<28).map { UInt8($0) }
            expected.append(("odd.vector", .f32, [7], odd))
            try w.writeHeader()
            for e in expected { try w.writeTensorData(e.3) }
            try w.finish()

            let f = try GGUFFile(path: path)
            XCTAssertEqual(f.version, 3)
            XCTAssertEqual(f.alignment, alignment)
            for (k, v) in Self.allValues { XCTAssertEqual(f[k], v, k) }
            XCTAssertEqual(f.metadataKeys.filter { $0.hasPrefix("v.") }, Self.allValues.map(\.0))
            XCTAssertEqual(f.tensors.count, expected.count)
            for e in expected {
                let t = try f.tensor(e.0)
                XCTAssertEqual(t.dtype, e.1); XCTAssertEqual(t.dims, e.2)
                XCTAssertEqual(Int(bitPattern: t.data) % alignment, 0, "mmap base is page aligned, so data must be too")
                XCTAssertEqual([UInt8](UnsafeRawBufferPointer(start: t.data, count: t.byteCount)), e.3, e.0)
            }
        }
    }

    func testWriterRejectsMisuse() throws {
        let w = try GGUFWriter(path: GGUFTestSupport.tempPath("misuse.gguf"))
        XCTAssertThrowsError(try w.addTensor(name: "bad", dims: [33, 2], dtype: .q8_0))
        try w.addTensor(name: "a", dims: [32], dtype: .q8_0)
        XCTAssertThrowsError(try w.addTensor(name: "a", dims: [32], dtype: .q8_0))
        w.set("mixed", .array(.int32, [.int32(1), .string("x")]))
        XCTAssertThrowsError(try w.writeHeader())
        w.set("mixed", .int32s([1]))
        try w.writeHeader()
        XCTAssertThrowsError(try w.writeTensorData([UInt8](repeating: 0, count: 35)))  // more than the tensor holds
        try w.writeTensorData([UInt8](repeating: 0, count: 33))                      // a tensor may come in pieces
        XCTAssertThrowsError(try w.finish())                                          // ...but must be completed
        XCTAssertThrowsError(try w.writeTensorData([UInt8](repeating: 0, count: 2)))  // a piece never spans tensors
        try w.writeTensorData([UInt8](repeating: 0, count: 1))
        XCTAssertThrowsError(try w.writeTensorData([UInt8](repeating: 0, count: 1)))  // no tensor left
        try w.finish()
    }

    func testPanguMetadataAndNames() throws {
        let h = PanguGGUFHyperParameters(contextLength: 32768, embeddingLength: 4096, blockCount: 34, feedForwardLength: 12800,
                                         headCount: 32, headCountKV: 8, headDim: 128, ropeFreqBase: 16_000_000,
                                         rmsNormEps: 1e-5, vocabSize: 153376)
        let m = Dictionary(uniqueKeysWithValues: PanguGGUF.architectureMetadata(h, fileType: GGMLType.fileType(for: .q4_K)))
        XCTAssertEqual(m["general.architecture"], .string("pangu-embedded"))
        XCTAssertEqual(m["pangu-embedded.embedding_length"], .uint32(4096))
        XCTAssertEqual(m["pangu-embedded.feed_forward_length"], .uint32(12800))
        XCTAssertEqual(m["pangu-embedded.attention.head_count_kv"], .uint32(8))
        XCTAssertEqual(m["pangu-embedded.attention.key_length"], .uint32(128))
        XCTAssertEqual(m["pangu-embedded.rope.dimension_count"], .uint32(128))
        XCTAssertEqual(m["pangu-embedded.rope.freq_base"], .float32(16_000_000))
        XCTAssertEqual(m["general.file_type"], .uint32(15))
        let v = PanguGGUFVocabulary(tokens: ["<unk>", "<s>"], scores: [0, 0], tokenTypes: [2, 3], chatTemplate: "{{x}}")
        let tm = Dictionary(uniqueKeysWithValues: PanguGGUF.tokenizerMetadata(v))
        XCTAssertEqual(tm["tokenizer.ggml.model"], .string("llama"))
        XCTAssertEqual(tm["tokenizer.ggml.eos_token_id"], .uint32(45892))
        XCTAssertEqual(tm["tokenizer.chat_template"], .string("{{x}}"))
    }
}
