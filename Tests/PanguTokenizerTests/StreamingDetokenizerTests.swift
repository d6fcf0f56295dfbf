import Foundation
import XCTest
@testable import PanguTokenizer

/// Streaming deltas must concatenate to the library's full decode, and each must be valid UTF-8 on its own.
final class StreamingDetokenizerTests: XCTestCase {
    private func check(_ ids: [Int], _ want: String, make: () -> StreamingDetokenizer) -> Bool {
        var s = make()
        var bytes: [UInt8] = []
        for id in ids {
            let d = s.append(id)
            guard String(validating: Array(d.utf8), as: UTF8.self) != nil else { return false }
            bytes += Array(d.utf8)
        }
        bytes += Array(s.finish().utf8)
        return bytes == Array(want.utf8)
    }

    func testStreamingMatchesSentencePieceGoldens() throws {
        for name in Fixtures.spModels {
            let sp = try SentencePieceProcessor(contentsOf: Fixtures.url("sp/\(name).model"))
            let g = try Fixtures.json("sp/\(name).json")
            var ok = 0, total = 0
            for row in g["encode"] as! [[Any]] {
                total += 1
                if check(ints(row[1]), row[2] as! String, make: { StreamingDetokenizer(sentencePiece: sp) }) { ok += 1 }
            }
            for row in g["decode"] as! [[Any]] {
                total += 1
                if check(ints(row[0]), row[1] as! String, make: { StreamingDetokenizer(sentencePiece: sp) }) { ok += 1 }
            }
            print("streaming \(name): \(ok)/\(total)")
            XCTAssertEqual(ok, total, name)
        }
    }

    func testStreamingMatchesTransformersGoldens() throws {
        for variant in HuggingFaceGoldenTests.variants {
            let tok = try HuggingFaceGoldenTests.load(variant)
            let g = try Fixtures.json("hf/\(variant).json")
            var ok = 0, total = 0
            let rows = (g["encode"] as! [[String: Any]]) + (g["decode"] as! [[String: Any]])
            for e in rows {
                let ids = ints(e["ids"])
                for skip in [false, true] {
                    total += 1
                    let want = e[skip ? "decode_skip" : "decode"] as! String
                    if check(ids, want, make: { StreamingDetokenizer(tokenizer: tok, skipSpecialTokens: skip) }) { ok += 1 }
                }
            }
            print("streaming \(variant): \(ok)/\(total)")
            XCTAssertEqual(ok, total, variant)
        }
    }

    /// A 3-byte character split over three byte pieces appears only once complete.
    func testSplitCharacterIsHeldBack() throws {
        let tok = try HuggingFaceTokenizer(directory: Fixtures.url("hf/pangu-like"))
        let sp = tok.sentencePiece
        let ids = Array("中".utf8).map { sp.pieceToId(String(format: "<0x%02X>", $0)) }
        var s = StreamingDetokenizer(tokenizer: tok)
        XCTAssertEqual(s.append(ids[0]), "")
        XCTAssertEqual(s.append(ids[1]), "")
        XCTAssertEqual(s.append(ids[2]), "中")
        XCTAssertEqual(s.finish(), "")
        var t = StreamingDetokenizer(tokenizer: tok)
        XCTAssertEqual(t.append(ids[0]), "")
        XCTAssertEqual(t.finish(), "\u{FFFD}")
    }
}
