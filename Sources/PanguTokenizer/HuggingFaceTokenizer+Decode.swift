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
        /// The current `sp.decode` run (runs are separated by verbatim special tokens).
        var run: SentencePieceDecoder
        /// The model's denormaliser, applied to each run like `sp.decode` does.
        var denormalizer: DenormalizerStream?
        private var scratch: [UInt8] = []

        init(_ tokenizer: HuggingFaceTokenizer, skipSpecialTokens: Bool) {
            self.tokenizer = tokenizer
            self.skipSpecialTokens = skipSpecialTokens
            run = SentencePieceDecoder(tokenizer.sentencePiece)
            denormalizer = tokenizer.sentencePiece.denormalizer.map(DenormalizerStream.init)
        }

        /// Runs `body` on the run decoder, routing its output through the denormaliser when there is one.
        private mutating func withRun(into out: inout [UInt8], endOfRun: Bool = false,
                                      _ body: (inout SentencePieceDecoder, inout [UInt8]) -> Void) {
            guard denormalizer != nil else {
                body(&run, &out)
                return
            }
            scratch.removeAll(keepingCapacity: true)
            body(&run, &scratch)
            denormalizer!.feed(scratch, into: &out)
            if endOfRun { denormalizer!.flush(into: &out) }
        }

        private mutating func verbatim(_ content: String, into out: inout [UInt8]) {
            withRun(into: &out, endOfRun: true) { r, o in r.finish(into: &o) }
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
                    withRun(into: &out) { r, o in r.feed(pid, into: &o) }
                } else {
                    let literal = Array(added.content.utf8)
                    withRun(into: &out) { r, o in r.feedLiteral(literal, into: &o) }
                }
                return
            }
            guard id >= 0 && id < tok.sentencePiece.vocabularySize else { return }
            if tok.specialPieceIds.contains(id) {
                verbatim(tok.sentencePiece.model.pieces[id].piece, into: &out)
            } else {
                withRun(into: &out) { r, o in r.feed(id, into: &o) }
            }
        }

        /// Flushes buffered byte pieces (and the denormaliser).
        mutating func finish(into out: inout [UInt8]) {
            withRun(into: &out, endOfRun: true) { r, o in r.finish(into: &o) }
        }
    }
}
