import Foundation
@testable import PanguWeights
import PanguTensor

enum GGUFTestSupport {
    static func tempPath(_ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pangu-gguf-tests-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent(name).path
    }

    /// A small valid file: two metadata keys and one q8_0 tensor [64, 2] named "blk.0.attn_q.weight".
    static func smallFile() throws -> [UInt8] {
        let path = tempPath("small.gguf")
        let w = try GGUFWriter(path: path)
        w.set("general.architecture", .string("pangu-embedded"))
        w.set("test.tokens", .strings(["a", "bc"]))
        try w.addTensor(name: "blk.0.attn_q.weight", dims: [64, 2], dtype: .q8_0)
        try w.writeHeader()
        try w.writeTensorData(QuantReference.quantize((0..<128).map { Float($0) / 16 - 4 }, as: .q8_0))
        try w.finish()
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func find(_ needle: [UInt8], in hay: [UInt8]) -> Int? {
        guard needle.count <= hay.count else { return nil }
        for i in 0...(hay.count - needle.count) where Array(hay[i..<(i + needle.count)]) == needle { return i }
        return nil
    }

    static func expectError(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line,
                            _ check: (GGUFError) -> Bool) {
        do {
            _ = try GGUFFile(bytes: bytes)
            XCTFailShim("expected an error", file: file, line: line)
        } catch let e as GGUFError {
            if !check(e) { XCTFailShim("unexpected error: \(e)", file: file, line: line) }
        } catch {
            XCTFailShim("non-GGUF error \(error)", file: file, line: line)
        }
    }
}

import XCTest
func XCTFailShim(_ m: String, file: StaticString, line: UInt) { XCTFail(m, file: file, line: line) }
