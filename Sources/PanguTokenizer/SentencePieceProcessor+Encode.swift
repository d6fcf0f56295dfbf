/// Encoding entry points: normalise, segment with the model's algorithm, then apply byte fallback to unknowns.
extension SentencePieceProcessor {
    /// One segment of the normalised string with the id the model assigned to it (before byte fallback).
    struct Segment {
        var start: Int32
        var length: Int32
        var id: Int32
    }

    /// Encodes `text` to ids like `SentencePieceProcessor.encode(text)` (no BOS/EOS).
    public func encode(_ text: String) -> [Int] {
        var t = text
        return t.withUTF8 { encode(utf8: $0) }
    }

    /// Encodes UTF-8 bytes to ids. Malformed UTF-8 is handled like the library (each bad byte becomes U+FFFD).
    public func encode(utf8 input: UnsafeBufferPointer<UInt8>) -> [Int] {
        var out: [Int] = []
        encode(utf8: input, into: &out)
        return out
    }

    /// Appends the ids of `input` to `out`.
    public func encode(utf8 input: UnsafeBufferPointer<UInt8>, into out: inout [Int]) {
        let norm = normalizer.normalize(input)
        norm.withUnsafeBufferPointer { s in
            let segments = segment(s)
            let byteFallback = model.trainerSpec.byteFallback
            let unknown = UInt8(SentencePieceModel.PieceType.unknown.rawValue)
            out.reserveCapacity(out.count + segments.count)
            for seg in segments {
                if byteFallback && types[Int(seg.id)] == unknown {
                    for k in Int(seg.start)..<Int(seg.start + seg.length) { out.append(Int(byteIds[Int(s[k])])) }
                } else {
                    out.append(Int(seg.id))
                }
            }
        }
    }

    /// Encodes `text` to piece strings like `encode(text, out_type=str)`: byte pieces for byte fallback,
    /// and the surface text for unknowns without byte fallback.
    public func encodeAsPieces(_ text: String) -> [String] {
        var t = text
        return t.withUTF8 { input -> [String] in
            let norm = normalizer.normalize(input)
            return norm.withUnsafeBufferPointer { s -> [String] in
                var out: [String] = []
                for seg in segment(s) {
                    let bytes = s[Int(seg.start)..<Int(seg.start + seg.length)]
                    if types[Int(seg.id)] == UInt8(SentencePieceModel.PieceType.unknown.rawValue) {
                        if model.trainerSpec.byteFallback {
                            for b in bytes { out.append(model.pieces[Int(byteIds[Int(b)])].piece) }
                        } else {
                            out.append(String(decoding: bytes, as: UTF8.self))
                        }
                    } else {
                        out.append(model.pieces[Int(seg.id)].piece)
                    }
                }
                return out
            }
        }
    }

    /// Segments a normalised string with the model's algorithm; adjacent unknown segments are merged into one,
    /// as the library does.
    func segment(_ s: UnsafeBufferPointer<UInt8>) -> [Segment] {
        if s.isEmpty { return [] }
        var segs: [Segment]
        switch model.trainerSpec.modelType {
        case .bpe: segs = segmentBPE(s)
        case .unigram: segs = segmentUnigram(s)
        case .word: segs = segmentWords(s)
        case .char: segs = segmentChars(s)
        }
        let unk = Int32(unkId)
        var w = 0
        for r in 0..<segs.count {
            if w > 0 && segs[r].id == unk && segs[w - 1].id == unk {
                segs[w - 1].length += segs[r].length
            } else {
                segs[w] = segs[r]
                w += 1
            }
        }
        segs.removeLast(segs.count - w)
        return segs
    }

    /// Id of an arbitrary byte range: vocabulary piece, reserved piece, or unknown.
    @inline(__always) func idOfRange(_ s: UnsafeBufferPointer<UInt8>, _ start: Int, _ length: Int) -> Int32 {
        let r = UnsafeBufferPointer(rebasing: s[start..<(start + length)])
        return Int32(lookup(r) ?? unkId)
    }

    /// WORD model: one piece per whitespace-prefixed (or suffixed) word.
    func segmentWords(_ s: UnsafeBufferPointer<UInt8>) -> [Segment] {
        var words: [(Int, Int)] = []
        let suffix = model.trainerSpec.treatWhitespaceAsSuffix
        let wsOnly = model.trainerSpec.allowWhitespaceOnlyPieces
        var pos = 0
        var inWS = false
        func isWS(_ p: Int, _ n: Int) -> Bool { n == 3 && s[p] == 0xE2 && s[p + 1] == 0x96 && s[p + 2] == 0x81 }
        if suffix {
            words.append((0, 0))
            while pos < s.count {
                let n = min(UTF8Support.oneCharLength(s[pos]), s.count - pos)
                let ws = isWS(pos, n)
                if ws { inWS = true } else if inWS {
                    if wsOnly { words.append((pos, 0)) }
                    inWS = false
                }
                words[words.count - 1].1 += n
                pos += n
                if pos < s.count && ws && !wsOnly { words.append((pos, 0)) }
            }
        } else {
            while pos < s.count {
                let n = min(UTF8Support.oneCharLength(s[pos]), s.count - pos)
                let ws = isWS(pos, n)
                if pos == 0 || (ws && (!inWS || !wsOnly)) {
                    words.append((pos, 0))
                    inWS = true
                }
                if inWS && !ws { inWS = false }
                words[words.count - 1].1 += n
                pos += n
            }
        }
        return words.map { Segment(start: Int32($0.0), length: Int32($0.1), id: idOfRange(s, $0.0, $0.1)) }
    }

    /// CHAR model: one piece per character (user-defined symbols matched first).
    func segmentChars(_ s: UnsafeBufferPointer<UInt8>) -> [Segment] {
        var out: [Segment] = []
        var pos = 0
        while pos < s.count {
            var n = userTrie.isEmpty ? 0 : userTrie.longestMatch(s, from: pos, end: s.count).length
            if n == 0 { n = min(UTF8Support.oneCharLength(s[pos]), s.count - pos) }
            out.append(Segment(start: Int32(pos), length: Int32(n), id: idOfRange(s, pos, n)))
            pos += n
        }
        return out
    }
}
