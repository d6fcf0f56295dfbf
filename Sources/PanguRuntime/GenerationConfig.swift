// generation_config.json: the checkpoint's default sampling settings and stop tokens (spec §1.8).
import Foundation

/// Defaults for generation read from a checkpoint's `generation_config.json`.
public struct GenerationConfig: Sendable, Equatable {
    /// Default sampling parameters.
    public var sampling: SamplingParameters
    /// Token ids that end generation.
    public var eosTokenIds: [Int]
    /// Default cap on new tokens, if the file sets one.
    public var maxNewTokens: Int?

    /// Creates a config.
    public init(sampling: SamplingParameters = SamplingParameters(), eosTokenIds: [Int] = [], maxNewTokens: Int? = nil) {
        self.sampling = sampling
        self.eosTokenIds = eosTokenIds
        self.maxNewTokens = maxNewTokens
    }

    /// Reads `url`; a missing file gives Hugging Face's defaults. Throws `RuntimeError.badGenerationConfig` on
    /// malformed JSON or wrongly typed fields.
    public static func load(_ url: URL, fallbackEOS: [Int]) throws -> GenerationConfig {
        guard let data = try? Data(contentsOf: url) else {
            return GenerationConfig(sampling: SamplingParameters(doSample: false), eosTokenIds: fallbackEOS)
        }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw RuntimeError.badGenerationConfig(path: url.path, detail: "not a JSON object")
        }
        func number(_ key: String) throws -> Double? {
            guard let v = root[key], !(v is NSNull) else { return nil }
            guard let n = v as? NSNumber else {
                throw RuntimeError.badGenerationConfig(path: url.path, detail: "field '\(key)' must be a number")
            }
            return n.doubleValue
        }
        var s = SamplingParameters()
        s.doSample = (root["do_sample"] as? Bool) ?? false
        if let t = try number("temperature") { s.temperature = Float(t) }
        if let k = try number("top_k") { s.topK = Int(k) }
        if let p = try number("top_p") { s.topP = Float(p) }
        if let p = try number("min_p") { s.minP = Float(p) }
        if let r = try number("repetition_penalty") { s.repetitionPenalty = Float(r) }
        var eos = fallbackEOS
        if let one = root["eos_token_id"] as? Int { eos = [one] } else if let many = root["eos_token_id"] as? [Int] { eos = many }
        let maxNew = try number("max_new_tokens").map { Int($0) }
        return GenerationConfig(sampling: s, eosTokenIds: eos, maxNewTokens: maxNew)
    }
}

/// Errors of the runtime layer.
public enum RuntimeError: Error, CustomStringConvertible, Equatable {
    /// generation_config.json could not be understood.
    case badGenerationConfig(path: String, detail: String)
    /// A request was invalid (empty prompt, bad parameter).
    case invalidRequest(String)

    public var description: String {
        switch self {
        case let .badGenerationConfig(path, detail): return "\(path): \(detail)"
        case let .invalidRequest(detail): return detail
        }
    }
}
