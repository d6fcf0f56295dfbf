// Byte trie over the vocabulary: computing a mask walks it once against the automaton, so tokens sharing a
// prefix share the automaton steps and a dead prefix prunes its whole subtree.

/// Trie of ordinary token byte strings (special tokens and empty tokens are not in it).
final class TokenTrie: Sendable {
    /// Node 0 is the root. Children of a node form a list: `firstChild`, then `nextSibling`.
    let firstChild: [Int32]
    let nextSibling: [Int32]
    let byte: [UInt8]
    /// Tokens whose bytes end at a node: `firstToken[node]`, then `nextToken[token]` (-1 ends).
    let firstToken: [Int32]
    let nextToken: [Int32]
    /// Whether a token id is in the trie (ordinary and non-empty).
    private let member: [Bool]

    func isMember(_ id: Int) -> Bool { id >= 0 && id < member.count && member[id] }

    init(tokenBytes: [[UInt8]], excluded: Set<Int>) {
        let order = tokenBytes.indices.filter { !tokenBytes[$0].isEmpty && !excluded.contains($0) }
            .sorted { tokenBytes[$0].lexicographicallyPrecedes(tokenBytes[$1]) }
        var first: [Int32] = [-1], next: [Int32] = [-1], bytes: [UInt8] = [0], lastChild: [Int32] = [-1]
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
                let parent = Int(path[path.count - 1])
                let n = Int32(first.count)
                first.append(-1); next.append(-1); bytes.append(b[i]); lastChild.append(-1)
                firstTok.append(-1); lastTok.append(-1)
                if lastChild[parent] < 0 { first[parent] = n } else { next[Int(lastChild[parent])] = n }
                lastChild[parent] = n
                path.append(n)
            }
            let node = Int(path[path.count - 1])
            if lastTok[node] < 0 { firstTok[node] = Int32(id) } else { nextTok[Int(lastTok[node])] = Int32(id) }
            lastTok[node] = Int32(id)
            prev = b
        }
        firstChild = first
        nextSibling = next
        byte = bytes
        firstToken = firstTok
        nextToken = nextTok
    }

    var nodeCount: Int { byte.count }
}
