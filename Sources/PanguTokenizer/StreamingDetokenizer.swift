/// Turns a stream of generated ids into text deltas.
///
/// Every delta is valid UTF-8 text; the concatenation of all deltas (including ``finish()``) equals
/// `decode(allIds, skipSpecialTokens:)`. Byte-fallback pieces that split a character across tokens are held back
/// until the character is complete (or provably invalid, then U+FFFD like the library), and the
/// leading-space rule of the first piece is applied once, as in a full decode.
/// A model denormaliser is applied incrementally (text is held while a longer rule could still match).
/// (The optional `clean_up_tokenization_spaces` post-pass is not applied to deltas.)
public struct StreamingDetokenizer: Sendable {
    private var state: HuggingFaceTokenizer.DecodeState
    private var buffer: [UInt8] = []
    /// Number of ids fed so far.
    public private(set) var tokenCount = 0

    /// Streams with Hugging Face decode semantics (special tokens verbatim unless `skipSpecialTokens`).
    public init(tokenizer: HuggingFaceTokenizer, skipSpecialTokens: Bool = false) {
        state = HuggingFaceTokenizer.DecodeState(tokenizer, skipSpecialTokens: skipSpecialTokens)
    }

    /// Streams plain SentencePiece decoding (`SentencePieceProcessor.decode`).
    public init(sentencePiece: SentencePieceProcessor) {
        // An empty configuration has no special tokens, so every id goes through SentencePiece.
        let tok = try! HuggingFaceTokenizer(sentencePiece: sentencePiece, config: TokenizerConfig())
        state = HuggingFaceTokenizer.DecodeState(tok, skipSpecialTokens: false)
    }

    /// Feeds one id and returns the new text (possibly empty while a character is incomplete).
    public mutating func append(_ id: Int) -> String {
        tokenCount += 1
        buffer.removeAll(keepingCapacity: true)
        state.feed(id, into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    /// Feeds several ids and returns the new text.
    public mutating func append(contentsOf ids: [Int]) -> String {
        var s = ""
        for id in ids { s += append(id) }
        return s
    }

    /// Ends the stream: returns what was held back (incomplete bytes become U+FFFD, one per byte).
    public mutating func finish() -> String {
        buffer.removeAll(keepingCapacity: true)
        state.finish(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}
