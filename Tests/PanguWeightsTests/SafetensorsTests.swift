// The safetensors reader on well-formed and broken files: every defect is a thrown error naming the problem.
import Foundation
import PanguTensor
import PanguTestSupport
import PanguWeights
import XCTest

final class SafetensorsTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// Writes a file with a hand-made header (to produce inconsistencies a writer never would).
    func writeRaw(_ name: String, header: String, dataBytes: Int, pad: Bool = true) -> String {
        var h = Array(header.utf8)
        if pad { while h.count % 8 != 0 { h.append(0x20) } }
        var bytes = withUnsafeBytes(of: UInt64(h.count).littleEndian) { Array($0) }
        bytes += h
        bytes += [UInt8](repeating: 0x3F, count: dataBytes)
        let path = dir.appendingPathComponent(name).path
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    func testRoundTripThroughWriter() throws {
        let path = dir.appendingPathComponent("a.safetensors").path
        let entries = [SafetensorsWriter.Entry(name: "w", dtype: .bf16, shape: [2, 3]),
                       SafetensorsWriter.Entry(name: "b", dtype: .f32, shape: [3]),
                       SafetensorsWriter.Entry(name: "h", dtype: .f16, shape: [1])]
        let w = try SafetensorsWriter(path: path, entries: entries)
        let bf: [UInt16] = [1, 2, 3, 4, 5, 6].map { HalfConversion.floatToBF16(Float($0)) }
        try bf.withUnsafeBytes { try w.append($0) }
        try [Float(0.5), -1, 2].withUnsafeBytes { try w.append($0) }
        try [HalfConversion.floatToF16(3.25)].withUnsafeBytes { try w.append($0) }
        try w.close()
        let f = try SafetensorsFile(path: path)
        XCTAssertEqual(f.tensorNames, ["b", "h", "w"])
        let t = try XCTUnwrap(f.tensor("w"))
        XCTAssertEqual(t.shape, [2, 3])
        XCTAssertEqual(t.dtype, .bf16)
        XCTAssertEqual((0..<6).map { HalfConversion.load(t.data, $0, .bf16) }, [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(HalfConversion.load(f.tensor("b")!.data, 1, .f32), -1)
        XCTAssertEqual(HalfConversion.load(f.tensor("h")!.data, 0, .f16), 3.25)
    }

    func assertThrows(_ path: String, _ check: (WeightsError) -> Bool, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SafetensorsFile(path: path), file: file, line: line) { error in
            guard let e = error as? WeightsError else { return XCTFail("not a WeightsError: \(error)", file: file, line: line) }
            XCTAssertTrue(check(e), "unexpected error: \(e)", file: file, line: line)
            XCTAssertTrue(e.description.contains(path), "message must name the file: \(e)", file: file, line: line)
        }
    }

    func testTruncatedDataIsReported() {
        let p = writeRaw("t.safetensors", header: #"{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, dataBytes: 8)
        assertThrows(p) { if case .truncated = $0 { return $0.description.contains("'x'") } else { return false } }
    }

    func testHeaderLongerThanFile() {
        let path = dir.appendingPathComponent("h.safetensors").path
        var bytes = withUnsafeBytes(of: UInt64(1000).littleEndian) { Array($0) }
        bytes += Array("{}".utf8)
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        assertThrows(path) { if case .truncated = $0 { return true } else { return false } }
        let tiny = dir.appendingPathComponent("tiny.safetensors").path
        FileManager.default.createFile(atPath: tiny, contents: Data([1, 2, 3]))
        assertThrows(tiny) { if case .truncated = $0 { return true } else { return false } }
        let empty = dir.appendingPathComponent("empty.safetensors").path
        FileManager.default.createFile(atPath: empty, contents: Data())
        assertThrows(empty) { if case .truncated = $0 { return true } else { return false } }
    }

    func testOffsetsThatDisagreeWithShape() {
        let p = writeRaw("o.safetensors", header: #"{"x":{"dtype":"BF16","shape":[4,4],"data_offsets":[0,16]}}"#, dataBytes: 64)
        assertThrows(p) { if case .badTensorExtent(_, "x", _) = $0 { return true } else { return false } }
        let r = writeRaw("r.safetensors", header: #"{"x":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}"#, dataBytes: 64)
        assertThrows(r) { if case .badTensorExtent(_, "x", _) = $0 { return true } else { return false } }
    }

    func testUnknownDTypeNamesTensorAndType() {
        let p = writeRaw("d.safetensors", header: #"{"x":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}}"#, dataBytes: 4)
        assertThrows(p) { $0 == .unknownDType(path: p, tensor: "x", dtype: "F8_E4M3") }
    }

    func testGarbageHeader() {
        let p = writeRaw("g.safetensors", header: "not json at all", dataBytes: 0)
        assertThrows(p) { if case .malformedHeader = $0 { return true } else { return false } }
        let q = writeRaw("q.safetensors", header: #"{"x":{"dtype":"F32","shape":"big","data_offsets":[0,4]}}"#, dataBytes: 4)
        assertThrows(q) { if case .malformedHeader = $0 { return $0.description.contains("'x'") } else { return false } }
    }

    func testMissingFileAndEmptyDirectory() {
        XCTAssertThrowsError(try SafetensorsFile(path: dir.appendingPathComponent("nope").path))
        XCTAssertThrowsError(try SafetensorsCheckpoint(directory: dir)) { e in
            XCTAssertEqual(e as? WeightsError, .noWeights(directory: dir.path))
        }
    }

    func testIndexNamingATensorItsShardLacks() throws {
        _ = writeRaw("s1.safetensors", header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, dataBytes: 4)
        let index = #"{"metadata":{"total_size":8},"weight_map":{"a":"s1.safetensors","b":"s1.safetensors"}}"#
        try index.write(to: dir.appendingPathComponent("model.safetensors.index.json"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try SafetensorsCheckpoint(directory: dir)) { e in
            XCTAssertTrue("\(e)".contains("'b'"), "\(e)")
        }
    }

    func testNPYRoundTrip() throws {
        let path = dir.appendingPathComponent("x.npy").path
        let v = randomFloats(15, seed: 4)
        try NPYFile.write(v, shape: [3, 5], to: path)
        let (r, shape) = try NPYFile.read(path)
        XCTAssertEqual(shape, [3, 5])
        XCTAssertEqual(r, v)
    }
}
