/// Decoding with transformers semantics: `convert_ids_to_tokens` (optionally dropping special ids), then runs of
/// ordinary tokens through `sp.decode` and special tokens verbatim, no spaces added.
extension HuggingFaceTokenizer {
    /// Decodes `ids`. Special tokens (named + additional) are written verbatim or, with `skipSpecialTokens`,
    /// dropped. Out-of-range ids are ignored.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
        var state = DecodeState(self, skipSpecialTokens: skipSpecialTokens)
        var out: [UInt8] = []
        out.reserveCapacity(ids.count * 4)
        for id in ids { state.feed(id, into: &out) }
        state.finish(into: &out)
        let text = String(decoding: out, as: UTF8.self)
        return config.cleanUpTokenizationSpaces ? Self.cleanUpTokenization(text) : text
    }

    /// transformers' `clean_up_tokenization`.
    static func cleanUpTokenization(_ s: String) -> String {
        var t = s
        for (a, b) in [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                       (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")] {
            t = t.replacingOccurrences(of: a, with: b)
        }
        return t
    }

    /// Incremental decoder shared by `decode` and ``StreamingDetokenizer``.
    struct DecodeState: Sendable {
        let tokenizer: HuggingFaceTokenizer
        let skipSpecialTokens: Bool
        var run: SentencePieceDecoder

        init(_ tokenizer: HuggingFaceTokenizer, skipSpecialTokens: Bool) {
            self.tokenizer = tokenizer
            self.skipSpecialTokens = skipSpecialTokens
            run = SentencePieceDecoder(tokenizer.sentencePiece)
        }

        private mutating func verbatim(_ content: String, into out: inout [UInt8]) {
            run.finish(into: &out)
            out.append(contentsOf: content.utf8)
            run = SentencePieceDecoder(tokenizer.sentencePiece)
        }

        /// Feeds one id and appends the text that became final.
        mutating func feed(_ id: Int, into out: inout [UInt8]) {
            let tok = tokenizer
            if skipSpecialTokens && tok.specialTokenIds.contains(id) { return }
            if let added = tok.addedDecoder[id] {
                if tok.specialStrings.contains(added.content) {
                    verbatim(added.content, into: &out)
                } else if let pid = tok.sentencePiece.lookup(Array(added.content.utf8)) {
                    run.feed(pid, into: &out)
                } else {
                    run.feedLiteral(Array(added.content.utf8), into: &out)
                }
                return
            }
            guard id >= 0 && id < tok.sentencePiece.vocabularySize else { return }
            if tok.specialPieceIds.contains(id) {
                verbatim(tok.sentencePiece.model.pieces[id].piece, into: &out)
            } else {
                run.feed(id, into: &out)
            }
        }

        /// Flushes buffered byte pieces.
        mutating func finish(into out: inout [UInt8]) { run.finish(into: &out) }
    }
}
