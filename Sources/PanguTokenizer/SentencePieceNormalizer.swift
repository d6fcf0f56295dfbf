/// SentencePiece's `Normalizer`: charsmap rules, user-defined symbol pass-through, whitespace handling and the
/// U+2581 meta symbol, reproducing the library's output byte for byte.
struct SentencePieceNormalizer: Sendable {
    let spec: SentencePieceModel.NormalizerSpec
    let treatWhitespaceAsSuffix: Bool
    let charsMap: PrecompiledCharsMap?
    /// User-defined symbols, copied to the output verbatim (longest match first).
    private let userDefined: ByteTrie
    /// Bytes that start no charsmap rule and no user-defined symbol: they map to themselves (ASCII fast path).
    private let plainBytes: [Bool]

    static let space: [UInt8] = [0xE2, 0x96, 0x81]

    init(spec: SentencePieceModel.NormalizerSpec, treatWhitespaceAsSuffix: Bool, userDefined: ByteTrie) throws {
        self.spec = spec
        self.treatWhitespaceAsSuffix = treatWhitespaceAsSuffix
        self.userDefined = userDefined
        let map = spec.precompiledCharsmap.isEmpty ? nil : try PrecompiledCharsMap(spec.precompiledCharsmap)
        charsMap = map
        plainBytes = (0..<256).map { b in
            b < 0x80 && !(map?.firstByteHasRule[b] ?? false) && !userDefined.mayStart(with: UInt8(b))
        }
    }

    /// One normalisation step at `pos`: calls `emit` with the normalised bytes and returns the input bytes consumed.
    @inline(__always)
    private func prefix<R>(_ input: UnsafeBufferPointer<UInt8>, _ pos: Int,
                           _ emit: (UnsafeBufferPointer<UInt8>) -> R) -> (Int, R) {
        let end = input.count
        if !userDefined.isEmpty {
            let m = userDefined.longestMatch(input, from: pos, end: end)
            if m.length > 0 { return (m.length, emit(UnsafeBufferPointer(rebasing: input[pos..<(pos + m.length)]))) }
        }
        if let cm = charsMap, let m = cm.longestMatch(input, from: pos, end: end) {
            return (m.length, cm.withReplacement(m.replacement, emit))
        }
        let (ok, n) = UTF8Support.decode(input.baseAddress! + pos, end - pos)
        if !ok {
            return (1, UTF8Support.replacement.withUnsafeBufferPointer(emit))
        }
        return (n, emit(UnsafeBufferPointer(rebasing: input[pos..<(pos + n)])))
    }

    /// Normalises UTF-8 `input`.
    func normalize(_ input: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        guard input.count > 0 else { return out }
        out.reserveCapacity(input.count * 3 / 2 + 8)
        var pos = 0
        let removeExtra = spec.removeExtraWhitespaces
        let escape = spec.escapeWhitespaces
        if removeExtra {
            while pos < input.count {
                let (n, isSpace) = prefix(input, pos) { $0.count == 1 && $0[0] == 0x20 }
                if !isSpace { break }
                pos += n
            }
        }
        if pos >= input.count { return out }
        let addWS = { (out: inout [UInt8]) in
            if escape { out.append(contentsOf: Self.space) } else { out.append(0x20) }
        }
        if !treatWhitespaceAsSuffix && spec.addDummyPrefix { addWS(&out) }
        var isPrevSpace = removeExtra
        while pos < input.count {
            let c = input[pos]
            if plainBytes[Int(c)] {
                if c == 0x20 {
                    if !isPrevSpace {
                        if escape { out.append(contentsOf: Self.space) } else { out.append(0x20) }
                        isPrevSpace = removeExtra
                    }
                } else {
                    out.append(c)
                    isPrevSpace = false
                }
                pos += 1
                continue
            }
            let (n, _) = prefix(input, pos) { sp -> Void in
                var s = 0
                if isPrevSpace { while s < sp.count && sp[s] == 0x20 { s += 1 } }
                if s < sp.count {
                    for k in s..<sp.count {
                        let c = sp[k]
                        if escape && c == 0x20 { out.append(contentsOf: Self.space) } else { out.append(c) }
                    }
                    isPrevSpace = sp[sp.count - 1] == 0x20
                }
            }
            pos += n
            if !removeExtra { isPrevSpace = false }
        }
        if removeExtra {
            let sym: [UInt8] = escape ? Self.space : [0x20]
            while out.count >= sym.count && Array(out[(out.count - sym.count)...]) == sym {
                out.removeLast(sym.count)
            }
        }
        if treatWhitespaceAsSuffix && spec.addDummyPrefix { addWS(&out) }
        return out
    }
}
