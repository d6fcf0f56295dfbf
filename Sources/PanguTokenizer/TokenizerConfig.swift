import Foundation

/// The parts of a Hugging Face `tokenizer_config.json` (and `special_tokens_map.json`) the tokenizer uses.
public struct TokenizerConfig: Sendable {
    /// One entry of `added_tokens_decoder`.
    public struct AddedToken: Sendable, Equatable {
        /// Token id.
        public var id: Int
        /// Exact text matched in the input and produced when decoding.
        public var content: String
        /// Whether the token was declared special.
        public var special: Bool
        /// Strip whitespace to the left of the token when encoding.
        public var lstrip: Bool
        /// Strip whitespace to the right of the token when encoding.
        public var rstrip: Bool
        /// Only match as a whole word.
        public var singleWord: Bool
        /// Creates an added token.
        public init(id: Int, content: String, special: Bool = true, lstrip: Bool = false, rstrip: Bool = false,
                    singleWord: Bool = false) {
            self.id = id
            self.content = content
            self.special = special
            self.lstrip = lstrip
            self.rstrip = rstrip
            self.singleWord = singleWord
        }
    }

    /// Prepend the BOS token when encoding with special tokens.
    public var addBosToken = true
    /// Append the EOS token when encoding with special tokens.
    public var addEosToken = false
    /// Named special tokens (`bos_token`, `eos_token`, ...), nil when absent.
    public var bosToken: String?, eosToken: String?, unkToken: String?, padToken: String?
    /// Other named special tokens of `SPECIAL_TOKENS_ATTRIBUTES`.
    public var sepToken: String?, clsToken: String?, maskToken: String?
    /// `additional_special_tokens` / `extra_special_tokens`.
    public var additionalSpecialTokens: [String] = []
    /// `added_tokens_decoder`, sorted by id.
    public var addedTokens: [AddedToken] = []
    /// Raw Jinja chat template (the default one when the file holds a list of named templates).
    public var chatTemplate: String?
    /// Apply `clean_up_tokenization` (" ." → "." ...) after decoding.
    public var cleanUpTokenizationSpaces = false
    /// `model_max_length`, when it fits an `Int`.
    public var modelMaxLength: Int?
    /// `tokenizer_class`.
    public var tokenizerClass: String?

    /// An empty configuration (all defaults).
    public init() {}

    /// Parses `tokenizer_config.json`, optionally completed by `special_tokens_map.json` (config values win).
    public init(configJSON: Data?, specialTokensMapJSON: Data? = nil) throws {
        var merged: [String: Any] = [:]
        for (data, name) in [(specialTokensMapJSON, "special_tokens_map.json"), (configJSON, "tokenizer_config.json")] {
            guard let data else { continue }
            let obj: Any
            do { obj = try JSONSerialization.jsonObject(with: data) } catch {
                throw TokenizerError.invalidConfig("\(name) is not valid JSON: \(error.localizedDescription)")
            }
            guard let dict = obj as? [String: Any] else { throw TokenizerError.invalidConfig("\(name) is not a JSON object") }
            merged.merge(dict) { _, new in new }
        }
        try self.init(dictionary: merged)
    }

    /// Builds the configuration from an already parsed JSON object.
    public init(dictionary d: [String: Any]) throws {
        func token(_ key: String) throws -> String? {
            guard let v = d[key], !(v is NSNull) else { return nil }
            if let s = v as? String { return s }
            if let o = v as? [String: Any], let s = o["content"] as? String { return s }
            throw TokenizerError.invalidConfig("\(key) must be a string or an AddedToken object")
        }
        func bool(_ key: String, _ def: Bool) throws -> Bool {
            guard let v = d[key], !(v is NSNull) else { return def }
            guard let n = v as? NSNumber else { throw TokenizerError.invalidConfig("\(key) must be a boolean") }
            return n.boolValue
        }
        addBosToken = try bool("add_bos_token", true)
        addEosToken = try bool("add_eos_token", false)
        cleanUpTokenizationSpaces = try bool("clean_up_tokenization_spaces", false)
        bosToken = try token("bos_token"); eosToken = try token("eos_token")
        unkToken = try token("unk_token"); padToken = try token("pad_token")
        sepToken = try token("sep_token"); clsToken = try token("cls_token"); maskToken = try token("mask_token")
        for key in ["additional_special_tokens", "extra_special_tokens"] {
            guard let v = d[key], !(v is NSNull) else { continue }
            let list: [Any]
            if let a = v as? [Any] { list = a } else if let o = v as? [String: Any] { list = Array(o.values) } else {
                throw TokenizerError.invalidConfig("\(key) must be a list")
            }
            for item in list {
                if let s = item as? String { additionalSpecialTokens.append(s) } else if let o = item as? [String: Any],
                    let s = o["content"] as? String { additionalSpecialTokens.append(s) } else {
                    throw TokenizerError.invalidConfig("\(key) holds a non-token entry")
                }
            }
        }
        if let v = d["added_tokens_decoder"], !(v is NSNull) {
            guard let dec = v as? [String: Any] else { throw TokenizerError.invalidConfig("added_tokens_decoder must be an object") }
            for (key, value) in dec {
                guard let id = Int(key), id >= 0 else { throw TokenizerError.invalidConfig("added_tokens_decoder key \(key) is not an id") }
                guard id < SentencePieceModel.maxVocabularySize else {
                    throw TokenizerError.invalidConfig(
                        "added_tokens_decoder id \(id) is beyond the vocabulary limit \(SentencePieceModel.maxVocabularySize)")
                }
                guard let o = value as? [String: Any], let content = o["content"] as? String else {
                    throw TokenizerError.invalidConfig("added_tokens_decoder[\(key)] has no content")
                }
                func flag(_ k: String, _ def: Bool) -> Bool { (o[k] as? NSNumber)?.boolValue ?? def }
                addedTokens.append(AddedToken(id: id, content: content, special: flag("special", false),
                                              lstrip: flag("lstrip", false), rstrip: flag("rstrip", false),
                                              singleWord: flag("single_word", false)))
            }
            addedTokens.sort { $0.id < $1.id }
        }
        if let t = d["chat_template"], !(t is NSNull) {
            if let s = t as? String { chatTemplate = s } else if let list = t as? [[String: Any]] {
                let pick = list.first { ($0["name"] as? String) == "default" } ?? list.first
                chatTemplate = pick?["template"] as? String
            } else { throw TokenizerError.invalidConfig("chat_template must be a string or a list of templates") }
        }
        if let n = d["model_max_length"] as? NSNumber, n.doubleValue < 9.2e18 { modelMaxLength = n.intValue }
        tokenizerClass = d["tokenizer_class"] as? String
    }

    /// The named special tokens in `SPECIAL_TOKENS_ATTRIBUTES` order, then the additional ones (deduplicated).
    public var allSpecialTokens: [String] {
        var seen = Set<String>(), out: [String] = []
        for t in [bosToken, eosToken, unkToken, sepToken, padToken, clsToken, maskToken].compactMap({ $0 })
            + additionalSpecialTokens where seen.insert(t).inserted {
            out.append(t)
        }
        return out
    }
}
