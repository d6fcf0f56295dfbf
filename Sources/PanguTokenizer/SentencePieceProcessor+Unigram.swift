/// SentencePiece Unigram: Viterbi over all vocabulary pieces matching at each character boundary; unknown
/// characters get `min score - 10`, user-defined symbols get `length * max score - 0.1` (the library's formulas).
extension SentencePieceProcessor {
    func segmentUnigram(_ s: UnsafeBufferPointer<UInt8>) -> [Segment] {
        let n = s.count
        let bestScore = UnsafeMutablePointer<Float>.allocate(capacity: n + 1)
        bestScore.initialize(repeating: 0, count: n + 1)
        let startsAt = UnsafeMutablePointer<Int32>.allocate(capacity: n + 1)
        startsAt.initialize(repeating: -1, count: n + 1)
        let bestId = UnsafeMutablePointer<Int32>.allocate(capacity: n + 1)
        bestId.initialize(repeating: -1, count: n + 1)
        defer { bestScore.deallocate(); startsAt.deallocate(); bestId.deallocate() }
        return types.withUnsafeBufferPointer { types in
            scores.withUnsafeBufferPointer { scores in
                viterbi(s, bestScore, startsAt, bestId, types, scores)
            }
        }
    }

    private func viterbi(_ s: UnsafeBufferPointer<UInt8>, _ bestScore: UnsafeMutablePointer<Float>,
                         _ startsAt: UnsafeMutablePointer<Int32>, _ bestId: UnsafeMutablePointer<Int32>,
                         _ types: UnsafeBufferPointer<UInt8>, _ scores: UnsafeBufferPointer<Float>) -> [Segment] {
        let n = s.count
        let unkScore = minScore - 10
        let unused = UInt8(SentencePieceModel.PieceType.unused.rawValue)
        let user = UInt8(SentencePieceModel.PieceType.userDefined.rawValue)
        let unk = Int32(unkId)
        var pos = 0
        while pos < n {
            let base = bestScore[pos]
            let mblen = min(UTF8Support.oneCharLength(s[pos]), n - pos)
            var hasSingle = false
            var nd = ByteTrie.root
            var k = pos
            while k < n {
                nd = pieceTrie.child(nd, s[k])
                if nd < 0 { break }
                k += 1
                let v = pieceTrie.value(nd)
                if v < 0 || types[Int(v)] == unused { continue }
                let length = k - pos
                let cand: Double
                if types[Int(v)] == user {
                    cand = (Double(Float(length) * maxScore) - 0.1) + Double(base)
                } else {
                    cand = Double(scores[Int(v)] + base)
                }
                if startsAt[k] == -1 || cand > Double(bestScore[k]) {
                    bestScore[k] = Float(cand)
                    startsAt[k] = Int32(pos)
                    bestId[k] = v
                }
                if length == mblen { hasSingle = true }
            }
            if !hasSingle {
                let t = pos + mblen
                let cand = unkScore + base
                if startsAt[t] == -1 || cand > bestScore[t] {
                    bestScore[t] = cand
                    startsAt[t] = Int32(pos)
                    bestId[t] = unk
                }
            }
            pos += mblen
        }
        var out: [Segment] = []
        var e = n
        while e > 0 {
            let st = Int(startsAt[e])
            out.append(Segment(start: Int32(st), length: Int32(e - st), id: bestId[e]))
            e = st
        }
        out.reverse()
        return out
    }
}
