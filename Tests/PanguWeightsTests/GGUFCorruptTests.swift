import XCTest
import Foundation
@testable import PanguWeights
import PanguTensor

/// Corrupt and truncated inputs must throw the right `GGUFError`, never crash.
final class GGUFCorruptTests: XCTestCase {
    func testValidSmallFileParses() throws {
        let f = try GGUFFile(bytes: try GGUFTestSupport.smallFile())
        XCTAssertEqual(f.tensors.map(\.name), ["blk.0.attn_q.weight"])
        XCTAssertEqual(f["test.tokens"]?.stringArray, ["a", "bc"])
    }

    func testBadMagicAndVersion() throws {
        var b = try GGUFTestSupport.smallFile()
        b[0] = 0x46
        GGUFTestSupport.expectError(b) { if case .badMagic = $0 { return true } else { return false } }
        for v: UInt8 in [1, 4] {
            var c = try GGUFTestSupport.smallFile()
            c[4] = v
            GGUFTestSupport.expectError(c) { $0 == .unsupportedVersion(UInt32(v)) }
        }
    }

    func testEveryTruncationThrows() throws {
        let b = try GGUFTestSupport.smallFile()
        let f = try GGUFFile(bytes: b)
        let t = try XCTUnwrap(f.tensors.last)
        let end = f.dataOffset + t.offset + t.byteCount     // bytes after this are only alignment padding
        XCTAssertNoThrow(try GGUFFile(bytes: Array(b[0..<end])))
        for n in 0..<end {
            GGUFTestSupport.expectError(Array(b[0..<n])) { e in
                switch e {
                case .truncated, .tensorOutOfBounds, .countTooLarge: return true
                default: return false
                }
            }
        }
        // Cutting into the data section must name the tensor.
        GGUFTestSupport.expectError(Array(b[0..<(f.dataOffset + 10)])) {
            if case .tensorOutOfBounds(let name, _, _, _) = $0 { return name == "blk.0.attn_q.weight" } else { return false }
        }
    }

    func testUnknownTypeNamesTheTensor() throws {
        var b = try GGUFTestSupport.smallFile()
        let name = Array("blk.0.attn_q.weight".utf8)
        let at = try XCTUnwrap(GGUFTestSupport.find(name, in: b)) + name.count + 4 + 2 * 8
        XCTAssertEqual(b[at], 8) // q8_0
        b[at] = 99
        GGUFTestSupport.expectError(b) { $0 == .unknownTensorType(tensor: "blk.0.attn_q.weight", typeID: 99) }
    }

    func testHugeCountsAndLengths() throws {
        // Beyond GGUFLimits: rejected before anything is allocated.
        var b = try GGUFTestSupport.smallFile()
        for i in 8..<16 { b[i] = 0xFF }          // tensor count
        GGUFTestSupport.expectError(b) { if case .limitExceeded(_, _, GGUFLimits.maxTensors) = $0 { return true } else { return false } }
        var c = try GGUFTestSupport.smallFile()
        for i in 16..<24 { c[i] = 0x7F }         // metadata count
        GGUFTestSupport.expectError(c) { if case .limitExceeded(_, _, GGUFLimits.maxMetadataEntries) = $0 { return true } else { return false } }
        var d = try GGUFTestSupport.smallFile()
        for i in 24..<32 { d[i] = 0xFF }         // length of the first key
        GGUFTestSupport.expectError(d) { if case .limitExceeded(_, _, GGUFLimits.maxStringBytes) = $0 { return true } else { return false } }
        // Within the limits but more than the bytes that remain.
        var b2 = try GGUFTestSupport.smallFile()
        b2.replaceSubrange(8..<16, with: withUnsafeBytes(of: UInt64(50_000).littleEndian) { Array($0) })
        GGUFTestSupport.expectError(b2) { if case .countTooLarge(what: "tensor", _) = $0 { return true } else { return false } }
        var d2 = try GGUFTestSupport.smallFile()
        d2.replaceSubrange(24..<32, with: withUnsafeBytes(of: UInt64(1 << 20).littleEndian) { Array($0) })
        GGUFTestSupport.expectError(d2) { if case .truncated = $0 { return true } else { return false } }
        var e = try GGUFTestSupport.smallFile()
        let key = Array("test.tokens".utf8)
        let at = try XCTUnwrap(GGUFTestSupport.find(key, in: e)) + key.count + 4 + 4   // array length field
        for i in at..<(at + 8) { e[i] = 0xEE }
        GGUFTestSupport.expectError(e) { if case .countTooLarge = $0 { return true } else { return false } }
    }

