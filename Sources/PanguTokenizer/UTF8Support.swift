/// UTF-8 helpers with exactly SentencePiece's rules (`OneCharLen`, `DecodeUTF8`, `IsValidDecodeUTF8`).
enum UTF8Support {
    /// Length of the character starting with lead byte `b` by the high nibble (0x80-0xBF count as 1), like `OneCharLen`.
    @inline(__always) static func oneCharLength(_ b: UInt8) -> Int {
        switch b >> 4 {
        case 0...11: return 1
        case 12, 13: return 2
        case 14: return 3
        default: return 4
        }
    }

    @inline(__always) private static func isTrail(_ b: UInt8) -> Bool { b & 0xC0 == 0x80 }

    @inline(__always) private static func isValidCodepoint(_ c: UInt32) -> Bool {
        c < 0xD800 || (c >= 0xE000 && c <= 0x10FFFF)
    }

    /// Decodes one character at `p[0..<count]`. Returns (valid, bytes consumed); invalid input consumes 1 byte.
    /// A well-formed U+FFFD counts as valid, as in `IsValidDecodeUTF8`.
    @inline(__always) static func decode(_ p: UnsafePointer<UInt8>, _ count: Int) -> (valid: Bool, length: Int) {
        let b0 = p[0]
        if b0 < 0x80 { return (true, 1) }
        if count >= 2 && b0 & 0xE0 == 0xC0 {
            let cp = UInt32(b0 & 0x1F) << 6 | UInt32(p[1] & 0x3F)
            if isTrail(p[1]) && cp >= 0x80 && isValidCodepoint(cp) { return (true, 2) }
        } else if count >= 3 && b0 & 0xF0 == 0xE0 {
            let cp = UInt32(b0 & 0x0F) << 12 | UInt32(p[1] & 0x3F) << 6 | UInt32(p[2] & 0x3F)
            if isTrail(p[1]) && isTrail(p[2]) && cp >= 0x800 && isValidCodepoint(cp) { return (true, 3) }
        } else if count >= 4 && b0 & 0xF8 == 0xF0 {
            let cp = UInt32(b0 & 0x07) << 18 | UInt32(p[1] & 0x3F) << 12 | UInt32(p[2] & 0x3F) << 6 | UInt32(p[3] & 0x3F)
            if isTrail(p[1]) && isTrail(p[2]) && isTrail(p[3]) && cp >= 0x10000 && isValidCodepoint(cp) {
                return (true, 4)
            }
        }
        return (false, 1)
    }

    /// Number of bytes a character with lead byte `b` needs under `decode`'s rules (1 for invalid leads).
    @inline(__always) static func neededLength(_ b: UInt8) -> Int {
        if b < 0x80 { return 1 }
        if b & 0xE0 == 0xC0 { return 2 }
        if b & 0xF0 == 0xE0 { return 3 }
        if b & 0xF8 == 0xF0 { return 4 }
        return 1
    }

    /// UTF-8 of U+FFFD.
    static let replacement: [UInt8] = [0xEF, 0xBF, 0xBD]

    /// Replaces invalid sequences of a byte string by U+FFFD, one per invalid byte (SentencePiece's byte-piece rule).
    static func repair(_ bytes: [UInt8], into out: inout [UInt8]) {
        bytes.withUnsafeBufferPointer { b in
            guard let base = b.baseAddress else { return }
            var i = 0
            while i < b.count {
                let (ok, n) = decode(base + i, b.count - i)
                if ok { out.append(contentsOf: b[i..<(i + n)]) } else { out.append(contentsOf: replacement) }
                i += n
            }
        }
    }
}
