import Foundation
import XCTest
@testable import PanguTokenizer

/// Parity with transformers' slow tokenizer (a `PreTrainedTokenizer` wrapping sentencepiece like openPangu's).
final class HuggingFaceGoldenTests: XCTestCase {
    static let variants = ["pangu-like", "pangu-like-extra-special", "dummy-prefix", "tiny-pangu"]

    /// Loads a golden variant: `tiny-pangu` is the built-in resource itself; `dummy-prefix` pairs its config with
    /// `sp/bpe-bytefallback-nfkc.model`.
    static func load(_ variant: String) throws -> HuggingFaceTokenizer {
        switch variant {
        case "tiny-pangu": return try BuiltinTokenizer.tinyPangu()
        case "dummy-prefix":
            let sp = try SentencePieceProcessor(contentsOf: Fixtures.url("sp/bpe-bytefallback-nfkc.model"))
            let config = try TokenizerConfig(configJSON: Data(contentsOf: Fixtures.url("hf/dummy-prefix/tokenizer_config.json")))
            return try HuggingFaceTokenizer(sentencePiece: sp, config: config)
        default: return try HuggingFaceTokenizer(directory: Fixtures.url("hf/\(variant)"))
        }
    }

    func testEncodeDecodeParityWithTransformers() throws {
        for variant in Self.variants {
            let tok = try Self.load(variant)
            let g = try Fixtures.json("hf/\(variant).json")
            let info = g["info"] as! [String: Any]
            XCTAssertEqual(tok.sentencePiece.vocabularySize, (info["vocab_size"] as! NSNumber).intValue)
            XCTAssertEqual(tok.bosTokenId, (info["bos_token_id"] as! NSNumber).intValue)
            XCTAssertEqual(tok.eosTokenIds, [(info["eos_token_id"] as! NSNumber).intValue])
            XCTAssertEqual(tok.padTokenId, (info["pad_token_id"] as! NSNumber).intValue)
            XCTAssertEqual(tok.specialTokenIds, Set(ints(info["all_special_ids"])))
            XCTAssertNotNil(tok.chatTemplate)
            let enc = g["encode"] as! [[String: Any]]
            var encOK = 0, plainOK = 0, decOK = 0, skipOK = 0, shown = 0
            for e in enc {
                let text = e["text"] as! String
                let ids = ints(e["ids"])
                let got = tok.encode(text, addSpecialTokens: true)
                if got == ids { encOK += 1 } else if shown < 5 {
                    shown += 1
                    print("[\(variant)] encode mismatch \(text.debugDescription)\n  want \(ids)\n  got  \(got)")
                }
                if tok.encode(text, addSpecialTokens: false) == ints(e["ids_plain"]) { plainOK += 1 }
                let d = tok.decode(ids, skipSpecialTokens: false)
                if sameBytes(d, e["decode"] as! String) { decOK += 1 } else if shown < 10 {
                    shown += 1
                    print("[\(variant)] decode mismatch \(ids)\n  want \((e["decode"] as! String).debugDescription)\n  got  \(d.debugDescription)")
                }
                if sameBytes(tok.decode(ids, skipSpecialTokens: true), e["decode_skip"] as! String) { skipOK += 1 }
            }
            let dec = g["decode"] as! [[String: Any]]
            var rOK = 0, rSkipOK = 0
            for e in dec {
                let ids = ints(e["ids"])
                let d = tok.decode(ids, skipSpecialTokens: false)
                if sameBytes(d, e["decode"] as! String) { rOK += 1 } else if shown < 15 {
                    shown += 1
                    print("[\(variant)] random decode mismatch \(ids)\n  want \((e["decode"] as! String).debugDescription)\n  got  \(d.debugDescription)")
                }
                if sameBytes(tok.decode(ids, skipSpecialTokens: true), e["decode_skip"] as! String) { rSkipOK += 1 }
            }
            print("\(variant): \(encOK)/\(enc.count) encode (BOS), \(plainOK)/\(enc.count) encode (no special), "
                  + "\(decOK)/\(enc.count) decode, \(skipOK)/\(enc.count) decode skip-special, "
                  + "\(rOK)/\(dec.count) random decode, \(rSkipOK)/\(dec.count) random decode skip-special")
            XCTAssertEqual(encOK, enc.count); XCTAssertEqual(plainOK, enc.count)
            XCTAssertEqual(decOK, enc.count); XCTAssertEqual(skipOK, enc.count)
            XCTAssertEqual(rOK, dec.count); XCTAssertEqual(rSkipOK, dec.count)
        }
    }

    /// The chat turn markers of the real model are matched whole, wherever they sit in the vocabulary.
    func testSpecialMarkersAreSingleTokens() throws {
        let tok = try HuggingFaceTokenizer(directory: Fixtures.url("hf/pangu-like"))
        for marker in ["[unused9]", "[unused10]", "[unused16]", "[unused17]"] {
            let id = try XCTUnwrap(tok.pieceToId(marker))
            XCTAssertGreaterThan(id, 2)
            XCTAssertEqual(tok.encode("a\(marker)b", addSpecialTokens: false).filter { $0 == id }.count, 1)
            XCTAssertEqual(tok.idToPiece(id), marker)
        }
        XCTAssertEqual(tok.encode("x", addSpecialTokens: true).first, 1)
    }

    /// The built-in tiny tokenizer loads through the public API and carries the openPangu chat template.
    func testBuiltinTinyTokenizer() throws {
        let tok = try BuiltinTokenizer.tinyPangu()
        XCTAssertTrue(tok.chatTemplate?.contains("[unused9]系统：[unused10]") ?? false)
        XCTAssertEqual(tok.eosTokenIds, [try XCTUnwrap(tok.pieceToId("[unused10]"))])
        XCTAssertEqual(tok.bosTokenId, tok.pieceToId("<s>"))
        XCTAssertGreaterThanOrEqual(tok.vocabularySize, 1000)
        XCTAssertLessThanOrEqual(tok.vocabularySize, 4000)
    }
}

/// The protocol façade forwards to the Hugging Face tokenizer.
final class TokenizerProtocolTests: XCTestCase {
    func testExistentialUse() throws {
        let concrete = try HuggingFaceGoldenTests.load("pangu-like")
        let tok: any Tokenizer = concrete
        let g = try Fixtures.json("hf/pangu-like.json")
        let row = (g["encode"] as! [[String: Any]]).last!
        XCTAssertEqual(tok.encode(row["text"] as! String), ints(row["ids"]))
        XCTAssertTrue(sameBytes(tok.decode(ints(row["ids"])), row["decode"] as! String))
        XCTAssertTrue(tok.isEndOfSequence(tok.eosTokenIds[0]))
        XCTAssertEqual(tok.vocabularySize, concrete.sentencePiece.vocabularySize)
        XCTAssertEqual(tok.pieceToId(tok.idToPiece(5)!), 5)
        // The defaulted forms resolve on the concrete type too.
        XCTAssertEqual(concrete.encode(row["text"] as! String), ints(row["ids"]))
        XCTAssertTrue(sameBytes(concrete.decode(ints(row["ids"])), row["decode"] as! String))
    }
}
