/// Applies a model's denormaliser (`denormalizer_spec`, run by the library on every `decode` result) to text
/// that arrives piece by piece, emitting only output that later text cannot change.
///
/// A denormaliser built by the trainer is a pure longest-match rewrite (no whitespace options), so text is
/// released up to the first position whose rule lookup is still open at the end of the buffer. For hand-made
/// specs with whitespace options the whole run is held and normalised at `flush`.
struct DenormalizerStream: Sendable {
    let normalizer: SentencePieceNormalizer
    private var pending: [UInt8] = []

    init(_ normalizer: SentencePieceNormalizer) { self.normalizer = normalizer }

    private var isPureRewrite: Bool {
        let s = normalizer.spec
        return !s.addDummyPrefix && !s.removeExtraWhitespaces && !s.escapeWhitespaces && !normalizer.treatWhitespaceAsSuffix
    }

    /// Adds decoded text (complete UTF-8 characters) and appends what became final.
    mutating func feed(_ bytes: [UInt8], into out: inout [UInt8]) {
        if bytes.isEmpty { return }
        pending.append(contentsOf: bytes)
        if isPureRewrite { process(final: false, into: &out) }
    }

    /// Ends the current `sp.decode` call: everything buffered is rewritten and appended.
    mutating func flush(into out: inout [UInt8]) {
        if pending.isEmpty { return }
        if isPureRewrite {
            process(final: true, into: &out)
        } else {
            out.append(contentsOf: pending.withUnsafeBufferPointer { normalizer.normalize($0) })
            pending.removeAll(keepingCapacity: true)
        }
    }

    private mutating func process(final: Bool, into out: inout [UInt8]) {
        guard let map = normalizer.charsMap else {
            out.append(contentsOf: pending)
            pending.removeAll(keepingCapacity: true)
            return
        }
        var i = 0
        pending.withUnsafeBufferPointer { p in
            while i < p.count {
                let (m, open) = map.match(p, from: i, end: p.count)
                if open && !final { break }
                if let m {
                    map.withReplacement(m.replacement) { out.append(contentsOf: $0) }
                    i += m.length
                } else {
                    let (ok, n) = UTF8Support.decode(p.baseAddress! + i, p.count - i)
                    if ok { out.append(contentsOf: p[i..<(i + n)]) } else { out.append(contentsOf: UTF8Support.replacement) }
                    i += n
                }
            }
        }
        pending.removeFirst(i)
    }
}
