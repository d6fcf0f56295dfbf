import Foundation

/// A Hugging Face "slow" SentencePiece tokenizer as used by openPangu: `tokenizer.model` + `tokenizer_config.json`.
///
/// Encoding splits the text on added tokens first (whole-string, leftmost-longest match, like transformers'
/// `PreTrainedTokenizer.tokenize`), encodes each text segment separately with SentencePiece, then prepends BOS
/// (`add_bos_token`) / appends EOS (`add_eos_token`). Decoding concatenates `sp.decode` of runs of ordinary
/// tokens with special tokens written verbatim and no added spaces.
public struct HuggingFaceTokenizer: Tokenizer {
    /// The underlying SentencePiece model.
    public let sentencePiece: SentencePieceProcessor
    /// The parsed configuration (includes the raw `chat_template`).
    public let config: TokenizerConfig
    /// Added tokens by content (the "no split" tokens).
    let addedEncoder: [String: Int]
    /// Added tokens by id.
    let addedDecoder: [Int: TokenizerConfig.AddedToken]
    /// Added-token contents for splitting; values index `splitTokens`.
    let addedTrie: ByteTrie
    let splitTokens: [String]
    /// Named + additional special tokens (strings) and their ids.
    let specialStrings: Set<String>
    /// Ids skipped by `decode(_:skipSpecialTokens: true)`.
    public let specialTokenIds: Set<Int>
    /// SentencePiece ids whose piece text is an added token with another id.
    let pieceRemap: [Int: Int]
    /// SentencePiece ids whose piece text is a special token string (decoded verbatim).
    let specialPieceIds: Set<Int>

    /// Loads `tokenizer.model`, `tokenizer_config.json` and (if present) `special_tokens_map.json` from a
    /// checkpoint directory.
    public init(directory: URL) throws {
        let fm = FileManager.default
        let modelURL = directory.appendingPathComponent("tokenizer.model")
        let sp = try SentencePieceProcessor(contentsOf: modelURL)
        func read(_ name: String) throws -> Data? {
            let url = directory.appendingPathComponent(name)
            guard fm.fileExists(atPath: url.path) else { return nil }
            do { return try Data(contentsOf: url) } catch {
                throw TokenizerError.fileNotReadable(path: url.path, reason: error.localizedDescription)
            }
        }
        let config = try TokenizerConfig(configJSON: try read("tokenizer_config.json"),
                                         specialTokensMapJSON: try read("special_tokens_map.json"))
        try self.init(sentencePiece: sp, config: config)
    }

    /// Builds a tokenizer from a loaded model and configuration.
    public init(sentencePiece sp: SentencePieceProcessor, config: TokenizerConfig) throws {
        sentencePiece = sp
        self.config = config
        var enc: [String: Int] = [:], dec: [Int: TokenizerConfig.AddedToken] = [:]
        for t in config.addedTokens {
            guard !t.content.isEmpty else { throw TokenizerError.invalidConfig("added token \(t.id) has empty content") }
            enc[t.content] = t.id
            dec[t.id] = t
        }
        // transformers also registers special tokens that are not in added_tokens_decoder as no-split tokens,
        // reusing their vocabulary id.
        for s in config.allSpecialTokens where enc[s] == nil {
            if let id = sp.lookup(Array(s.utf8)) {
                enc[s] = id
                dec[id] = dec[id] ?? TokenizerConfig.AddedToken(id: id, content: s, special: true)
            }
        }
        addedEncoder = enc
        addedDecoder = dec
        var trie = ByteTrie()
        var split: [String] = []
        for (content, _) in enc.sorted(by: { $0.value < $1.value }) {
            trie.insert(Array(content.utf8), value: Int32(split.count))
            split.append(content)
        }
        addedTrie = trie
        splitTokens = split
        specialStrings = Set(config.allSpecialTokens)
        var ids = Set<Int>()
        for s in config.allSpecialTokens { ids.insert(enc[s] ?? sp.pieceToId(s)) }
        specialTokenIds = ids
        var remap: [Int: Int] = [:]
        for (content, id) in enc {
            if let pid = sp.lookup(Array(content.utf8)), pid != id { remap[pid] = id }
        }
        pieceRemap = remap
        specialPieceIds = Set(config.allSpecialTokens.compactMap { sp.lookup(Array($0.utf8)) })
    }

    /// Converts a token string to an id like `convert_tokens_to_ids`: added tokens first, then the
    /// SentencePiece vocabulary (unknown id when absent).
    func tokenToId(_ token: String) -> Int { addedEncoder[token] ?? sentencePiece.pieceToId(token) }

    /// Number of ids: SentencePiece pieces plus added tokens beyond them.
    public var vocabularySize: Int { max(sentencePiece.vocabularySize, (addedDecoder.keys.max() ?? -1) + 1) }

    /// Id of `bos_token`.
    public var bosTokenId: Int? { config.bosToken.map(tokenToId) }

    /// Id of `eos_token` (for openPangu `[unused10]`, 45892).
    public var eosTokenIds: [Int] { config.eosToken.map { [tokenToId($0)] } ?? [] }

    /// Id of `pad_token`.
    public var padTokenId: Int? { config.padToken.map(tokenToId) }

    /// Id of `unk_token` (falls back to the model's unknown piece).
    public var unkTokenId: Int { config.unkToken.map(tokenToId) ?? sentencePiece.unkId }

    /// The chat template string from the configuration, if any.
    public var chatTemplate: String? { config.chatTemplate }

    /// Token text of `id`: added-token content or SentencePiece piece.
    public func idToPiece(_ id: Int) -> String? { addedDecoder[id]?.content ?? sentencePiece.idToPiece(id) }

    /// Id of a token string, nil when it is neither an added token nor a piece.
    public func pieceToId(_ piece: String) -> Int? { addedEncoder[piece] ?? sentencePiece.lookup(Array(piece.utf8)) }

    /// Whether `id` is an added token (any of `added_tokens_decoder`).
    public func isAddedToken(_ id: Int) -> Bool { addedDecoder[id] != nil }
}
