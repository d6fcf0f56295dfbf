/// SentencePiece BPE: start from characters (user-defined symbols frozen), repeatedly merge the adjacent pair whose
/// concatenation is the highest-scoring vocabulary piece (ties: leftmost), re-split UNUSED pieces at the end.
///
/// The hot loop works on raw pointers (symbols as a doubly linked list, candidates in a binary heap) to avoid
/// `Array` bounds, uniqueness and exclusivity checks.
extension SentencePieceProcessor {
    struct BPESymbol {
        var start: Int32
        var length: Int32
        var prev: Int32
        var next: Int32
        /// Id of the piece spelled by the symbol (-1 when it is not a mergeable vocabulary piece).
        var id: Int32
        var frozen: Bool
    }

    struct BPECandidate {
        var score: Float
        var left: Int32
        var right: Int32
        var size: Int32
        var id: Int32

        /// Heap order: higher score first, then smaller left index (the library's comparator).
        @inline(__always) func precedes(_ o: BPECandidate) -> Bool {
            score > o.score || (score == o.score && left < o.left)
        }
    }

    /// Working state of one BPE segmentation.
    struct BPERun {
        let s: UnsafeBufferPointer<UInt8>
        let sym: UnsafeMutablePointer<BPESymbol>
        var heap: UnsafeMutablePointer<BPECandidate>
        var heapCount = 0
        var heapCapacity: Int
        let trie: ByteTrie
        let pairs: PiecePairTable
        let scores: UnsafePointer<Float>
        let types: UnsafePointer<UInt8>
        let hasUnused: Bool
        var revMerge: [[UInt8]: ([UInt8], [UInt8])] = [:]

        @inline(__always) mutating func push(_ c: BPECandidate) {
            if heapCount == heapCapacity {
                let bigger = UnsafeMutablePointer<BPECandidate>.allocate(capacity: heapCapacity * 2)
                bigger.moveInitialize(from: heap, count: heapCount)
                heap.deallocate()
                heap = bigger
                heapCapacity *= 2
            }
            var i = heapCount
            heapCount += 1
            while i > 0 {
                let p = (i - 1) >> 1
                if !c.precedes(heap[p]) { break }
                heap[i] = heap[p]
                i = p
            }
            heap[i] = c
        }

        @inline(__always) mutating func pop() -> BPECandidate {
            let top = heap[0]
            heapCount -= 1
            let n = heapCount
            if n > 0 {
                let last = heap[n]
                var i = 0
                while true {
                    let l = 2 * i + 1
                    if l >= n { break }
                    var c = l
                    if l + 1 < n && heap[l + 1].precedes(heap[l]) { c = l + 1 }
                    if !heap[c].precedes(last) { break }
                    heap[i] = heap[c]
                    i = c
                }
                heap[i] = last
            }
            return top
        }

        /// Queues the pair (l, r) if its concatenation is a vocabulary piece.
        @inline(__always) mutating func tryAdd(_ l: Int32, _ r: Int32) {
            if l < 0 || r < 0 { return }
            let ls = sym[Int(l)], rs = sym[Int(r)]
            if ls.frozen || rs.frozen { return }
            let v: Int32
            if ls.id >= 0 && rs.id >= 0 {
                v = pairs.merged(ls.id, rs.id)
            } else {
                // A side that is not a piece: look the concatenation up byte by byte.
                var nd = ByteTrie.root
                var k = Int(ls.start)
                let e = k + Int(ls.length + rs.length)
                while k < e {
                    nd = trie.child(nd, s[k])
                    if nd < 0 { return }
                    k += 1
                }
                v = trie.value(nd)
            }
            if v < 0 { return }
            push(BPECandidate(score: scores[Int(v)], left: l, right: r, size: ls.length + rs.length, id: v))
            if hasUnused && types[Int(v)] == UInt8(SentencePieceModel.PieceType.unused.rawValue) {
                let lb = Array(s[Int(ls.start)..<Int(ls.start + ls.length)])
                let rb = Array(s[Int(rs.start)..<Int(rs.start + rs.length)])
                revMerge[lb + rb] = (lb, rb)
            }
        }
    }

    func segmentBPE(_ s: UnsafeBufferPointer<UInt8>) -> [Segment] {
        let n = s.count
        let sym = UnsafeMutablePointer<BPESymbol>.allocate(capacity: n)
        defer { sym.deallocate() }
        let hasUser = !userTrie.isEmpty
        var count = 0
        var pos = 0
        while pos < n {
            var l = 0
            var f = false
            if hasUser {
                l = userTrie.longestMatch(s, from: pos, end: n).length
                f = l > 0
            }
            if l == 0 { l = min(UTF8Support.oneCharLength(s[pos]), n - pos) }
            var id: Int32
            if l == 1 {
                id = singleByteIds[Int(s[pos])]
            } else {
                var nd = ByteTrie.root
                var k = pos
                while k < pos + l && nd >= 0 {
                    nd = pieceTrie.child(nd, s[k])
                    k += 1
                }
                id = nd >= 0 ? pieceTrie.value(nd) : -1
            }
            sym[count] = BPESymbol(start: Int32(pos), length: Int32(l), prev: Int32(count - 1),
                                   next: Int32(count + 1), id: id, frozen: f)
            count += 1
            pos += l
        }
        sym[count - 1].next = -1
        return scores.withUnsafeBufferPointer { sc in
            types.withUnsafeBufferPointer { ty in
                let cap = max(16, count * 2)
                var run = BPERun(s: s, sym: sym, heap: .allocate(capacity: cap), heapCapacity: cap, trie: pieceTrie,
                                 pairs: pairs!, scores: sc.baseAddress!, types: ty.baseAddress!, hasUnused: hasUnusedPieces)
                defer { run.heap.deallocate() }
                for i in 1..<max(count, 1) { run.tryAdd(Int32(i - 1), Int32(i)) }
                while run.heapCount > 0 {
                    let top = run.pop()
                    let l = Int(top.left), r = Int(top.right)
                    let ll = sym[l].length, rl = sym[r].length
                    if ll == 0 || rl == 0 || ll + rl != top.size { continue }
                    sym[l].length = ll + rl
                    sym[l].id = top.id
                    let rn = sym[r].next
                    sym[l].next = rn
                    if rn >= 0 { sym[Int(rn)].prev = top.left }
                    sym[r].length = 0
                    run.tryAdd(sym[l].prev, top.left)
                    run.tryAdd(top.left, rn)
                }
                return collectBPE(s, sym, run.revMerge)
            }
        }
    }

    private func collectBPE(_ s: UnsafeBufferPointer<UInt8>, _ sym: UnsafeMutablePointer<BPESymbol>,
                            _ revMerge: [[UInt8]: ([UInt8], [UInt8])]) -> [Segment] {
        var out: [Segment] = []
        var i: Int32 = 0
        let unused = UInt8(SentencePieceModel.PieceType.unused.rawValue)
        while i >= 0 {
            let y = sym[Int(i)]
            var id: Int32 = y.id
            if id < 0 { id = idOfRange(s, Int(y.start), Int(y.length)) }
            if types[Int(id)] == unused && !revMerge.isEmpty {
                resegment(Array(s[Int(y.start)..<Int(y.start + y.length)]), at: y.start, revMerge, &out)
            } else {
                out.append(Segment(start: y.start, length: y.length, id: id))
            }
            i = y.next
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
