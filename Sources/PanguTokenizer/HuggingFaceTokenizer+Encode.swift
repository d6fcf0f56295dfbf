/// Encoding with added-token splitting (transformers `PreTrainedTokenizer.tokenize` semantics).
extension HuggingFaceTokenizer {
    /// Encodes `text`. Added tokens written literally in the text (e.g. `[unused9]`) become their ids; with
    /// `addSpecialTokens` BOS is prepended (`add_bos_token`) and EOS appended (`add_eos_token`).
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] {
        var ids: [Int] = []
        if addSpecialTokens && config.addBosToken, let b = bosTokenId { ids.append(b) }
        for part in split(text) {
            if part.isAdded {
                ids.append(tokenToId(part.text))
            } else {
                appendSentencePiece(part.text, into: &ids)
            }
        }
        if addSpecialTokens && config.addEosToken, let e = eosTokenIds.first { ids.append(e) }
        return ids
    }

    /// `_tokenize` (= `sp.encode(text, out_type=str)`) followed by `convert_tokens_to_ids`.
    private func appendSentencePiece(_ text: String, into ids: inout [Int]) {
        let sp = sentencePiece
        var t = text
        t.withUTF8 { input in
            let norm = sp.normalizer.normalize(input)
            norm.withUnsafeBufferPointer { s in
                let unknown = UInt8(SentencePieceModel.PieceType.unknown.rawValue)
                for seg in sp.segment(s) {
                    let id = Int(seg.id)
                    if sp.types[id] == unknown {
                        let bytes = s[Int(seg.start)..<Int(seg.start + seg.length)]
                        if sp.model.trainerSpec.byteFallback {
                            for b in bytes { ids.append(pieceRemap[Int(sp.byteIds[Int(b)])] ?? Int(sp.byteIds[Int(b)])) }
                        } else {
                            // The piece string is the surface text itself.
                            ids.append(tokenToId(String(decoding: bytes, as: UTF8.self)))
                        }
                    } else {
                        ids.append(pieceRemap.isEmpty ? id : (pieceRemap[id] ?? id))
                    }
                }
            }
        }
    }

    /// One piece of the split input.
    struct Part {
        var text: String
        var isAdded: Bool
    }

    /// Splits on added tokens (leftmost, then longest match) and applies `lstrip`/`rstrip`/`single_word`.
    func split(_ text: String) -> [Part] {
        if addedTrie.isEmpty { return [Part(text: text, isAdded: false)] }
        var parts: [Part] = []
        var t = text
        t.withUTF8 { b in
            var segStart = 0
            var i = 0
            while i < b.count {
                let m = addedTrie.longestMatch(b, from: i, end: b.count)
                if m.length > 0 {
                    if i > segStart { parts.append(Part(text: String(decoding: b[segStart..<i], as: UTF8.self), isAdded: false)) }
                    parts.append(Part(text: splitTokens[Int(m.value)], isAdded: true))
                    i += m.length
                    segStart = i
                } else {
                    i += 1
                }
            }
            if segStart < b.count { parts.append(Part(text: String(decoding: b[segStart..<b.count], as: UTF8.self), isAdded: false)) }
        }
        for i in parts.indices where parts[i].isAdded {
            guard let tok = addedEncoder[parts[i].text].flatMap({ addedDecoder[$0] }) else { continue }
            if tok.rstrip && i + 1 < parts.count && !parts[i + 1].text.isEmpty {
                parts[i + 1].text = Self.pythonStrip(parts[i + 1].text, leading: true)
            }
            if tok.lstrip && i > 0 && !parts[i - 1].text.isEmpty {
                parts[i - 1].text = Self.pythonStrip(parts[i - 1].text, leading: false)
            }
            if tok.singleWord {
                if i > 0, let last = parts[i - 1].text.unicodeScalars.last, last != " " {
                    parts[i - 1].text += parts[i].text
                    parts[i].text = ""
                } else if i + 1 < parts.count, let first = parts[i + 1].text.unicodeScalars.first, first != " " {
                    parts[i + 1].text = parts[i].text + parts[i + 1].text
                    parts[i].text = ""
                }
            }
        }
        return parts.filter { !$0.text.isEmpty }.map { p in
            // A segment equal to an added/special token is passed through as that token, as in transformers.
            Part(text: p.text, isAdded: p.isAdded || addedEncoder[p.text] != nil || specialStrings.contains(p.text))
        }
    }

    /// Python `str.lstrip()` / `str.rstrip()` with no argument (Unicode whitespace).
    static func pythonStrip(_ s: String, leading: Bool) -> String {
        func isSpace(_ c: Unicode.Scalar) -> Bool {
            c.properties.isWhitespace || (0x1C...0x1F).contains(c.value)
        }
        var scalars = Array(s.unicodeScalars)
        if leading {
            let n = scalars.prefix(while: isSpace).count
            scalars.removeFirst(n)
        } else {
            while let l = scalars.last, isSpace(l) { scalars.removeLast() }
        }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: scalars)
        return String(out)
    }
}
