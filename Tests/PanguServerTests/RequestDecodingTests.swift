// PanguServer.decodeRequest, the routes' decoding without HTTP (also the entry point of the server-request fuzz
// harness): the committed fuzz seeds must decode into the requests they describe, so the fuzzer starts deep in
// the decoder rather than at its first error.
import Foundation
import PanguEngine
@testable import PanguServer
import PanguTestSupport
import XCTest

final class RequestDecodingTests: ServerTestCase {
    var model: ServerModel {
        ServerModel(id: "tiny", tokenizer: Self.tokenizer, templates: Self.templates, contextLength: 512,
                    defaultSampling: .greedy, service: FakeGenerationService { _ in .init(deltas: [], finish: .stop) },
                    constraints: GrammarConstraintBuilder(tokenizer: Self.tokenizer, eosTokenIds: Self.tokenizer.eosTokenIds),
                    created: 0)
    }

    func seed(_ name: String) throws -> (ServerRoute, String) {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("FuzzCorpus/server-request/\(name).json")
        let bytes = [UInt8](try Data(contentsOf: url))
        return (ServerRoute.allCases[Int(bytes[0])], String(decoding: bytes.dropFirst(), as: UTF8.self))
    }

    func testSeedsDecodeIntoTheirRequests() throws {
        // (seed, requests, constrained): n = 2 gives two choices; two prompts × n = 2 give four.
        let expected: [(String, Int, Bool)] = [
            ("chat", 2, false), ("chat-tools", 1, false), ("chat-forced-tool", 1, true), ("chat-schema", 1, true),
            ("chat-json-object", 1, true), ("completion", 1, false), ("completion-batch", 4, false),
            ("completion-ids", 2, false), ("tokenize", 0, false), ("detokenize", 0, false),
        ]
        for (name, count, constrained) in expected {
            let (route, body) = try seed(name)
            let requests = try PanguServer.decodeRequest(route, body: body, model: model)
            XCTAssertEqual(requests.count, count, name)
            for r in requests {
                XCTAssertEqual(r.constraint != nil, constrained, name)
                if let make = r.constraint { _ = try make() }
            }
        }
        let (_, ids) = try seed("completion-ids")
        XCTAssertEqual(try PanguServer.decodeRequest(.completions, body: ids, model: model).map(\.prompt), [[1, 5, 9], [1, 7]])
    }

    func testClientMistakesAreAPIErrorsNamingTheField() throws {
        let cases: [(ServerRoute, String, String?)] = [
            (.chatCompletions, "[1]", nil),
            (.chatCompletions, #"{"messages": []}"#, "messages"),
            (.chatCompletions, #"{"messages": [{"role": "user", "content": "x"}], "max_tokens": 1000}"#, "max_tokens"),
            (.completions, #"{"prompt": [[1, 99999]]}"#, "prompt"),
            (.detokenize, #"{"tokens": [-1]}"#, "tokens"),
        ]
        for (route, body, param) in cases {
            XCTAssertThrowsError(try PanguServer.decodeRequest(route, body: body, model: model), body) { error in
                guard let e = error as? APIError else { return XCTFail("\(body): \(error)") }
                XCTAssertEqual(e.status.code, 400, body)
                XCTAssertEqual(e.param, param, body)
            }
        }
    }
}
