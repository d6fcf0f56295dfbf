// Loading a checkpoint's chat template(s) the way Hugging Face transformers does.
import Foundation

/// The chat templates of a checkpoint plus the special-token strings templates read.
///
/// Sources, in Hugging Face's order of precedence: `chat_template.jinja` (one template), `chat_template.json`
/// (`{"chat_template": …}`), then `tokenizer_config.json` `chat_template`; named extras from
/// `additional_chat_templates/*.jinja`. A `chat_template` value is either one string or a list of
/// `{"name", "template"}` entries. Selection follows HF: an explicit name, else `tool_use` when tools are given
/// and present, else `default`. With no template anywhere the built-in Pangu template is used
/// (``usesBuiltInFallback``).
public struct ChatTemplateSet: Sendable {
    /// Templates by name (a single string template is stored as "default").
    public let templates: [String: ChatTemplate]
    /// `bos_token`, `eos_token`, `unk_token`, `pad_token` strings from `tokenizer_config.json` (string or
    /// AddedToken `{"content": …}` form); Pangu defaults when absent.
    public let specialTokens: [String: String]
    /// True when the checkpoint had no template and the built-in Pangu one is used.
    public let usesBuiltInFallback: Bool

    /// Pangu special-token strings (PANGU.md §1.6).
    public static let panguSpecialTokens = ["bos_token": "<s>", "eos_token": "[unused10]", "unk_token": "<unk>",
                                            "pad_token": "<unk>"]

    /// Parses a `chat_template` value (string or list of named templates).
    public init(chatTemplateValue: JinjaValue, specialTokens: [String: String] = ChatTemplateSet.panguSpecialTokens) throws {
        templates = try Self.parse(chatTemplateValue)
        self.specialTokens = specialTokens
        usesBuiltInFallback = false
    }

    /// Loads from `tokenizer_config.json` contents; falls back to the built-in Pangu template when the file has no
    /// `chat_template` (or `nil` data is given).
    public init(tokenizerConfigJSON data: Data?) throws {
        try self.init(tokenizerConfig: data, chatTemplateOverride: nil, extras: [:])
    }

    /// Loads from a checkpoint directory (see the type documentation for the files read).
    public init(checkpointDirectory dir: URL) throws {
        let fm = FileManager.default
        func read(_ name: String) throws -> Data? {
            let url = dir.appendingPathComponent(name)
            return fm.fileExists(atPath: url.path) ? try Data(contentsOf: url) : nil
        }
        var override: JinjaValue? = nil
        if let d = try read("chat_template.jinja") {
            override = .string(String(decoding: d, as: UTF8.self))
        } else if let d = try read("chat_template.json"),
                  case let .dict(obj) = try JSONCoding.parse(String(decoding: d, as: UTF8.self)), let v = obj["chat_template"] {
            override = v
        }
        var extras: [String: String] = [:]
        let extraDir = dir.appendingPathComponent("additional_chat_templates")
        if let names = try? fm.contentsOfDirectory(atPath: extraDir.path) {
            for n in names where n.hasSuffix(".jinja") {
                let d = try Data(contentsOf: extraDir.appendingPathComponent(n))
                extras[String(n.dropLast(6))] = String(decoding: d, as: UTF8.self)
            }
        }
        try self.init(tokenizerConfig: try read("tokenizer_config.json"), chatTemplateOverride: override, extras: extras)
    }

    private init(tokenizerConfig data: Data?, chatTemplateOverride: JinjaValue?, extras: [String: String]) throws {
        var cfg = OrderedDictionary()
        if let data {
            guard case let .dict(d) = try JSONCoding.parse(String(decoding: data, as: UTF8.self)) else {
                throw ChatTemplateError("tokenizer_config.json is not a JSON object")
            }
            cfg = d
        }
        var tokens = Self.panguSpecialTokens
        for key in ["bos_token", "eos_token", "unk_token", "pad_token"] {
            switch cfg[key] {
            case let .string(s)?: tokens[key] = s
            case let .dict(t)?: if case let .string(s)? = t["content"] { tokens[key] = s }
            default: break
            }
        }
        specialTokens = tokens
        var t: [String: ChatTemplate] = [:]
        if let v = chatTemplateOverride ?? cfg["chat_template"], !(v == .none) { t = try Self.parse(v) }
        for (name, src) in extras { t[name] = try ChatTemplate(src) }
        usesBuiltInFallback = t.isEmpty
        if t.isEmpty { t["default"] = ChatTemplate.pangu }
        templates = t
    }

    private static func parse(_ value: JinjaValue) throws -> [String: ChatTemplate] {
        var t: [String: ChatTemplate] = [:]
        switch value {
        case let .string(s): t["default"] = try ChatTemplate(s)
        case let .array(items):
            for item in items {
                guard case let .dict(d) = item, case let .string(name)? = d["name"], case let .string(src)? = d["template"] else {
                    throw ChatTemplateError("chat_template list entries must be {\"name\", \"template\"} objects")
                }
                t[name] = try ChatTemplate(src)
            }
        default: throw ChatTemplateError("chat_template must be a string or a list of named templates")
        }
        return t
    }

    /// Picks the template HF would use.
    public func select(name: String? = nil, hasTools: Bool) throws -> ChatTemplate {
        if let name {
            guard let t = templates[name] else { throw ChatTemplateError("no chat template named '\(name)'") }
            return t
        }
        if hasTools, let t = templates["tool_use"] { return t }
        if let t = templates["default"] { return t }
        throw ChatTemplateError("This model has multiple chat templates with no default specified! Available: "
            + templates.keys.sorted().joined(separator: ", "))
    }

    /// Selects the template and renders the generation prompt with this checkpoint's special tokens
    /// (see ``ChatTemplate/prompt(messages:tools:thinking:addGenerationPrompt:extra:)``).
    public func prompt(messages: [ChatMessage], tools: [JinjaValue] = [], thinking: ThinkingMode = .slow,
                       addGenerationPrompt: Bool = true, templateName: String? = nil,
                       extra: [String: JinjaValue] = [:]) throws -> String {
        var ctx: [String: JinjaValue] = [:]
        for (k, v) in specialTokens { ctx[k] = .string(v) }
        for (k, v) in extra { ctx[k] = v }
        return try select(name: templateName, hasTools: !tools.isEmpty)
            .prompt(messages: messages, tools: tools, thinking: thinking, addGenerationPrompt: addGenerationPrompt, extra: ctx)
    }
}
