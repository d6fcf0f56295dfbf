import Foundation
import PanguGrammar
import PanguRuntime
import PanguTokenizer
import Synchronization
import XCTest

/// Random-logit sampling through the constraint: every finished output must parse and validate (Python's
/// jsonschema when available, plus structural checks here), and the mask must never leave nothing allowed.
final class GrammarSamplingTests: XCTestCase {
    static let schemas: [(name: String, schema: String)] = [
        ("person", """
        {"type":"object","properties":{"name":{"type":"string","minLength":1,"maxLength":8},
         "age":{"type":"integer","minimum":0,"maximum":120},"color":{"enum":["red","green","blue"]},
         "score":{"type":"number","minimum":-1.5,"exclusiveMaximum":2.25}},
         "required":["name","age","color"],"additionalProperties":false}
        """),
        ("nested", """
        {"type":"object","properties":{"items":{"type":"array","minItems":1,"maxItems":3,"items":{"type":"object",
         "properties":{"id":{"type":"integer","minimum":-50,"maximum":-7},"tags":{"type":"array","items":{"type":"string","maxLength":4},"maxItems":2},
         "kind":{"const":"x"}},"required":["id","kind"],"additionalProperties":false}},"ok":{"type":["boolean","null"]}},
         "required":["items","ok"],"additionalProperties":false}
        """),
        ("union", """
        {"anyOf":[{"type":"integer","exclusiveMinimum":5},{"type":"string","minLength":2,"maxLength":3},
         {"$ref":"#/$defs/p"}],"$defs":{"p":{"type":"object","properties":{"x":{"type":"number"}},"required":["x"],"additionalProperties":false}}}
        """),
        ("free", #"{"type":"object","properties":{"meta":{"type":"object"}},"required":["meta"],"additionalProperties":false}"#),
    ]

    /// Tokens that close strings/containers get a head start so random outputs finish within the budget.
    static func closingBias(_ vocab: GrammarVocabulary) -> [Float] {
        vocab.tokenBytes.map { b in b.contains { $0 == 0x22 || $0 == 0x7D || $0 == 0x5D } ? 2.0 : 0 }
    }

    func runSampling(vocab: GrammarVocabulary, eos: Int, decode: ([Int]) -> String?, seeds: Int,
                     label: String) throws {
        var pairs: [(schema: String, document: String)] = []
        let bias = Self.closingBias(vocab)
        for (name, schema) in Self.schemas {
            let g = try TokenGrammar.jsonSchema(schema, vocabulary: vocab)
            var finished = 0
            for seed in 0..<UInt64(seeds) {
                let c = g.makeConstraint(eosTokenIds: [eos], reasoning: nil)
                let (ids, done) = try sample(c, vocabularySize: vocab.count, eos: eos, seed: seed, maxTokens: 400, bias: bias)
                guard done else { continue }
                finished += 1
                guard let text = decode(ids) else { XCTFail("\(label) \(name) seed \(seed): output is not UTF-8"); continue }
                guard let obj = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) else {
                    XCTFail("\(label) \(name) seed \(seed): not JSON: \(text)")
                    continue
                }
                checkStructure(name, obj, text)
                pairs.append((schema, text))
            }
            XCTAssertGreaterThanOrEqual(finished, seeds / 2, "\(label) \(name): too few outputs finished")
        }
        if let bad = try pythonInvalidIndices(pairs) {
            for i in bad { XCTFail("\(label): jsonschema rejects \(pairs[i].document) for \(pairs[i].schema)") }
            print("\(label): \(pairs.count) sampled documents validated by python jsonschema")
        }
        if let sample = pairs.first(where: { $0.document.count > 20 }) { print("\(label) example: \(sample.document.debugDescription)") }
    }

