/// SentencePiece's compiled normalisation rules: a Darts-clone double-array trie mapping UTF-8 prefixes to
/// offsets in a blob of NUL-terminated replacement strings.
///
/// Blob layout: little-endian `uint32` trie size in bytes, the trie units (little-endian `uint32` each),
/// then the replacement strings.
struct PrecompiledCharsMap: Sendable {
    private let units: [UInt32]
    private let normalized: [UInt8]
    /// Whether any rule starts with a given byte (lets the normaliser skip the trie for most ASCII).
    let firstByteHasRule: [Bool]

    init(_ blob: [UInt8]) throws {
        guard blob.count > 4 else { throw TokenizerError.invalidModel("precompiled_charsmap is too short (\(blob.count) bytes)") }
        let trieSize = Int(UInt32(blob[0]) | UInt32(blob[1]) << 8 | UInt32(blob[2]) << 16 | UInt32(blob[3]) << 24)
        guard trieSize % 4 == 0, trieSize >= 4, trieSize <= blob.count - 4 else {
            throw TokenizerError.invalidModel("precompiled_charsmap trie size \(trieSize) does not fit the \(blob.count)-byte blob")
        }
        var u = [UInt32](repeating: 0, count: trieSize / 4)
        for i in 0..<u.count {
            let o = 4 + 4 * i
            u[i] = UInt32(blob[o]) | UInt32(blob[o + 1]) << 8 | UInt32(blob[o + 2]) << 16 | UInt32(blob[o + 3]) << 24
        }
        units = u
        normalized = Array(blob[(4 + trieSize)...])
        let rootBase = Self.offset(u[0])
        firstByteHasRule = (0..<256).map { c in
            let pos = rootBase ^ c
            return pos < u.count && Self.label(u[pos]) == UInt32(c)
        }
    }

    @inline(__always) private static func offset(_ unit: UInt32) -> Int {
        Int((unit >> 10) << ((unit & (1 << 9)) >> 6))
    }
    @inline(__always) private static func label(_ unit: UInt32) -> UInt32 { unit & ((1 << 31) | 0xFF) }
    @inline(__always) private static func hasLeaf(_ unit: UInt32) -> Bool { (unit >> 8) & 1 == 1 }
    @inline(__always) private static func value(_ unit: UInt32) -> Int { Int(unit & ((1 << 31) - 1)) }

    /// Longest rule matching a prefix of `buf[from..<end]`: returns (matched length, replacement range) or nil.
    /// Like SentencePiece, only the first 32 matches along the path are considered.
    func longestMatch(_ buf: UnsafeBufferPointer<UInt8>, from: Int, end: Int) -> (length: Int, replacement: Range<Int>)? {
        match(buf, from: from, end: end).match
    }

    /// Like `longestMatch`, and also tells whether the trie path was still alive at `end` (so more input could
    /// yield a longer match).
    func match(_ buf: UnsafeBufferPointer<UInt8>, from: Int, end: Int)
        -> (match: (length: Int, replacement: Range<Int>)?, reachedEnd: Bool) {
        var reached = false
        let m = units.withUnsafeBufferPointer { u -> (Int, Range<Int>)? in
            var nodePos = 0
            var bestLen = 0
            var bestValue = -1
            var found = 0
            nodePos ^= Self.offset(u[0])
            var i = from
            while i < end {
                let c = buf[i]
                nodePos ^= Int(c)
                guard nodePos >= 0, nodePos < u.count else { break }
                let unit = u[nodePos]
                if Self.label(unit) != UInt32(c) { break }
                nodePos ^= Self.offset(unit)
                guard nodePos >= 0, nodePos < u.count else { break }
                if Self.hasLeaf(unit) {
                    if found < 32 {
                        bestLen = i - from + 1
                        bestValue = Self.value(u[nodePos])
                    }
                    found += 1
                }
                i += 1
            }
            reached = i == end
            guard bestLen > 0, bestValue >= 0, bestValue < normalized.count else { return nil }
            var e = bestValue
            while e < normalized.count && normalized[e] != 0 { e += 1 }
            return (bestLen, bestValue..<e)
        }
        return (m, reached)
    }

    /// Bytes of a replacement range returned by `longestMatch`.
    @inline(__always) func withReplacement<R>(_ r: Range<Int>, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        normalized.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[r])) }
    }
}
