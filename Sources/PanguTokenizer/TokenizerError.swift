import Foundation

/// Every failure the tokenizer module can report. Loading never crashes on bad input: it throws one of these.
public enum TokenizerError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The `tokenizer.model` protobuf is truncated or malformed; the message names the field and byte offset.
    case corruptModel(String)
    /// The model parsed but is not usable (missing `<unk>`, duplicate pieces, bad byte pieces, unknown model type...).
    case invalidModel(String)
    /// `tokenizer_config.json` (or `special_tokens_map.json`) is malformed or inconsistent with the model.
    case invalidConfig(String)
    /// A required file could not be read.
    case fileNotReadable(path: String, reason: String)

    /// Human-readable description naming the problem.
    public var description: String {
        switch self {
        case .corruptModel(let m): return "corrupt tokenizer.model: \(m)"
        case .invalidModel(let m): return "invalid tokenizer.model: \(m)"
        case .invalidConfig(let m): return "invalid tokenizer config: \(m)"
        case .fileNotReadable(let p, let r): return "cannot read \(p): \(r)"
        }
    }
}
