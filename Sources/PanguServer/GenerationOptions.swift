// Request fields shared by /v1/chat/completions and /v1/completions: sampling, penalties, limits, stop strings,
// `n`, streaming. Unset sampling fields take the checkpoint's generation_config.json values.
import PanguChat
import PanguEngine
import PanguRuntime

/// Validated generation settings of one request.
struct GenerationOptions {
    var sampling: SamplingParameters
    var presencePenalty: Float = 0
    var frequencyPenalty: Float = 0
    /// nil: up to the context.
    var maxTokens: Int?
    /// The field `maxTokens` came from (for error messages).
    var maxTokensField = "max_tokens"
    var stop: [String] = []
    var n = 1
    var stream = false
    var includeUsage = false

    /// Most choices one request may ask for.
    static let maxChoices = 16

    init(_ f: RequestFields, defaults: SamplingParameters, maxTokensFields: [String]) throws {
        sampling = defaults
        if let t = try f.double("temperature", in: 0...100) {
            sampling.temperature = Float(t)
            sampling.doSample = t > 0
        }
        if let p = try f.double("top_p", in: 0...1) {
            guard p > 0 else { throw APIError.invalid("'top_p' must be greater than 0", param: "top_p", code: "invalid_value") }
            sampling.topP = Float(p)
        }
        if let k = try f.int("top_k", in: -1...Int(Int32.max)) { sampling.topK = max(k, 0) }
        if let p = try f.double("min_p", in: 0...1) { sampling.minP = Float(p) }
        if let r = try f.double("repetition_penalty", in: 0...100) {
            guard r > 0 else {
                throw APIError.invalid("'repetition_penalty' must be greater than 0", param: "repetition_penalty",
                                       code: "invalid_value")
            }
            sampling.repetitionPenalty = Float(r)
        }
        if let s = try f.int("seed") { sampling.seed = UInt64(bitPattern: Int64(s)) }
        if let p = try f.double("presence_penalty", in: -2...2) { presencePenalty = Float(p) }
        if let p = try f.double("frequency_penalty", in: -2...2) { frequencyPenalty = Float(p) }
        for key in maxTokensFields {
            if let m = try f.int(key) {
                guard m >= 1 else {
                    throw APIError.invalid("'\(key)' must be at least 1, got \(m)", param: key, code: "invalid_value")
                }
                maxTokens = m
                maxTokensField = key
                break
            }
        }
        if let s = f.value("stop") {
            switch s {
            case let .string(one): stop = [one]
            case let .array(items):
                stop = try items.enumerated().map { i, item in
                    guard case let .string(text) = item else {
                        throw APIError.invalid("'stop[\(i)]' must be a string", param: "stop", code: "invalid_type")
                    }
                    return text
                }
            default: throw APIError.invalid("'stop' must be a string or an array of strings", param: "stop", code: "invalid_type")
            }
            if stop.contains("") { throw APIError.invalid("'stop' strings must not be empty", param: "stop", code: "invalid_value") }
        }
        n = try f.int("n", in: 1...Self.maxChoices) ?? 1
        stream = try f.bool("stream") ?? false
        if let so = try f.object("stream_options") {
            includeUsage = try so.bool("include_usage") ?? false
            guard stream else {
                throw APIError.invalid("'stream_options' is only allowed when 'stream' is true", param: "stream_options")
            }
        }
    }

    /// One request per choice for `prompt`, after checking prompt + max_tokens against the context.
    /// With a seed, choice i uses seed + i so the choices differ but each is reproducible.
    func requests(prompt: [Int], contextLength: Int, promptParam: String,
                  configure: (inout GenerationRequest) -> Void) throws -> [GenerationRequest] {
        guard prompt.count < contextLength else {
            throw APIError.invalid("This model's maximum context length is \(contextLength) tokens. However, your prompt has \(prompt.count) tokens. Please reduce the length of the \(promptParam).",
                                   param: promptParam, code: "context_length_exceeded")
        }
        let budget = maxTokens ?? (contextLength - prompt.count)
        guard prompt.count + budget <= contextLength else {
            throw APIError.invalid("This model's maximum context length is \(contextLength) tokens. However, you requested \(prompt.count + budget) tokens (\(prompt.count) in the \(promptParam), \(budget) in the completion). Please reduce the length of the \(promptParam) or the completion.",
                                   param: maxTokensField, code: "context_length_exceeded")
        }
        return (0..<n).map { i in
            var s = sampling
            if let seed = s.seed { s.seed = seed &+ UInt64(i) }
            var r = GenerationRequest(prompt: prompt, sampling: s, maxTokens: budget)
            r.presencePenalty = presencePenalty
            r.frequencyPenalty = frequencyPenalty
            r.stop = stop
            configure(&r)
            return r
        }
    }
}
