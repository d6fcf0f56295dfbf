/// SentencePiece BPE: start from characters (user-defined symbols frozen), repeatedly merge the adjacent pair whose
/// concatenation is the highest-scoring vocabulary piece (ties: leftmost), re-split UNUSED pieces at the end.
extension SentencePieceProcessor {
    private struct Candidate {
        var score: Float
        var left: Int32
        var right: Int32
        var size: Int32
        var node: Int32

        /// Heap order: higher score first, then smaller left index (the library's comparator).
        @inline(__always) func precedes(_ o: Candidate) -> Bool {
            score > o.score || (score == o.score && left < o.left)
        }
    }

    private struct CandidateHeap {
        var items: [Candidate] = []

        mutating func push(_ c: Candidate) {
            items.append(c)
            var i = items.count - 1
            while i > 0 {
                let p = (i - 1) >> 1
                if !items[i].precedes(items[p]) { break }
                items.swapAt(i, p)
                i = p
            }
        }

        mutating func pop() -> Candidate? {
            guard let top = items.first else { return nil }
            let last = items.removeLast()
            if items.isEmpty { return top }
            items[0] = last
            var i = 0
            let n = items.count
            while true {
                let l = 2 * i + 1
                if l >= n { break }
                var c = l
                if l + 1 < n && items[l + 1].precedes(items[l]) { c = l + 1 }
                if !items[c].precedes(items[i]) { break }
                items.swapAt(i, c)
                i = c
            }
            return top
        }
    }

    func segmentBPE(_ s: UnsafeBufferPointer<UInt8>) -> [Segment] {
        let n = s.count
        var start: [Int32] = [], len: [Int32] = [], node: [Int32] = [], frozen: [Bool] = []
        start.reserveCapacity(n); len.reserveCapacity(n); node.reserveCapacity(n); frozen.reserveCapacity(n)
        let hasUser = !userTrie.isEmpty
        var pos = 0
        while pos < n {
            var l = 0
            var f = false
            if hasUser {
                l = userTrie.longestMatch(s, from: pos, end: n).length
                f = l > 0
            }
            if l == 0 { l = min(UTF8Support.oneCharLength(s[pos]), n - pos) }
            var nd = ByteTrie.root
            for k in pos..<(pos + l) where nd >= 0 { nd = pieceTrie.child(nd, s[k]) }
            start.append(Int32(pos)); len.append(Int32(l)); node.append(nd); frozen.append(f)
            pos += l
        }
        let count = start.count
        var prev = [Int32](unsafeUninitializedCapacity: count) { b, c in
            for i in 0..<count { b[i] = Int32(i) - 1 }
            c = count
        }
        var next = [Int32](unsafeUninitializedCapacity: count) { b, c in
            for i in 0..<count { b[i] = i + 1 < count ? Int32(i + 1) : -1 }
            c = count
        }
        var heap = CandidateHeap()
        heap.items.reserveCapacity(count * 2)
        var revMerge: [[UInt8]: ([UInt8], [UInt8])] = [:]
        let unused = UInt8(SentencePieceModel.PieceType.unused.rawValue)

        func tryAdd(_ l: Int32, _ r: Int32) {
            if l < 0 || r < 0 || frozen[Int(l)] || frozen[Int(r)] { return }
            var nd = node[Int(l)]
            if nd < 0 { return }
            let rs = Int(start[Int(r)])
            for k in rs..<(rs + Int(len[Int(r)])) {
                nd = pieceTrie.child(nd, s[k])
                if nd < 0 { return }
            }
            let v = pieceTrie.value(nd)
            if v < 0 { return }
            heap.push(Candidate(score: scores[Int(v)], left: l, right: r, size: len[Int(l)] + len[Int(r)], node: nd))
            if types[Int(v)] == unused {
                let ls = Int(start[Int(l)])
                let lb = Array(s[ls..<(ls + Int(len[Int(l)]))])
                let rb = Array(s[rs..<(rs + Int(len[Int(r)]))])
                revMerge[lb + rb] = (lb, rb)
            }
        }

        for i in 1..<max(count, 1) { tryAdd(Int32(i - 1), Int32(i)) }
        while let top = heap.pop() {
            let l = Int(top.left), r = Int(top.right)
            if len[l] == 0 || len[r] == 0 || len[l] + len[r] != top.size { continue }
            len[l] += len[r]
            node[l] = top.node
            next[l] = next[r]
            if next[r] >= 0 { prev[Int(next[r])] = top.left }
            len[r] = 0
            tryAdd(prev[l], top.left)
            tryAdd(top.left, next[l])
        }

        var out: [Segment] = []
        out.reserveCapacity(count)
        var i: Int32 = 0
        while i >= 0 {
            let k = Int(i)
            let nd = node[k]
            var id: Int32 = nd >= 0 ? pieceTrie.value(nd) : -1
            if id < 0 { id = idOfRange(s, Int(start[k]), Int(len[k])) }
            if types[Int(id)] == unused && !revMerge.isEmpty {
                resegment(Array(s[Int(start[k])..<Int(start[k] + len[k])]), at: start[k], revMerge, &out)
            } else {
                out.append(Segment(start: start[k], length: len[k], id: id))
            }
            i = next[k]
        }
        return out
    }

    /// Splits an UNUSED piece back into the two symbols that formed it, recursively.
    private func resegment(_ w: [UInt8], at offset: Int32, _ revMerge: [[UInt8]: ([UInt8], [UInt8])],
                           _ out: inout [Segment]) {
        let id = lookup(w).map { Int32($0) } ?? Int32(unkId)
        guard types[Int(id)] == UInt8(SentencePieceModel.PieceType.unused.rawValue), let (a, b) = revMerge[w] else {
            out.append(Segment(start: offset, length: Int32(w.count), id: id))
            return
        }
        resegment(a, at: offset, revMerge, &out)
        resegment(b, at: offset + Int32(a.count), revMerge, &out)
    }
}
