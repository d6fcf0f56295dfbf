// generation_config.json: the checkpoint's default sampling settings and stop tokens (Docs/Fuzzing.md explains
// which values are accepted). A missing file gives documented defaults; a file that exists but cannot be read or
// understood is an error, never a silent switch to greedy decoding.
import Foundation
import PanguWeights

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

    /// What a checkpoint without `generation_config.json` gets: Hugging Face's `GenerationConfig()` defaults
    /// (`do_sample=False`, i.e. greedy) with the model's EOS ids.
    public static func defaults(eosTokenIds: [Int]) -> GenerationConfig {
        GenerationConfig(sampling: SamplingParameters(doSample: false), eosTokenIds: eosTokenIds)
    }

    /// Reads `url`. Only a file that does not exist gives ``defaults(eosTokenIds:)``; an unreadable file (a
    /// directory, no permission), malformed JSON, a wrongly typed field (`do_sample` must be a JSON boolean, ids
    /// and counts integers) or an out-of-range value throws `RuntimeError.badGenerationConfig`.
    public static func load(_ url: URL, fallbackEOS: [Int]) throws -> GenerationConfig {
        guard FileManager.default.fileExists(atPath: url.path) else { return defaults(eosTokenIds: fallbackEOS) }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw RuntimeError.badGenerationConfig(path: url.path, detail: "cannot read: \(error.localizedDescription)")
        }
        return try decode(data, path: url.path, fallbackEOS: fallbackEOS)
    }

    /// Decodes the contents of a `generation_config.json` (`path` names it in errors). Unknown keys are ignored,
    /// as Hugging Face does; the keys below are checked.
    public static func decode(_ data: Data, path: String, fallbackEOS: [Int]) throws -> GenerationConfig {
        func fail(_ detail: String) -> RuntimeError { .badGenerationConfig(path: path, detail: detail) }
        let root: [String: ConfigValue]
        do { root = try JSONDecoder().decode([String: ConfigValue].self, from: data) } catch {
            throw fail("not a JSON object (\(error))")
        }
        func number(_ key: String) throws -> Double? {
            switch root[key] {
            case nil, .null?: return nil
            case let .integer(i)?: return Double(i)
            case let .real(d)?:
                guard d.isFinite else { throw fail("field '\(key)' must be a finite number") }
                return d
            default: throw fail("field '\(key)' must be a number")
            }
        }
        func integer(_ key: String) throws -> Int? {
            switch root[key] {
            case nil, .null?: return nil
            case let .integer(i)?: return i
            default: throw fail("field '\(key)' must be an integer")
            }
        }
        func check(_ ok: Bool, _ key: String, _ range: String) throws {
            if !ok { throw fail("field '\(key)' must be \(range)") }
        }
        var s = SamplingParameters()
        switch root["do_sample"] {
        case nil, .null?: s.doSample = false  // Hugging Face's default
        case let .bool(b)?: s.doSample = b
        default: throw fail("field 'do_sample' must be true or false")
        }
        if let t = try number("temperature") { try check(t >= 0, "temperature", "≥ 0"); s.temperature = Float(t) }
        if let k = try integer("top_k") { try check(k >= 0, "top_k", "≥ 0"); s.topK = k }
        if let p = try number("top_p") { try check(p >= 0 && p <= 1, "top_p", "in [0, 1]"); s.topP = Float(p) }
        if let p = try number("min_p") { try check(p >= 0 && p <= 1, "min_p", "in [0, 1]"); s.minP = Float(p) }
        if let r = try number("repetition_penalty") {
            try check(r > 0 && r <= 1e6, "repetition_penalty", "in (0, 1e6]")
            s.repetitionPenalty = Float(r)
        }
        var eos = fallbackEOS
        switch root["eos_token_id"] {
        case nil, .null?: break
        case let .integer(i)?: eos = [i]
        case let .array(a)?:
            eos = try a.map {
                guard case let .integer(i) = $0 else { throw fail("field 'eos_token_id' must be an integer or a list of integers") }
                return i
            }
        default: throw fail("field 'eos_token_id' must be an integer or a list of integers")
        }
        for id in eos { try check(id >= 0, "eos_token_id", "non-negative") }
        let maxNew = try integer("max_new_tokens")
        if let m = maxNew { try check(m >= 0, "max_new_tokens", "≥ 0") }
        return GenerationConfig(sampling: s, eosTokenIds: eos, maxNewTokens: maxNew)
    }
}

extension GenerationConfig {
    /// The sampling defaults of a GGUF file: llama.cpp's `general.sampling.*` keys (`temp`, `top_k`, `top_p`,
    /// `min_p`, `penalty_repeat`) where present; a key that is absent keeps the neutral default of
    /// `SamplingParameters()` (sample from the model's distribution unchanged: temperature 1, no top-k/top-p/min-p
    /// truncation, no repetition penalty). Never another checkpoint's values. A key of the wrong type or out of
    /// range throws `RuntimeError.badGenerationConfig` naming the file and key.
    public static func gguf(metadata: (String) -> GGUFValue?, path: String, eosTokenIds: [Int]) throws -> GenerationConfig {
        func number(_ key: String) throws -> Double? {
            guard let v = metadata("general.sampling.\(key)") else { return nil }
            guard let d = v.doubleValue, d.isFinite, v.boolValue == nil else {
                throw RuntimeError.badGenerationConfig(path: path, detail: "general.sampling.\(key) must be a finite number")
            }
            return d
        }
        func check(_ ok: Bool, _ key: String, _ range: String) throws {
            if !ok { throw RuntimeError.badGenerationConfig(path: path, detail: "general.sampling.\(key) must be \(range)") }
        }
        var s = SamplingParameters()
        if let t = try number("temp") { try check(t >= 0, "temp", "≥ 0"); s.temperature = Float(t) }
        if let k = try number("top_k") {
            // llama.cpp writes top_k ≤ 0 for "off".
            try check(k.rounded() == k && abs(k) < 1e9, "top_k", "an integer of magnitude below 1e9")
            s.topK = max(0, Int(k))
        }
        if let p = try number("top_p") { try check(p >= 0 && p <= 1, "top_p", "in [0, 1]"); s.topP = Float(p) }
        if let p = try number("min_p") { try check(p >= 0 && p <= 1, "min_p", "in [0, 1]"); s.minP = Float(p) }
        if let r = try number("penalty_repeat") {
            try check(r > 0 && r <= 1e6, "penalty_repeat", "in (0, 1e6]")
            s.repetitionPenalty = Float(r)
        }
        return GenerationConfig(sampling: s, eosTokenIds: eosTokenIds)
    }
}

/// A JSON value as `generation_config.json` needs it: booleans kept apart from numbers (JSONSerialization would
/// turn `1` into `true`), integers apart from reals.
enum ConfigValue: Decodable, Equatable {
    case bool(Bool), integer(Int), real(Double), string(String), array([ConfigValue]), object([String: ConfigValue]), null

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int.self) { self = .integer(i) }
        else if let d = try? c.decode(Double.self) { self = .real(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([ConfigValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: ConfigValue].self)) }
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
