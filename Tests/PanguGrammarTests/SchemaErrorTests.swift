import PanguGrammar
import XCTest

/// Unsupported or invalid schemas are refused with the JSON path of the offending keyword.
final class SchemaErrorTests: XCTestCase {
    func path(_ schema: String) -> String? {
        do {
            _ = try TokenGrammar.jsonSchema(schema, vocabulary: GrammarFixtures.byteVocabulary())
            return nil
        } catch let GrammarError.invalidSchema(path, _) {
            return path
        } catch {
            return "other: \(error)"
        }
    }

    func testUnsupportedAndInvalidSchemasNameThePath() {
        let cases: [(String, String)] = [
            (#"{"type":"string","pattern":"a+"}"#, "#/pattern"),
            (#"{"type":"object","properties":{"a":{"type":"integer","multipleOf":2}}}"#, "#/properties/a/multipleOf"),
            (#"{"type":"array","items":{"type":"strin"}}"#, "#/items/type"),
            (#"{"type":"array","items":[{"type":"string"}]}"#, "#/items"),
            (##"{"$ref":"#/$defs/missing"}"##, "#/$ref"),
            (##"{"$defs":{"n":{"type":"object","properties":{"next":{"$ref":"#/$defs/n"}}}},"$ref":"#/$defs/n"}"##,
             "#/$defs/n/properties/next/$ref"),
            (#"{"type":"integer","minimum":5,"maximum":3}"#, "#"),
            (#"{"type":"string","minLength":5,"maxLength":2}"#, "#/maxLength"),
            (#"{"type":"string","maxLength":-1}"#, "#/maxLength"),
            (#"{"oneOf":[{"type":"string"},{"type":"string","maxLength":2}]}"#, "#/oneOf"),
            (#"{"oneOf":[{"type":"object","properties":{"k":{"const":1}},"required":["k"]},{"type":"object","properties":{"k":{"enum":[2,1.0]}},"required":["k"]}]}"#, "#/oneOf"),
            (#"{"oneOf":[{"type":"object","properties":{"k":{"const":1}}},{"type":"object","properties":{"k":{"const":2}}}]}"#, "#/oneOf"),
            (#"{"oneOf":[{"maxLength":3},{"type":"integer"}]}"#, "#/oneOf"),
            (#"{"type":"array","items":false,"minItems":1}"#, "#/items"),
            (#"{"allOf":[{"type":"string"},{"maxLength":2}]}"#, "#/allOf"),
            (#"{"type":"object","minProperties":1}"#, "#/minProperties"),
            (#"{"type":"array","uniqueItems":true}"#, "#/uniqueItems"),
            (#"{"enum":["a","bb"],"maxLength":1}"#, "#/maxLength"),
            (#"{"type":"object","properties":{"a":{"not":{"type":"null"}}}}"#, "#/properties/a/not"),
            (#"{"type":"integer","enum":["a"]}"#, "#/enum"),
            (#"{"type":"object","required":["x"],"additionalProperties":false}"#, "#/required"),
            ("false", "#"),
            ("{\"type\": ", "#"),
        ]
        for (schema, expected) in cases { XCTAssertEqual(path(schema), expected, schema) }
        // Annotations and x- keywords are accepted.
        XCTAssertNil(path(#"{"title":"t","description":"d","format":"email","x-foo":1,"type":"string","default":"a","nullable":true}"#))
    }

    func testHugeBoundsAreRefusedNotHung() {
        XCTAssertThrowsError(try TokenGrammar.jsonSchema(#"{"type":"string","minLength":10000000}"#,
                                                         vocabulary: GrammarFixtures.byteVocabulary())) { e in
            guard case GrammarError.grammarTooLarge = e else { return XCTFail("\(e)") }
        }
    }

    func testToolSpecErrors() {
        let v = GrammarFixtures.byteVocabulary()
        let tools: [(name: String, parametersJSON: String)] = [("a", "{}"), ("b", #"{"type":"object","properties":{"x":{"pattern":"y"}}}"#)]
        XCTAssertThrowsError(try TokenGrammar.toolCalls(tools, forcedName: nil, open: "[unused11]", close: "[unused12]", vocabulary: v)) { e in
            XCTAssertEqual(e as? GrammarError, .invalidSchema(path: "#/tools/1/function/parameters/properties/x/pattern",
                                                               detail: "keyword \"pattern\" is not supported by constrained decoding"))
        }
        XCTAssertThrowsError(try TokenGrammar.toolCalls([("a", "{}")], forcedName: "zzz", open: "[unused11]", close: "[unused12]", vocabulary: v))
        XCTAssertThrowsError(try TokenGrammar.toolCalls([], forcedName: nil, open: "[unused11]", close: "[unused12]", vocabulary: v))
        XCTAssertThrowsError(try TokenGrammar.toolCalls([("a", #"{"type":"string"}"#)], forcedName: nil, open: "[unused11]",
                                                        close: "[unused12]", vocabulary: v))
    }
}
