/// For BPE: maps a pair of piece ids (left, right) to the id of the piece spelled by their concatenation.
///
/// Built once per model from every split of every mergeable piece at character boundaries where both halves are
/// pieces, so it holds exactly the merges whose two sides are vocabulary pieces; BPE falls back to a trie walk
/// for sides that are not pieces (out-of-vocabulary characters).
struct PiecePairTable: Sendable {
    private var keys: [UInt64]
    private var values: [Int32]
    private var mask: Int

    init(pieces: [[UInt8]], types: [UInt8], trie: ByteTrie) {
        let mergeable: Set<UInt8> = [UInt8(SentencePieceModel.PieceType.normal.rawValue),
                                     UInt8(SentencePieceModel.PieceType.unused.rawValue)]
        var entries: [(UInt64, Int32)] = []
        for (id, p) in pieces.enumerated() where mergeable.contains(types[id]) && p.count > 1 {
            var left = ByteTrie.root
            var k = 0
            while k < p.count - 1 {
                left = trie.child(left, p[k])
                if left < 0 { break }
                k += 1
                // Split only at character boundaries (the next byte is not a continuation byte).
                if p[k] & 0xC0 == 0x80 { continue }
                let l = trie.value(left)
                if l < 0 { continue }
                let rNode = trie.walk(p[k...])
                if rNode < 0 { continue }
                let r = trie.value(rNode)
                if r < 0 { continue }
                entries.append((Self.key(l, r), Int32(id)))
            }
        }
        var size = 16
        while size < entries.count * 2 { size <<= 1 }
        keys = [UInt64](repeating: 0, count: size)
        values = [Int32](repeating: -1, count: size)
        mask = size - 1
        for (k, v) in entries {
            var i = Self.slot(k, mask)
            while keys[i] != 0 && keys[i] != k { i = (i + 1) & mask }
            keys[i] = k
            values[i] = v
        }
    }

    @inline(__always) private static func key(_ l: Int32, _ r: Int32) -> UInt64 {
        (UInt64(UInt32(bitPattern: l)) + 1) << 32 | (UInt64(UInt32(bitPattern: r)) + 1)
    }

    @inline(__always) private static func slot(_ k: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (k &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    /// Id of the piece `left + right`, or -1.
    @inline(__always) func merged(_ l: Int32, _ r: Int32) -> Int32 {
        let k = Self.key(l, r)
        var i = Self.slot(k, mask)
        return keys.withUnsafeBufferPointer { kb in
            values.withUnsafeBufferPointer { vb in
                while true {
                    let c = kb[i]
                    if c == k { return vb[i] }
                    if c == 0 { return -1 }
                    i = (i + 1) & mask
                }
            }
        }
    }
}
