/// Errors raised while configuring, loading or running a model.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    /// `config.json` names an architecture no file in `Architectures/` implements.
    case unsupportedArchitecture(String, supported: [String])
    /// A configuration field has a value this engine does not implement, or is missing.
    case unsupportedConfig(file: String, field: String, detail: String)
    /// The checkpoint's tensors do not match the architecture. All problems are listed at once.
    case tensorMismatch(missing: [String], unexpected: [String], wrongShape: [String], wrongType: [String])
    /// A token id is outside the vocabulary.
    case tokenOutOfRange(id: Int, position: Int, vocabularySize: Int)
    /// A sequence would grow past the model's context length.
    case contextOverflow(needed: Int, limit: Int)
    /// A caller passed inconsistent arguments.
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .unsupportedArchitecture(name, supported):
            return "unsupported architecture '\(name)'; supported: \(supported.joined(separator: ", "))"
        case let .unsupportedConfig(file, field, detail): return "\(file): field '\(field)': \(detail)"
        case let .tensorMismatch(missing, unexpected, wrongShape, wrongType):
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing tensors: \(missing.joined(separator: ", "))") }
            if !unexpected.isEmpty { parts.append("unexpected tensors: \(unexpected.joined(separator: ", "))") }
            if !wrongShape.isEmpty { parts.append("wrong shapes: \(wrongShape.joined(separator: "; "))") }
            if !wrongType.isEmpty { parts.append("unsupported types: \(wrongType.joined(separator: "; "))") }
            return "checkpoint does not match the architecture: " + parts.joined(separator: "; ")
        case let .tokenOutOfRange(id, position, vocab):
            return "token id \(id) at position \(position) is outside the vocabulary (size \(vocab))"
        case let .contextOverflow(needed, limit):
            return "sequence needs \(needed) positions but the context length is \(limit)"
        case let .invalidArgument(detail): return detail
        }
    }
}
