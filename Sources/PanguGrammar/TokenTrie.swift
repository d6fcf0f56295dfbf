// Byte trie over the vocabulary: computing a mask walks it once against the automaton, so tokens sharing a
// prefix share the automaton steps and a dead prefix prunes its whole subtree.

/// Trie of ordinary token byte strings (special tokens and empty tokens are not in it).
///
/// Nodes are numbered in depth-first preorder (node 0 is the root), so a walk is a linear scan: node i's
/// subtree is `i..<subtreeEnd[i]`, and a dead node skips straight to `subtreeEnd[i]`.
final class TokenTrie: Sendable {
    /// Edge byte into each node.
    let byte: [UInt8]
    /// Length of the byte string a node spells (root 0).
    let depth: [Int32]
    /// One past the last node of each node's subtree.
    let subtreeEnd: [Int32]
    /// Tokens whose bytes end at a node: `firstToken[node]`, then `nextToken[token]` (-1 ends).
    let firstToken: [Int32]
    let nextToken: [Int32]
    /// Whether a token id is in the trie (ordinary and non-empty).
    private let member: [Bool]

    func isMember(_ id: Int) -> Bool { id >= 0 && id < member.count && member[id] }

    init(tokenBytes: [[UInt8]], excluded: Set<Int>) {
        // Sort by the first 8 bytes packed big-endian (zero-padded), full comparison only on ties.
        let prefixKey = tokenBytes.map { b -> UInt64 in
            var k: UInt64 = 0
            for i in 0..<8 { k = k << 8 | UInt64(i < b.count ? b[i] : 0) }
            return k
        }
        let order = tokenBytes.indices.filter { !tokenBytes[$0].isEmpty && !excluded.contains($0) }
            .sorted { a, b in
                prefixKey[a] != prefixKey[b] ? prefixKey[a] < prefixKey[b]
                    : tokenBytes[a].lexicographicallyPrecedes(tokenBytes[b])
            }
        var bytes: [UInt8] = [0], depth: [Int32] = [0], parent: [Int32] = [-1]
        var firstTok: [Int32] = [-1]
        var nextTok = [Int32](repeating: -1, count: tokenBytes.count)
        var lastTok: [Int32] = [-1]
        var member = [Bool](repeating: false, count: tokenBytes.count)
        for id in order { member[id] = true }
        self.member = member
        var path: [Int32] = [0]
        var prev: [UInt8] = []
        for id in order {
            let b = tokenBytes[id]
            var lcp = 0
            while lcp < min(prev.count, b.count), prev[lcp] == b[lcp] { lcp += 1 }
            path.removeLast(path.count - 1 - lcp)
            for i in lcp..<b.count {
                // Sorted insertion creates nodes in preorder.
                let n = Int32(bytes.count)
                bytes.append(b[i]); depth.append(Int32(i + 1)); parent.append(path[path.count - 1])
                firstTok.append(-1); lastTok.append(-1)
                path.append(n)
            }
            let node = Int(path[path.count - 1])
            if lastTok[node] < 0 { firstTok[node] = Int32(id) } else { nextTok[Int(lastTok[node])] = Int32(id) }
            lastTok[node] = Int32(id)
            prev = b
        }
        var end = (0..<bytes.count).map { Int32($0 + 1) }
        for i in stride(from: bytes.count - 1, to: 0, by: -1) {
            let p = Int(parent[i])
            end[p] = max(end[p], end[i])
        }
        byte = bytes
        self.depth = depth
        subtreeEnd = end
        firstToken = firstTok
        nextToken = nextTok
    }

    var nodeCount: Int { byte.count }
}
