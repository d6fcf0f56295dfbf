// Request decoding apart from HTTP: what a route does with a JSON body before any generation starts (parse,
// validate every field, render and tokenize the prompt, build decoding constraints). The routes call the same
// types; the `server-request` fuzz harness (Docs/Fuzzing.md) drives this entry point with hostile bodies.
import PanguChat
import PanguEngine

/// The routes that take a JSON body.
public enum ServerRoute: String, CaseIterable, Sendable {
    case chatCompletions = "/v1/chat/completions"
    case completions = "/v1/completions"
    case tokenize = "/tokenize"
    case detokenize = "/detokenize"
}

extension PanguServer {
    /// Decodes and validates `body` exactly as `route` does before generating, without submitting anything.
    /// Returns the generation requests the route would submit (one per choice and prompt; none for `/tokenize`
    /// and `/detokenize`, whose whole answer is computed and dropped). A request the client got wrong throws the
    /// ``APIError`` the route would answer with.
    public static func decodeRequest(_ route: ServerRoute, body: String, model m: ServerModel) throws -> [GenerationRequest] {
        let f = try RequestFields.parse(body: body)
        switch route {
        case .chatCompletions: return try ChatRequest(f, model: m).requests(model: m)
        case .completions: return try CompletionRequest(f, model: m).requests(model: m)
        case .tokenize: _ = try tokenize(f, model: m); return []
        case .detokenize: _ = try detokenize(f, model: m); return []
        }
    }
}
