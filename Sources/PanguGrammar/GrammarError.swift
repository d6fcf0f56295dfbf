/// Errors of the constrained-decoding grammars (see Docs/ConstrainedDecoding.md).
public enum GrammarError: Error, CustomStringConvertible, Equatable {
    /// The schema (or tool parameters schema) is not valid JSON, is not a valid JSON Schema, or uses a keyword
    /// this compiler cannot enforce. `path` is a JSON Pointer into the schema (`#/properties/age/minimum`).
    case invalidSchema(path: String, detail: String)
    /// A tool-call grammar request is inconsistent (no tools, unknown forced name, marker not a special token).
    case invalidToolSpec(String)
    /// The grammar grew beyond the automaton size limit (schemas with huge `maxLength`/`maxItems` bounds).
    case grammarTooLarge(String)
    /// `accept` got a token the constraint did not allow (`position` counts accepted tokens before it).
    case tokenNotAllowed(token: Int, position: Int)

    public var description: String {
        switch self {
        case let .invalidSchema(path, detail): return "invalid or unsupported JSON schema at \(path): \(detail)"
        case let .invalidToolSpec(detail): return "invalid tool specification: \(detail)"
        case let .grammarTooLarge(detail): return "grammar too large: \(detail)"
        case let .tokenNotAllowed(token, position):
            return "token \(token) is not allowed by the output grammar at generated token \(position)"
        }
    }
}