    func testBadDimsOffsetsAndValueTypes() throws {
        let name = Array("blk.0.attn_q.weight".utf8)
        var b = try GGUFTestSupport.smallFile()
        let dimAt = try XCTUnwrap(GGUFTestSupport.find(name, in: b)) + name.count + 4
        b[dimAt] = 63                            // ne0 = 63 is not a multiple of the q8_0 block
        GGUFTestSupport.expectError(b) { if case .badTensorShape = $0 { return true } else { return false } }
        var c = try GGUFTestSupport.smallFile()
        c[dimAt + 8 + 7] = 0x40                  // ne1 huge → product overflow
        GGUFTestSupport.expectError(c) { if case .badTensorShape = $0 { return true } else { return false } }
        var d = try GGUFTestSupport.smallFile()
        let offAt = dimAt + 16 + 4
        d[offAt] = 4                             // offset 4 is not aligned
        GGUFTestSupport.expectError(d) { $0 == .misalignedTensor(tensor: "blk.0.attn_q.weight", offset: 4, alignment: 32) }
        var e = try GGUFTestSupport.smallFile()
        e[offAt + 1] = 1                         // offset 256: beyond the data
        GGUFTestSupport.expectError(e) { if case .tensorOutOfBounds = $0 { return true } else { return false } }
        var g = try GGUFTestSupport.smallFile()
        let arch = Array("general.architecture".utf8)
        let tAt = try XCTUnwrap(GGUFTestSupport.find(arch, in: g)) + arch.count
        g[tAt] = 13
        GGUFTestSupport.expectError(g) { $0 == .invalidValueType(key: "general.architecture", rawType: 13) }
        var ndim = try GGUFTestSupport.smallFile()
        ndim[dimAt - 4] = 5
        GGUFTestSupport.expectError(ndim) { if case .badTensorShape = $0 { return true } else { return false } }
    }

    func testFileErrors() throws {
        XCTAssertThrowsError(try GGUFFile(path: "/nonexistent/x.gguf")) {
            if case .cannotOpen = $0 as? GGUFError {} else { XCTFail("\($0)") }
        }
        let p = GGUFTestSupport.tempPath("empty.gguf")
        FileManager.default.createFile(atPath: p, contents: Data())
        XCTAssertThrowsError(try GGUFFile(path: p)) {
            if case .truncated = $0 as? GGUFError {} else { XCTFail("\($0)") }
        }
        XCTAssertTrue(GGUFError.unknownTensorType(tensor: "w", typeID: 99).description.contains("'w'"))
    }
}

/// GGUF v2 has the same layout as v3 for little-endian files (64-bit counts); it must parse.
final class GGUFVersionTests: XCTestCase {
    func testVersion2Parses() throws {
        var b = try GGUFTestSupport.smallFile()
        b[4] = 2
        let f = try GGUFFile(bytes: b)
        XCTAssertEqual(f.version, 2)
        XCTAssertEqual(try f.tensor("blk.0.attn_q.weight").dtype, .q8_0)
    }
}

/// Byte-flip fuzzing of the header region: every mutation must either parse or throw a `GGUFError` — never trap.
final class GGUFFuzzTests: XCTestCase {
    func testHeaderByteFlipsNeverCrash() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/python_written", withExtension: "gguf"))
        for b in [try GGUFTestSupport.smallFile(), [UInt8](try Data(contentsOf: url))] { try fuzz(b) }
    }

    func fuzz(_ b: [UInt8]) throws {
        let f = try GGUFFile(bytes: b)
        var parsed = 0, rejected = 0
        for i in 0..<f.dataOffset {
            for v: UInt8 in [0x00, 0xFF, 0x80, 0x7F, b[i] &+ 1, b[i] ^ 0x40] where v != b[i] {
                var c = b
                c[i] = v
                do {
                    let g = try GGUFFile(bytes: c)
                    // Whatever parsed must describe tensor data inside the file.
                    for t in g.tensors { XCTAssertLessThanOrEqual(g.dataOffset + t.offset + t.byteCount, c.count) }
                    parsed += 1
                } catch is GGUFError {
                    rejected += 1
                }
            }
        }
        XCTAssertGreaterThan(rejected, 100)
        XCTAssertGreaterThan(parsed, 0)
    }
}