    /// Facts checked in Swift independently of Python.
    func checkStructure(_ name: String, _ obj: Any, _ text: String) {
        switch name {
        case "person":
            guard let d = obj as? [String: Any], let n = d["name"] as? String, let age = d["age"] as? Int,
                  let color = d["color"] as? String else { return XCTFail("person fields missing: \(text)") }
            XCTAssert((1...8).contains(n.unicodeScalars.count) && (0...120).contains(age), text)
            XCTAssert(["red", "green", "blue"].contains(color), text)
            XCTAssert(Set(d.keys).isSubset(of: ["name", "age", "color", "score"]), text)
            if let s = d["score"] as? Double { XCTAssert(s >= -1.5 && s < 2.25, text) }
        case "nested":
            guard let d = obj as? [String: Any], let items = d["items"] as? [[String: Any]], d.keys.contains("ok") else {
                return XCTFail("nested fields missing: \(text)")
            }
            XCTAssert((1...3).contains(items.count), text)
            for it in items {
                XCTAssertEqual(it["kind"] as? String, "x", text)
                guard let id = it["id"] as? Int else { return XCTFail("id missing: \(text)") }
                XCTAssert((-50 ... -7).contains(id), text)
            }
        case "free":
            XCTAssertNotNil((obj as? [String: Any])?["meta"] as? [String: Any], text)
        default: break
        }
    }

    func testRandomSamplingTinyTokenizer() throws {
        let tok = try BuiltinTokenizer.tinyPangu()
        let vocab = GrammarVocabulary(tokenizer: tok)
        try runSampling(vocab: vocab, eos: tok.eosTokenIds[0], decode: { tok.decode($0) }, seeds: 16, label: "tiny tokenizer")
    }

    func testRandomSamplingByteVocabulary() throws {
        let vocab = GrammarFixtures.byteVocabulary()
        try runSampling(vocab: vocab, eos: GrammarFixtures.eos,
                        decode: { ids in String(validating: ids.flatMap { vocab.tokenBytes[$0] }, as: UTF8.self) },
                        seeds: 16, label: "byte vocabulary")
    }

