import Foundation
import PanguGrammar
import PanguTokenizer
import XCTest

/// The grammar, used as a recognizer, must accept exactly the documents Python's jsonschema calls valid
/// (fixture from scripts/grammar/make_schema_goldens.py), fed byte by byte and as real tokenizer tokens.
final class SchemaGoldenTests: XCTestCase {
    struct Golden: Decodable {
        struct Case: Decodable {
            var text: String
            var valid: Bool
        }
        var name: String
        var cases: [Case]
    }

    /// (name, schema JSON text, cases): schemas re-serialised from the fixture with key order kept.
    func loadGoldens() throws -> [(String, String, [Golden.Case])] {
        let data = try Data(contentsOf: GrammarFixtures.fixtureURL("schema_goldens.json"))
        let goldens = try JSONDecoder().decode([Golden].self, from: data)
        // JSONSerialization loses key order, so cut each "schema" member's text out of the file instead.
        let text = String(decoding: data, as: UTF8.self)
        let schemas = try Self.schemaTexts(text)
        XCTAssertEqual(schemas.count, goldens.count)
        return zip(goldens, schemas).map { ($0.name, $1, $0.cases) }
    }

    /// The raw text of every `"schema": {...}` value, in order (brace matching outside strings).
    static func schemaTexts(_ text: String) throws -> [String] {
        let b = Array(text.utf8)
        let marker = Array("\"schema\": ".utf8)
        var out: [String] = []
        var i = 0
        while i + marker.count < b.count {
            guard Array(b[i..<i + marker.count]) == marker else { i += 1; continue }
            var j = i + marker.count, depth = 0, inString = false
            let start = j
            repeat {
                let c = b[j]
                if inString {
                    if c == UInt8(ascii: "\\") { j += 1 } else if c == UInt8(ascii: "\"") { inString = false }
                } else if c == UInt8(ascii: "\"") { inString = true } else if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
                    depth += 1
                } else if c == UInt8(ascii: "}") || c == UInt8(ascii: "]") { depth -= 1 }
                j += 1
            } while depth > 0 && j < b.count
            out.append(String(decoding: b[start..<j], as: UTF8.self))
            i = j
        }
        return out
    }

    func testByteLevelAgreementWithJsonschema() throws {
        let vocab = GrammarFixtures.byteVocabulary()
        var checked = 0, validCount = 0
        for (name, schema, cases) in try loadGoldens() {
            let g = try TokenGrammar.jsonSchema(schema, vocabulary: vocab)
            for c in cases {
                let ok = try recognizes(g, tokens: Array(c.text.utf8).map(Int.init), vocabularySize: vocab.count,
                                        eos: GrammarFixtures.eos)
                XCTAssertEqual(ok, c.valid, "\(name): \(c.text) (jsonschema says \(c.valid ? "valid" : "invalid"))")
                checked += 1
                if c.valid { validCount += 1 }
            }
        }
        XCTAssertGreaterThan(checked, 200)
        XCTAssertGreaterThan(validCount, 60)
        XCTAssertGreaterThan(checked - validCount, 60)
    }

    /// Same verdicts when the documents arrive as tiny-tokenizer tokens (multi-byte pieces, byte-fallback pieces
    /// that split UTF-8 characters, pieces starting with a space).
    func testTokenLevelAgreementWithJsonschema() throws {
        let tok = try BuiltinTokenizer.tinyPangu()
        let vocab = GrammarVocabulary(tokenizer: tok)
        let eos = tok.eosTokenIds[0]
        var checked = 0, splitChars = 0, total = 0
        for (name, schema, cases) in try loadGoldens() {
            let g = try TokenGrammar.jsonSchema(schema, vocabulary: vocab)
            for c in cases {
                total += 1
                let ids = tok.encode(c.text, addSpecialTokens: false)
                let bytes = ids.flatMap { vocab.tokenBytes[$0] }
                // Only texts the tokenizer round-trips byte for byte (modulo the dummy-prefix space).
                guard bytes == Array(c.text.utf8) || bytes == [0x20] + Array(c.text.utf8) else { continue }
                if ids.contains(where: { vocab.tokenBytes[$0].count == 1 && vocab.tokenBytes[$0][0] >= 0x80 }) { splitChars += 1 }
                let ok = try recognizes(g, tokens: ids, vocabularySize: vocab.count, eos: eos)
                XCTAssertEqual(ok, c.valid, "\(name): \(c.text) as tokens \(ids)")
                checked += 1
            }
        }
        print("token-level: \(checked) documents, \(splitChars) with byte-fallback pieces")
        XCTAssertGreaterThan(checked, total * 9 / 10, "most documents should round-trip through the tokenizer")
        XCTAssertGreaterThanOrEqual(splitChars, 3, "expected byte-fallback tokens inside multi-byte characters")
    }
}

/// The vocabulary built from the real tokenizer class maps pieces to the bytes its decoder writes.
final class GrammarVocabularyTests: XCTestCase {
    func testTinyTokenizerVocabulary() throws {
        let tok = try BuiltinTokenizer.tinyPangu()
        let vocab = GrammarVocabulary(tokenizer: tok)
        XCTAssertEqual(vocab.count, tok.vocabularySize)
        for name in ["[unused11]", "[unused12]", "[unused16]", "[unused17]", "[unused10]", "<s>", "</s>", "<unk>"] {
            XCTAssertEqual(vocab.specialTokens[name], tok.pieceToId(name), name)
            XCTAssertEqual(vocab.tokenBytes[tok.pieceToId(name)!], [], name)
        }
        var byteTokens = 0, spaceTokens = 0
        for id in 0..<vocab.count where !vocab.tokenBytes[id].isEmpty {
            let piece = tok.idToPiece(id)!
            if piece.hasPrefix("<0x") {
                byteTokens += 1
                XCTAssertEqual(vocab.tokenBytes[id], [UInt8(piece.dropFirst(3).prefix(2), radix: 16)!])
            } else {
                if piece.contains("\u{2581}") { spaceTokens += 1 }
                var text = String.UnicodeScalarView()
                for u in piece.unicodeScalars { text.append(u == "\u{2581}" ? " " : u) }
                XCTAssertEqual(vocab.tokenBytes[id], Array(String(text).utf8))
            }
            // Independent check: the tokenizer's own decoder writes the same text after a neutral token.
            let anchor = tok.pieceToId("a")!
            if !piece.hasPrefix("<0x") {
                XCTAssertEqual(tok.decode([anchor, id]), "a" + String(decoding: vocab.tokenBytes[id], as: UTF8.self), piece)
            }
        }
        XCTAssertEqual(byteTokens, 256)
        XCTAssertGreaterThan(spaceTokens, 10)
    }
}
