import Foundation
import XCTest
@testable import PanguTokenizer

/// Byte-for-byte parity with the Python `sentencepiece` library on every golden model.
final class SentencePieceGoldenTests: XCTestCase {
    func testEncodeDecodeParityWithLibrary() throws {
        var failures = 0
        for name in Fixtures.spModels {
            let sp = try SentencePieceProcessor(contentsOf: Fixtures.url("sp/\(name).model"))
            let g = try Fixtures.json("sp/\(name).json")
            let enc = g["encode"] as! [[Any]]
            var encOK = 0, decOK = 0, randOK = 0
            var shown = 0
            for case let row in enc {
                let text = row[0] as! String
                let want = ints(row[1])
                let wantText = row[2] as! String
                let got = sp.encode(text)
                if got == want { encOK += 1 } else if shown < 3 {
                    shown += 1
                    print("[\(name)] encode mismatch for \(text.debugDescription)\n  want \(want)\n  got  \(got)")
                }
                let dec = sp.decode(want)
                if sameBytes(dec, wantText) { decOK += 1 } else if shown < 6 {
                    shown += 1
                    print("[\(name)] decode mismatch for \(want)\n  want \(wantText.debugDescription)\n  got  \(dec.debugDescription)")
                }
            }
            let rnd = g["decode"] as! [[Any]]
            for row in rnd {
                let ids = ints(row[0])
                let want = row[1] as! String
                let got = sp.decode(ids)
                if sameBytes(got, want) { randOK += 1 } else if shown < 9 {
                    shown += 1
                    print("[\(name)] random decode mismatch for \(ids)\n  want \(want.debugDescription)\n  got  \(got.debugDescription)")
                }
            }
            print("\(name): \(encOK)/\(enc.count) encode, \(decOK)/\(enc.count) decode, \(randOK)/\(rnd.count) random-id decode")
            failures += (enc.count - encOK) + (enc.count - decOK) + (rnd.count - randOK)
            XCTAssertEqual(encOK, enc.count, "\(name) encode parity")
            XCTAssertEqual(decOK, enc.count, "\(name) decode parity")
            XCTAssertEqual(randOK, rnd.count, "\(name) random decode parity")
            XCTAssertGreaterThan(enc.count, 500, "\(name) has too few golden strings")
        }
        XCTAssertEqual(failures, 0)
    }
}
