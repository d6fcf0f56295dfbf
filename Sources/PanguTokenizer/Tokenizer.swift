/// The tokenizer interface the rest of the engine uses: text ⇄ token ids (Swift `Int`), plus vocabulary facts.
public protocol Tokenizer: Sendable {
    /// Encodes `text`; with `addSpecialTokens` the model's BOS/EOS conventions are applied.
    func encode(_ text: String, addSpecialTokens: Bool) -> [Int]
    /// Decodes `ids`; with `skipSpecialTokens` special tokens are dropped, otherwise written verbatim.
    func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String
    /// The token string for `id` (added-token content or SentencePiece piece), nil when out of range.
    func idToPiece(_ id: Int) -> String?
    /// The id of a token string (added token or piece), nil when unknown.
    func pieceToId(_ piece: String) -> Int?
    /// Number of ids the tokenizer can produce (SentencePiece pieces plus added tokens beyond them).
    var vocabularySize: Int { get }
    /// Beginning-of-sequence id, if the tokenizer has one.
    var bosTokenId: Int? { get }
    /// Ids that end generation (the configured EOS token).
    var eosTokenIds: [Int] { get }
    /// Ids of all special tokens (skipped by `decode(_:skipSpecialTokens: true)`).
    var specialTokenIds: Set<Int> { get }
}

extension Tokenizer {
    /// Encodes `text` with the model's BOS/EOS conventions applied.
    public func encode(_ text: String) -> [Int] { encode(text, addSpecialTokens: true) }

    /// Decodes `ids`, writing special tokens verbatim.
    public func decode(_ ids: [Int]) -> String { decode(ids, skipSpecialTokens: false) }

    /// Whether `id` ends generation.
    public func isEndOfSequence(_ id: Int) -> Bool { eosTokenIds.contains(id) }
}
