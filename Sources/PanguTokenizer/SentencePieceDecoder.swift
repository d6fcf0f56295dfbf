/// Incremental form of SentencePiece's `Decode`: byte pieces are buffered and turned into UTF-8 (U+FFFD per
/// invalid byte), other pieces become their text with U+2581 → space, control pieces vanish, `<unk>` becomes
/// the unknown surface, and the first non-control piece loses its leading U+2581 when the normaliser adds a
/// dummy prefix or removes extra whitespace. Batch decoding and streaming share this one implementation.
struct SentencePieceDecoder {
    let sp: SentencePieceProcessor
    /// Byte-piece values not yet turned into text.
    private(set) var pending: [UInt8] = []
    /// Whether a non-control piece was seen.
    private(set) var seenPiece = false
    /// Whether any text was produced.
    private(set) var producedText = false

    init(_ sp: SentencePieceProcessor) { self.sp = sp }

    /// Whether the next piece loses a leading U+2581. Observed library behaviour: with remove_extra_whitespaces
    /// every piece is stripped while the output is still empty; otherwise, with add_dummy_prefix, only the first
    /// non-control piece is.
    private var stripsLeadingSpace: Bool {
        let spec = sp.model.normalizerSpec
        if spec.removeExtraWhitespaces { return !producedText }
        return spec.addDummyPrefix && !seenPiece
    }

    /// Decodes `pending` into `out`; when `final` is false, keeps an incomplete trailing character buffered.
    private mutating func drain(final: Bool, into out: inout [UInt8]) {
        if pending.isEmpty { return }
        var i = 0
        let c = pending.count
        pending.withUnsafeBufferPointer { p in
            let base = p.baseAddress!
            while i < c {
                let need = UTF8Support.neededLength(p[i])
                if !final && need > c - i {
                    var couldComplete = true
                    for k in (i + 1)..<c where p[k] & 0xC0 != 0x80 { couldComplete = false }
                    if couldComplete { break }
                }
                let (ok, n) = UTF8Support.decode(base + i, c - i)
                if ok { out.append(contentsOf: p[i..<(i + n)]) } else { out.append(contentsOf: UTF8Support.replacement) }
                producedText = true
                i += n
            }
        }
        pending.removeFirst(i)
    }

    /// Feeds one id; appends any text that is now final to `out`. Out-of-range ids are ignored.
    mutating func feed(_ id: Int, into out: inout [UInt8]) {
        guard id >= 0 && id < sp.vocabularySize else { return }
        let b = sp.byteValues[id]
        if b >= 0 {
            seenPiece = true
            pending.append(UInt8(b))
            drain(final: false, into: &out)
            return
        }
        drain(final: true, into: &out)
        switch sp.pieceType(id)! {
        case .control: return
        case .unknown:
            seenPiece = true
            let u = sp.model.trainerSpec.unkSurface.utf8
            if !u.isEmpty { producedText = true }
            out.append(contentsOf: u)
        default:
            appendPiece(sp.pieceBytes[id], into: &out)
            seenPiece = true
        }
    }

    /// Feeds a piece string that is not in the vocabulary: the library returns it verbatim.
    mutating func feedLiteral(_ bytes: [UInt8], into out: inout [UInt8]) {
        drain(final: true, into: &out)
        seenPiece = true
        if !bytes.isEmpty { producedText = true }
        out.append(contentsOf: bytes)
    }

    private mutating func appendPiece(_ piece: [UInt8], into out: inout [UInt8]) {
        var i = 0
        let n = piece.count
        if stripsLeadingSpace && n >= 3 && piece[0] == 0xE2 && piece[1] == 0x96 && piece[2] == 0x81 {
            i = 3
        }
        let before = out.count
        while i < n {
            if i + 2 < n && piece[i] == 0xE2 && piece[i + 1] == 0x96 && piece[i + 2] == 0x81 {
                out.append(0x20)
                i += 3
            } else {
                out.append(piece[i])
                i += 1
            }
        }
        if out.count > before { producedText = true }
    }

    /// Ends the sequence: flushes buffered bytes (incomplete characters become U+FFFD per byte).
    mutating func finish(into out: inout [UInt8]) {
        drain(final: true, into: &out)
    }
}

extension SentencePieceProcessor {
    /// Decodes ids to text like the library's `decode(ids)`. Out-of-range ids are skipped (the library throws).
    public func decode(_ ids: [Int]) -> String {
        var out: [UInt8] = []
        var d = SentencePieceDecoder(self)
        for id in ids { d.feed(id, into: &out) }
        d.finish(into: &out)
        return denormalized(out)
    }

    /// Applies the denormaliser (if the model has one) to decoded UTF-8.
    func denormalized(_ out: [UInt8]) -> String {
        guard let dn = denormalizer else { return String(decoding: out, as: UTF8.self) }
        let r = out.withUnsafeBufferPointer { dn.normalize($0) }
        return String(decoding: r, as: UTF8.self)
    }
}
