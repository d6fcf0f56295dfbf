import PanguTokenizer

/// What each token id writes: its bytes, or (for special tokens) its literal text. Built once per tokenizer
/// and shared by every grammar; holds the byte trie the masks are computed with.
public struct GrammarVocabulary: Sendable {
    /// Bytes of each ordinary token id (empty for special tokens and tokens that decode to nothing).
    public let tokenBytes: [[UInt8]]
    /// Special tokens by literal text (`"[unused11]"` → id). They never match bytes; a grammar allows one only
    /// where it asks for that marker (or as end of sequence).
    public let specialTokens: [String: Int]
    let trie: TokenTrie

    /// Number of token ids.
    public var count: Int { tokenBytes.count }

    /// A vocabulary from raw token bytes. Ids listed in `specialTokens` are excluded from byte matching.
    public init(tokenBytes: [[UInt8]], specialTokens: [String: Int]) {
        var bytes = tokenBytes
        let n = max(bytes.count, (specialTokens.values.max() ?? -1) + 1)
        if bytes.count < n { bytes.append(contentsOf: repeatElement([], count: n - bytes.count)) }
        self.tokenBytes = bytes
        self.specialTokens = specialTokens
        trie = TokenTrie(tokenBytes: bytes, excluded: Set(specialTokens.values))
    }

    /// The vocabulary of a SentencePiece tokenizer as the Hugging Face decoder writes it: byte-fallback pieces
    /// `<0xNN>` are the byte NN, `▁` is a space, added tokens and CONTROL/UNKNOWN/UNUSED pieces are special
    /// (by their literal text). The decoder drops a leading space at the very start of a decoded run; the
    /// grammars allow leading whitespace wherever that can happen, so the text stays valid either way.
    public init(tokenizer: HuggingFaceTokenizer) {
        let sp = tokenizer.sentencePiece
        var bytes = [[UInt8]](repeating: [], count: tokenizer.vocabularySize)
        var special: [String: Int] = [:]
        let space: [UInt8] = [0xE2, 0x96, 0x81]
        for id in 0..<tokenizer.vocabularySize {
            guard let piece = tokenizer.idToPiece(id) else { continue }
            if tokenizer.isAddedToken(id) || tokenizer.specialTokenIds.contains(id) {
                special[piece] = id
                continue
            }
            switch sp.pieceType(id) {
            case .normal?, .userDefined?:
                var out: [UInt8] = []
                let p = Array(piece.utf8)
                var i = 0
                while i < p.count {
                    if i + 3 <= p.count, p[i] == space[0], p[i + 1] == space[1], p[i + 2] == space[2] {
                        out.append(0x20)
                        i += 3
                    } else {
                        out.append(p[i])
                        i += 1
                    }
                }
                bytes[id] = out
            case .byte?:
                let p = Array(piece.utf8)   // "<0xNN>"
                if p.count == 6, let v = UInt8(String(decoding: p[3..<5], as: UTF8.self), radix: 16) { bytes[id] = [v] }
            default:
                special[piece] = id
            }
        }
        self.init(tokenBytes: bytes, specialTokens: special)
    }
}