    func testJsonObjectSampling() throws {
        let vocab = GrammarFixtures.byteVocabulary()
        let g = try TokenGrammar.jsonObject(vocabulary: vocab)
        var finished = 0
        for seed in 0..<UInt64(16) {
            let c = g.makeConstraint(eosTokenIds: [GrammarFixtures.eos], reasoning: nil)
            let (ids, done) = try sample(c, vocabularySize: vocab.count, eos: GrammarFixtures.eos, seed: seed,
                                         maxTokens: 400, bias: Self.closingBias(vocab))
            guard done else { continue }
            finished += 1
            let text = String(decoding: ids.flatMap { vocab.tokenBytes[$0] }, as: UTF8.self)
            XCTAssertNotNil(try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
        }
        XCTAssertGreaterThanOrEqual(finished, 8)
    }

    /// Reasoning block: at the start the open token or the grammar's first tokens; inside, anything but EOS;
    /// after the close token the grammar applies.
    func testReasoningPrefix() throws {
        let vocab = GrammarFixtures.byteVocabulary()
        let g = try TokenGrammar.jsonSchema(#"{"type":"boolean"}"#, vocabulary: vocab)
        let eos = GrammarFixtures.eos
        let c = g.makeConstraint(eosTokenIds: [eos], reasoning: (GrammarFixtures.thinkOpen, GrammarFixtures.thinkClose))
        var logits = [Float](repeating: 0, count: vocab.count)
        c.mask(&logits)
        let allowed = Set(logits.indices.filter { logits[$0].isFinite })
        XCTAssertEqual(allowed, Set([GrammarFixtures.thinkOpen, 0x20, 0x0A, Int(UInt8(ascii: "t")), Int(UInt8(ascii: "f"))] +
                                    ["true", "false", "\n  "].map { s in 262 + GrammarFixtures.chunks.firstIndex(of: s)! }))
        try c.accept(GrammarFixtures.thinkOpen)
        for t in [Int(UInt8(ascii: "x")), GrammarFixtures.otherSpecial, GrammarFixtures.thinkOpen, 0xE6] {
            logits = [Float](repeating: 0, count: vocab.count)
            c.mask(&logits)
            XCTAssertFalse(logits[eos].isFinite)
            XCTAssert(logits[t].isFinite)
            try c.accept(t)
        }
        XCTAssertThrowsError(try c.accept(eos))
        try c.accept(GrammarFixtures.thinkClose)
        XCTAssertThrowsError(try c.accept(Int(UInt8(ascii: "x"))))
        for b in "false".utf8 { try c.accept(Int(b)) }
        XCTAssert(c.isComplete)
        logits = [Float](repeating: 0, count: vocab.count)
        c.mask(&logits)
        XCTAssertEqual(logits.indices.filter { logits[$0].isFinite }, [eos])
        try c.accept(eos)

        // Without the open token first, the grammar starts right away and reasoning is no longer possible.
        let d = g.makeConstraint(eosTokenIds: [eos], reasoning: (GrammarFixtures.thinkOpen, GrammarFixtures.thinkClose))
        try d.accept(Int(UInt8(ascii: "t")))
        XCTAssertThrowsError(try d.accept(GrammarFixtures.thinkOpen))
    }

    /// Logits longer than the vocabulary (padded output rows) get -inf beyond it, in sparse and dense states.
    func testPaddedLogits() throws {
        let vocab = GrammarFixtures.byteVocabulary()
        // After the opening quote: "a" or "abc" (a sparse id list); any string byte (a dense bitset).
        for (schema, expected) in [(#"{"const":"abc"}"#, 2...2), (#"{"type":"string"}"#, 147...200)] {
            let c = try TokenGrammar.jsonSchema(schema, vocabulary: vocab).makeConstraint(eosTokenIds: [GrammarFixtures.eos],
                                                                                          reasoning: nil)
            try c.accept(Int(UInt8(ascii: "\"")))
            var logits = [Float](repeating: 1, count: vocab.count + 100)
            c.mask(&logits)
            XCTAssert(logits[vocab.count...].allSatisfy { $0 == -.infinity })
            XCTAssert((256..<262).allSatisfy { logits[$0] == -.infinity }, "special tokens are never allowed inside")
            XCTAssert(expected.contains(logits.indices.filter { logits[$0].isFinite }.count), schema)
        }
    }

    /// Strings hold valid UTF-8 only (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF) and
    /// `\u` escapes exclude surrogates.
    func testStringBytesAreValidUTF8() throws {
        let vocab = GrammarFixtures.byteVocabulary()
        let g = try TokenGrammar.jsonSchema(#"{"type":"string"}"#, vocabulary: vocab)
        func ok(_ body: [UInt8]) throws -> Bool {
            try recognizes(g, tokens: ([0x22] + body + [0x22]).map(Int.init), vocabularySize: vocab.count, eos: GrammarFixtures.eos)
        }
        for valid: [UInt8] in [[0xC2, 0x80], [0xDF, 0xBF], [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xEE, 0x80, 0x80],
                               [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF], Array("\\uE000\\ud7ff\\/".utf8)] {
            XCTAssertTrue(try ok(valid), "\(valid)")
        }
        for invalid: [UInt8] in [[0xC0, 0x80], [0xC1, 0xBF], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF0, 0x80, 0x80, 0x80],
                                 [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0x80], [0xC2], [0x0A], [0x1F],
                                 Array("\\uD800".utf8), Array("\\udbff".utf8), Array("\\uDC00".utf8), Array("\\x".utf8), Array("\\u12".utf8)] {
            XCTAssertFalse(try ok(invalid), "\(invalid)")
        }
    }

    /// Whitespace is bounded: one space, or a newline and at most 16 spaces, between tokens.
    func testWhitespaceBound() throws {
        let vocab = GrammarFixtures.byteVocabulary()
        let g = try TokenGrammar.jsonObject(vocabulary: vocab)
        func ok(_ s: String) throws -> Bool {
            try recognizes(g, tokens: Array(s.utf8).map(Int.init), vocabularySize: vocab.count, eos: GrammarFixtures.eos)
        }
        XCTAssertTrue(try ok("{\n" + String(repeating: " ", count: 16) + "}"))
        XCTAssertFalse(try ok("{\n" + String(repeating: " ", count: 17) + "}"))
        XCTAssertFalse(try ok("{  }"))
        XCTAssertFalse(try ok("{\n\n}"))
        XCTAssertTrue(try ok(" {\"a\": [1, {\"b\" : null}]}"))
        XCTAssertFalse(try ok("{} "))
        // Free-form values nest 32 levels; one level deeper only scalars and empty containers.
        XCTAssertTrue(try ok("{\"a\":" + String(repeating: "[", count: 32) + "1" + String(repeating: "]", count: 32) + "}"))
        XCTAssertFalse(try ok("{\"a\":" + String(repeating: "[", count: 33) + "1" + String(repeating: "]", count: 33) + "}"))
        XCTAssertTrue(try ok("{\"a\":" + String(repeating: "[", count: 33) + String(repeating: "]", count: 33) + "}"))
        XCTAssertFalse(try ok("{\"a\":" + String(repeating: "[", count: 34) + String(repeating: "]", count: 34) + "}"))
    }

    /// A model that keeps opening containers reaches the depth limit and can still finish: never a dead end.
    func testDeepNestingNeverDeadEnds() throws {
        let vocab = GrammarFixtures.byteVocabulary()
        let g = try TokenGrammar.jsonObject(vocabulary: vocab)
        let eos = GrammarFixtures.eos
        let c = g.makeConstraint(eosTokenIds: [eos], reasoning: nil)
        var text: [UInt8] = []
        // Prefer opening tokens while they are allowed.
        let openers = [Int(UInt8(ascii: "[")), Int(UInt8(ascii: "{")), Int(UInt8(ascii: "\"")), Int(UInt8(ascii: "a")),
                       Int(UInt8(ascii: "\"")), Int(UInt8(ascii: ":"))]
        var step = 0
        while text.count < 400 {
            var logits = [Float](repeating: 0, count: vocab.count)
            c.mask(&logits)
            let pick = openers.first { logits[$0].isFinite && (step % 7 != 0 || $0 == Int(UInt8(ascii: "{"))) }
                ?? openers.first { logits[$0].isFinite }
            guard let t = pick else { break }
            try c.accept(t)
            text.append(UInt8(t))
            step += 1
        }
        XCTAssertGreaterThan(text.filter { $0 == UInt8(ascii: "[") || $0 == UInt8(ascii: "{") }.count, 33)
        let (rest, done) = try sample(c, vocabularySize: vocab.count, eos: eos, seed: 1, maxTokens: 2000,
                                      bias: GrammarSamplingTests.closingBias(vocab))
        XCTAssert(done)
        text += rest.flatMap { vocab.tokenBytes[$0] }
        XCTAssertNotNil(try? JSONSerialization.jsonObject(with: Data(text)), String(decoding: text, as: UTF8.self))
    }

    /// Bounds that exclude a whole prefix ("0.000…" under exclusiveMinimum 0, "1.…" under exclusiveMaximum 1)
    /// are pruned, so no configuration is reachable from which the document cannot finish.
    func testNoDeadEndsUnderExclusiveBounds() throws {
        let vocab = GrammarFixtures.byteVocabulary()
        let eos = GrammarFixtures.eos
        let g = try TokenGrammar.jsonSchema(#"{"type":"number","exclusiveMinimum":0,"exclusiveMaximum":1}"#, vocabulary: vocab)
        let c = g.makeConstraint(eosTokenIds: [eos], reasoning: nil)
        for b in "0.000000000000000".utf8 { try c.accept(Int(b)) }   // 15 zeros: the 16th digit must be non-zero
        var logits = [Float](repeating: 0, count: vocab.count)
        c.mask(&logits)
        XCTAssertEqual(Set(logits.indices.filter { logits[$0].isFinite }), Set((0x31...0x39).map { Int($0) }))
        let d = g.makeConstraint(eosTokenIds: [eos], reasoning: nil)
        try d.accept(Int(UInt8(ascii: "0")))
        logits = [Float](repeating: 0, count: vocab.count)
        d.mask(&logits)
        let afterZero: Set<Int> = [Int(UInt8(ascii: ".")), 262 + GrammarFixtures.chunks.firstIndex(of: ".5")!]
        XCTAssertEqual(Set(logits.indices.filter { logits[$0].isFinite }), afterZero)
        XCTAssertFalse(try recognizes(g, tokens: Array("1".utf8).map(Int.init), vocabularySize: vocab.count, eos: eos))
        for seed in 0..<UInt64(20) {
            let e = g.makeConstraint(eosTokenIds: [eos], reasoning: nil)
            let (ids, done) = try sample(e, vocabularySize: vocab.count, eos: eos, seed: seed, maxTokens: 100)
            XCTAssert(done)
            let text = String(decoding: ids.flatMap { vocab.tokenBytes[$0] }, as: UTF8.self)
            let v = Double(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
            XCTAssert(v > 0 && v < 1, "\(v)")
        }
    }
}

/// One compiled grammar shared by concurrent sequences gives the same outputs as running them one by one.
final class GrammarSharingTests: XCTestCase {
    func testConcurrentSequencesShareOneGrammar() throws {
        let vocab = GrammarFixtures.byteVocabulary()
        let g = try TokenGrammar.jsonSchema(GrammarSamplingTests.schemas[1].schema, vocabulary: vocab)
        let bias = GrammarSamplingTests.closingBias(vocab)
        @Sendable func run(_ seed: Int) -> [Int] {
            let c = g.makeConstraint(eosTokenIds: [GrammarFixtures.eos], reasoning: nil)
            return (try? sample(c, vocabularySize: vocab.count, eos: GrammarFixtures.eos, seed: UInt64(seed),
                                maxTokens: 300, bias: bias).ids) ?? [-1]
        }
        let fresh = try TokenGrammar.jsonSchema(GrammarSamplingTests.schemas[1].schema, vocabulary: vocab)
        let serial = (0..<8).map { seed -> [Int] in
            let c = fresh.makeConstraint(eosTokenIds: [GrammarFixtures.eos], reasoning: nil)
            return (try? sample(c, vocabularySize: vocab.count, eos: GrammarFixtures.eos, seed: UInt64(seed),
                                maxTokens: 300, bias: bias).ids) ?? [-1]
        }
        let results = Mutex<[Int: [Int]]>([:])
        DispatchQueue.concurrentPerform(iterations: 8) { seed in
            let ids = run(seed)
            results.withLock { $0[seed] = ids }
        }
        let parallel = results.withLock { r in (0..<8).map { r[$0]! } }
        XCTAssertEqual(parallel, serial)
        XCTAssertFalse(serial.contains([-1]))
    }
}

/// The runtime's own decoding loop (`SequenceDecoder`: penalties, mask, seeded sampler at temperature 1 with
/// top-p, EOS handling) driven with random logits and a grammar constraint ends with schema-valid JSON.
final class SequenceDecoderIntegrationTests: XCTestCase {
    func testSequenceDecoderWithGrammar() throws {
        let tok = try BuiltinTokenizer.tinyPangu()
        let vocab = GrammarVocabulary(tokenizer: tok)
        let schema = GrammarSamplingTests.schemas[0].schema
        let g = try TokenGrammar.jsonSchema(schema, vocabulary: vocab)
        let eos = tok.eosTokenIds[0]
        let bias = GrammarSamplingTests.closingBias(vocab)
        var pairs: [(schema: String, document: String)] = []
        for seed in 0..<UInt64(6) {
            let settings = DecodeSettings(sampling: SamplingParameters(temperature: 1, topP: 0.95, repetitionPenalty: 1.1, seed: seed),
                                          eosTokenIds: [eos], maxTokens: 300)
            let think = (open: vocab.specialTokens["[unused16]"]!, close: vocab.specialTokens["[unused17]"]!)
            let decoder = try SequenceDecoder(context: [1], settings: settings,
                                              constraint: g.makeConstraint(eosTokenIds: [eos], reasoning: think))
            var rng = SplitMix64(seed: seed &+ 100)
            var ended = false
            for _ in 0..<300 {
                let logits = (0..<vocab.count).map { Float.random(in: 0..<4, using: &rng) + bias[$0] }
                if case .end = try decoder.step(logits) { ended = true; break }
                if decoder.finish != nil { break }
            }
            guard ended else { continue }
            let text = tok.decode(decoder.generated)
            // A reasoning block may come first; the JSON follows its close marker.
            let json = text.components(separatedBy: "[unused17]").last!
            XCTAssertNotNil(try? JSONSerialization.jsonObject(with: Data(json.utf8)), text)
            pairs.append((schema, json))
        }
        XCTAssertGreaterThanOrEqual(pairs.count, 3)
        if let bad = try pythonInvalidIndices(pairs) {
            for i in bad { XCTFail("jsonschema rejects \(pairs[i].document)") }
        }
    }
}
