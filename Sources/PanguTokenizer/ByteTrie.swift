/// A byte-keyed trie whose edges live in one open-addressing hash table (compact for 150k-piece vocabularies).
///
/// Used for piece lookup (BPE merges, Unigram lattice), user-defined symbol matching and added-token splitting.
struct ByteTrie: Sendable {
    /// Value stored at each node, -1 when the node is not the end of a key.
    private(set) var values: [Int32] = [-1]
    /// One hash slot: edge key (0 = empty) and child node, kept together so a probe touches one cache line.
    private struct Slot {
        var key: UInt64
        var child: Int32
    }

    private var slots: [Slot]
    private var mask: Int
    private var edgeCount = 0
    /// Children of the root, indexed by byte (saves one hash probe per lookup).
    private var rootChildren = [Int32](repeating: -1, count: 256)
    /// Bitmap of the first bytes of all keys: lets `longestMatch` reject most positions without hashing.
    private var firstBytes: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    /// Root node index.
    static let root: Int32 = 0

    init(capacity: Int = 64) {
        var size = 64
        while size < capacity * 2 { size <<= 1 }
        slots = [Slot](repeating: Slot(key: 0, child: -1), count: size)
        mask = size - 1
    }

    @inline(__always) private static func key(_ node: Int32, _ byte: UInt8) -> UInt64 {
        (UInt64(UInt32(bitPattern: node)) << 8 | UInt64(byte)) &+ 1
    }

    @inline(__always) private func slot(_ k: UInt64) -> Int {
        Int(truncatingIfNeeded: (k &* 0x9E37_79B9_7F4A_7C15) >> 29) & mask
    }

    /// Child of `node` along `byte`, or -1.
    @inline(__always) func child(_ node: Int32, _ byte: UInt8) -> Int32 {
        if node == Self.root { return rootChildren.withUnsafeBufferPointer { $0[Int(byte)] } }
        let k = Self.key(node, byte)
        var i = slot(k)
        return slots.withUnsafeBufferPointer { sb in
            while true {
                let cur = sb[i]
                if cur.key == k { return cur.child }
                if cur.key == 0 { return -1 }
                i = (i + 1) & mask
            }
        }
    }

    /// Value at `node` (-1 if none).
    @inline(__always) func value(_ node: Int32) -> Int32 { values[Int(node)] }

    private mutating func grow() {
        let old = slots
        let size = slots.count * 2
        slots = [Slot](repeating: Slot(key: 0, child: -1), count: size)
        mask = size - 1
        for s in old where s.key != 0 {
            var j = slot(s.key)
            while slots[j].key != 0 { j = (j + 1) & mask }
            slots[j] = s
        }
    }

    /// Inserts `bytes` with `value`; an existing value is kept unless `overwrite`. Returns the previous value (-1 if none).
    @discardableResult
    mutating func insert<C: Collection>(_ bytes: C, value: Int32, overwrite: Bool = false) -> Int32 where C.Element == UInt8 {
        if let f = bytes.first {
            let bit = UInt64(1) << UInt64(f & 63)
            switch f >> 6 {
            case 0: firstBytes.0 |= bit
            case 1: firstBytes.1 |= bit
            case 2: firstBytes.2 |= bit
            default: firstBytes.3 |= bit
            }
        }
        var node = Self.root
        for b in bytes {
            let next = child(node, b)
            if next >= 0 { node = next; continue }
            if (edgeCount + 1) * 2 > slots.count { grow() }
            let k = Self.key(node, b)
            var i = slot(k)
            while slots[i].key != 0 { i = (i + 1) & mask }
            let newNode = Int32(values.count)
            slots[i] = Slot(key: k, child: newNode)
            if node == Self.root { rootChildren[Int(b)] = newNode }
            values.append(-1)
            edgeCount += 1
            node = newNode
        }
        let previous = values[Int(node)]
        if overwrite || previous < 0 { values[Int(node)] = value }
        return previous
    }

    /// Node reached by walking `bytes` from `start`, or -1.
    func walk<C: Collection>(_ bytes: C, from start: Int32 = ByteTrie.root) -> Int32 where C.Element == UInt8 {
        var node = start
        for b in bytes {
            node = child(node, b)
            if node < 0 { return -1 }
        }
        return node
    }

    /// Longest key that is a prefix of `buf[from..<end]`: (length in bytes, value), length 0 when none.
    /// Whether some key starts with byte `b`.
    @inline(__always) func mayStart(with b: UInt8) -> Bool {
        let word: UInt64
        switch b >> 6 {
        case 0: word = firstBytes.0
        case 1: word = firstBytes.1
        case 2: word = firstBytes.2
        default: word = firstBytes.3
        }
        return word & (UInt64(1) << UInt64(b & 63)) != 0
    }

    func longestMatch(_ buf: UnsafeBufferPointer<UInt8>, from: Int, end: Int) -> (length: Int, value: Int32) {
        if from >= end || !mayStart(with: buf[from]) { return (0, -1) }
        var node = Self.root
        var best = (0, Int32(-1))
        var i = from
        while i < end {
            node = child(node, buf[i])
            if node < 0 { break }
            i += 1
            let v = values[Int(node)]
            if v >= 0 { best = (i - from, v) }
        }
        return best
    }

    /// True when the trie holds no key.
    var isEmpty: Bool { edgeCount == 0 }
}
