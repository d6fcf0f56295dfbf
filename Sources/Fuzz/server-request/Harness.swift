// Fuzz harness `server-request`: hostile JSON bodies through the server's request decoding (JSON parsing, every
// field's validation, chat template rendering and tokenization, JSON-schema and tool-call grammar building), as
// each route runs it before generating. See Docs/Fuzzing.md.
import Foundation
import PanguChat
import PanguEngine
import PanguFuzzSupport
import PanguRuntime
import PanguServer
import PanguTokenizer

/// Decoding never submits; a submission would be a bug in the harness or the entry point.
struct NoGeneration: GenerationService {
    func submit(_ request: GenerationRequest) throws -> AsyncThrowingStream<GenerationEvent, Error> {
        fatalError("request decoding submitted a request")
    }
}

@main enum Harness {
    /// The built-in tiny tokenizer and chat templates with PanguGrammar constraints, made once. A static, so the
    /// exit-time leak report skips it like every global (scripts/fuzz-lsan.supp: template syntax trees are held
    /// through enum payload pointers LeakSanitizer cannot follow); leaks are still checked after every input.
    static let model: ServerModel = {
        let tokenizer: HuggingFaceTokenizer, templates: ChatTemplateSet
        do {
            tokenizer = try BuiltinTokenizer.tinyPangu()
            templates = try ChatTemplateSet(checkpointDirectory: BuiltinTokenizer.tinyPanguDirectory)
        } catch { fatalError("built-in tokenizer: \(error)") }
        return ServerModel(id: "tiny", tokenizer: tokenizer, templates: templates, contextLength: 512,
                           defaultSampling: .greedy, service: NoGeneration(),
                           constraints: GrammarConstraintBuilder(tokenizer: tokenizer, eosTokenIds: tokenizer.eosTokenIds),
                           created: 0)
    }()

    static func main() {
        let model = Self.model
        let vocabulary = model.tokenizer.vocabularySize
        let routes = ServerRoute.allCases
        runHarness { bytes in
            guard let first = bytes.first else { return }
            let route = routes[Int(first) % routes.count]
            let body = String(decoding: bytes.dropFirst(), as: UTF8.self)
            let requests: [GenerationRequest]
            do { requests = try PanguServer.decodeRequest(route, body: body, model: model) } catch let e as APIError {
                // A client mistake must be answered with a 4xx naming it, never a 500.
                fuzzCheck((400..<500).contains(e.status.code) && !e.message.isEmpty, "\(route): \(e.status) '\(e.message)'")
                return
            } catch {
                fuzzCheck(false, "\(route): \(type(of: error)) instead of an APIError: \(error)")
                return
            }
            for r in requests {
                fuzzCheck(!r.prompt.isEmpty && r.prompt.allSatisfy { (0..<vocabulary).contains($0) },
                          "\(route): prompt ids outside the vocabulary")
                fuzzCheck(r.maxTokens >= 0 && r.prompt.count + r.maxTokens <= model.contextLength,
                          "\(route): \(r.prompt.count) prompt + \(r.maxTokens) tokens beyond the context")
                // Walk the constraint a few tokens (always the lowest allowed id), as the model thread would.
                guard let make = r.constraint, let constraint = try? make() else { continue }
                var logits = [Float](repeating: 0, count: vocabulary)
                for _ in 0..<6 {
                    for i in logits.indices { logits[i] = 0 }
                    constraint.mask(&logits)
                    guard let next = logits.firstIndex(where: { $0.isFinite }) else { break }
                    do { try constraint.accept(next) } catch {
                        fuzzCheck(false, "\(route): the constraint refused token \(next), which its mask allowed")
                    }
                }
            }
        }
    }
}
