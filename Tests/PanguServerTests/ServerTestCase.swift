// Shared setup for the in-process route tests: the tiny Pangu tokenizer and chat template, a scripted
// generation service and a recording constraint builder.
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PanguChat
import PanguEngine
import PanguRuntime
@testable import PanguServer
import PanguTestSupport
import PanguTokenizer
import XCTest

/// A constraint that allows everything (the route tests only check that one was requested).
final class AllowAll: LogitsConstraint {
    func mask(_ logits: inout [Float]) {}
    func accept(_ token: Int) throws {}
    var isComplete: Bool { false }
}

/// Records what the routes asked for; a schema containing "reject" is invalid.
final class RecordingConstraints: ConstraintBuilder, @unchecked Sendable {
    let lock = NSLock()
    var calls: [String] = []
    func record(_ s: String) { lock.lock(); calls.append(s); lock.unlock() }
    func jsonObject(allowReasoning: Bool) throws -> @Sendable () throws -> LogitsConstraint {
        record("object" + (allowReasoning ? "" : " fast"))
        return { AllowAll() }
    }
    func jsonSchema(_ schemaJSON: String, allowReasoning: Bool) throws -> @Sendable () throws -> LogitsConstraint {
        if schemaJSON.contains("reject") { throw RuntimeError.invalidRequest("unsupported keyword 'reject'") }
        record("schema:" + schemaJSON)
        return { AllowAll() }
    }
    func toolCalls(_ tools: [(name: String, parametersJSON: String)], forcedName: String?, allowReasoning: Bool) throws
        -> @Sendable () throws -> LogitsConstraint {
        record("tools:" + tools.map(\.name).joined(separator: ",") + ":" + (forcedName ?? "*") + (allowReasoning ? "" : " fast"))
        return { AllowAll() }
    }
}

class ServerTestCase: XCTestCase {
    static let tokenizer = try! BuiltinTokenizer.tinyPangu()
    static let templates = try! ChatTemplateSet(checkpointDirectory: BuiltinTokenizer.tinyPanguDirectory)

    /// A server with `service` loaded as model "tiny", context 1024.
    func makeServer(_ service: FakeGenerationService, apiKey: String? = nil, constraints: RecordingConstraints? = nil,
                    loaded: Bool = true) -> PanguServer {
        let server = PanguServer(configuration: ServerConfiguration(apiKey: apiKey))
        let m = ServerModel(id: "tiny", tokenizer: Self.tokenizer, templates: Self.templates, contextLength: 1024,
                            defaultSampling: .greedy, service: service, constraints: constraints, created: 1_700_000_000)
        if loaded { server.setModel(m) }
        return server
    }

    /// Replies "Hello world" as two deltas after a reasoning delta.
    static func helloService() -> FakeGenerationService {
        FakeGenerationService { _ in
            .init(deltas: [FakeGenerationService.reasoning("think"), FakeGenerationService.content("Hello"),
                           FakeGenerationService.content(" world")], finish: .stop)
        }
    }

    func app(_ server: PanguServer) -> some ApplicationProtocol {
        Application(router: server.makeRouter())
    }
}

// Request and response helpers (free functions: the test closures are @Sendable).

/// POSTs JSON text and returns status, headers and body text.
func post(_ client: some TestClientProtocol, _ uri: String, _ body: String, key: String? = nil)
    async throws -> (status: Int, headers: HTTPFields, body: String) {
    var headers: HTTPFields = [.contentType: "application/json"]
    if let key { headers[.authorization] = "Bearer \(key)" }
    return try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: body)) { r in
        (Int(r.status.code), r.headers, String(buffer: r.body))
    }
}

func get(_ client: some TestClientProtocol, _ uri: String, key: String? = nil)
    async throws -> (status: Int, headers: HTTPFields, body: String) {
    var headers: HTTPFields = [:]
    if let key { headers[.authorization] = "Bearer \(key)" }
    return try await client.execute(uri: uri, method: .get, headers: headers) { r in
        (Int(r.status.code), r.headers, String(buffer: r.body))
    }
}

func json(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
    let v = try JSONSerialization.jsonObject(with: Data(text.utf8))
    return try XCTUnwrap(v as? [String: Any], "not a JSON object: \(text)", file: file, line: line)
}

/// Splits an SSE body into its `data:` payloads, checking the framing (`data: …` + blank line, nothing else).
func events(_ body: String, file: StaticString = #filePath, line: UInt = #line) -> [String] {
    XCTAssertTrue(body.hasSuffix("\n\n"), "SSE body must end with a blank line", file: file, line: line)
    return body.components(separatedBy: "\n\n").filter { !$0.isEmpty }.map { e in
        XCTAssertTrue(e.hasPrefix("data: "), "not a data event: \(e)", file: file, line: line)
        XCTAssertFalse(e.contains("\n"), "event spans lines: \(e)", file: file, line: line)
        return String(e.dropFirst(6))
    }
}

/// The error object of an OpenAI-style error body (all four keys present).
func error(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
    let e = try XCTUnwrap(try json(text)["error"] as? [String: Any], file: file, line: line)
    XCTAssertEqual(Set(e.keys), ["message", "type", "param", "code"], file: file, line: line)
    XCTAssertFalse((e["message"] as? String ?? "").isEmpty, file: file, line: line)
    return e
}
