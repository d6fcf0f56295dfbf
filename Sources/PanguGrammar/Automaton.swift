// The compiled grammar: a DFA over symbol classes plus call edges into recursive rules (a deterministic
// recursive transition network). A configuration is (DFA state, stack of return states); see
// Docs/ConstrainedDecoding.md for how steps, calls and returns are resolved.

/// A grammar as built by the compilers: the NFA, its symbol layout and the rules.
struct GrammarSource {
    var nfa: NFABuilder
    /// Literal texts of the special-token markers, symbol `256 + k` each.
    var markers: [String]
    /// Rule `r` is entered at `ruleStarts[r]` and complete at `ruleEnds[r]`; rule 0 is the whole output.
    var ruleStarts: [Int32]
    var ruleEnds: [Int32]
    /// Per rule: the rule entered instead once the call depth limit is reached (-1: none). Free-form values
    /// continue with a rule without containers so a deep document can still finish.
    var depthFallback: [Int]

    var markerCount: Int { markers.count }
    func callSymbol(rule: Int) -> UInt16 { UInt16(256 + markers.count + rule) }
    var symbolCount: Int { 256 + markers.count + ruleStarts.count }
}

/// Deterministic automaton with recursive calls; immutable once built.
struct Automaton: Sendable {
    /// Symbol class of each byte (0...255) then of each marker and call symbol.
    let classOf: [Int32]
    let classCount: Int
    /// `trans[state * classCount + class]`: next state or -1. [states × classes]
    let trans: [Int32]
    let accepting: [Bool]
    /// DFA start state of each rule.
    let ruleStart: [Int32]
    /// DFA start state entered instead of each rule's at the depth limit (the rule's own when it has none).
    let fallbackStart: [Int32]
    /// Per state: the call class to try when no direct transition exists (-1: none) and the callee rule.
    let callClass: [Int32]
    let callee: [Int32]
    /// Per state: true if any transition leaves it (calls included).
    let hasExit: [Bool]
    /// Class of marker `k`.
    let markerClass: [Int32]
    var stateCount: Int { accepting.count }

    init(_ src: GrammarSource, stateLimit: Int = 200_000) throws {
        let nfa = src.nfa
        let symbols = src.symbolCount
        // Symbol classes: maximal runs of symbols no edge distinguishes.
        var boundary = [Bool](repeating: false, count: symbols + 1)
        for list in nfa.edges { for e in list { boundary[Int(e.lo)] = true; boundary[Int(e.hi) + 1] = true } }
        for s in 256..<symbols { boundary[s] = true; boundary[s + 1] = true }
        var cls = [Int32](repeating: 0, count: symbols)
        var c: Int32 = -1
        for s in 0..<symbols {
            if s == 0 || boundary[s] { c += 1 }
            cls[s] = c
        }
        let nc = Int(c) + 1
        classOf = cls
        classCount = nc

        var isEnd = [Bool](repeating: false, count: nfa.count)
        for e in src.ruleEnds { isEnd[Int(e)] = true }
        var mark = [Int32](repeating: -1, count: nfa.count)
        var generation: Int32 = 0
        func closure(_ seeds: [Int32]) -> [Int32] {
            generation += 1
            var out: [Int32] = [], work = seeds
            while let n = work.popLast() {
                if mark[Int(n)] == generation { continue }
                mark[Int(n)] = generation
                out.append(n)
                work.append(contentsOf: nfa.epsilons[Int(n)])
            }
            // Keep only states that matter (with symbol edges or accepting) so equal sets get equal keys.
            return out.filter { !nfa.edges[Int($0)].isEmpty || isEnd[Int($0)] }.sorted()
        }
        var ids: [[Int32]: Int32] = [:]
        var sets: [[Int32]] = []
        var table: [Int32] = []
        var acc: [Bool] = []
        func intern(_ set: [Int32]) throws -> Int32 {
            if let id = ids[set] { return id }
            guard sets.count < stateLimit else {
                throw GrammarError.grammarTooLarge("more than \(stateLimit) DFA states; lower maxLength/maxItems bounds")
            }
            let id = Int32(sets.count)
            ids[set] = id
            sets.append(set)
            table.append(contentsOf: repeatElement(-1, count: nc))
            acc.append(set.contains { isEnd[Int($0)] })
            return id
        }
        var starts: [Int32] = []
        for s in src.ruleStarts { starts.append(try intern(closure([s]))) }
        var buckets = [[Int32]](repeating: [], count: nc)
        var i = 0
        while i < sets.count {
            for n in sets[i] {
                for e in nfa.edges[Int(n)] {
                    for k in Int(cls[Int(e.lo)])...Int(cls[Int(e.hi)]) { buckets[k].append(e.to) }
                }
            }
            for k in 0..<nc where !buckets[k].isEmpty {
                let t = try intern(closure(buckets[k]))
                table[i * nc + k] = t
                buckets[k].removeAll(keepingCapacity: true)
            }
            i += 1
        }
        Self.pruneDeadStates(&table, accepting: acc, classCount: nc)
        trans = table
        accepting = acc
        ruleStart = starts
        fallbackStart = src.depthFallback.enumerated().map { r, f in starts[f >= 0 ? f : r] }
        markerClass = (0..<src.markerCount).map { cls[256 + $0] }
        var cc = [Int32](repeating: -1, count: sets.count), ce = [Int32](repeating: -1, count: sets.count)
        var exits = [Bool](repeating: false, count: sets.count)
        for s in 0..<sets.count {
            exits[s] = table[(s * nc)..<((s + 1) * nc)].contains { $0 >= 0 }
            for r in 0..<src.ruleStarts.count {
                let k = Int(cls[Int(src.callSymbol(rule: r))])
                if table[s * nc + k] >= 0 { cc[s] = Int32(k); ce[s] = Int32(r); break }
            }
        }
        callClass = cc
        callee = ce
        hasExit = exits
    }

    /// Removes transitions into states from which no accepting state is reachable (a call edge counts as
    /// reaching its return state: every callee can complete). Dead branches come from bounds that exclude
    /// a whole prefix, e.g. `exclusiveMinimum: 0` makes "0.000…" endless; without pruning a sampler could
    /// walk in and find no allowed token.
    static func pruneDeadStates(_ table: inout [Int32], accepting: [Bool], classCount nc: Int) {
        let n = accepting.count
        var preds = [[Int32]](repeating: [], count: n)
        for s in 0..<n {
            for k in 0..<nc where table[s * nc + k] >= 0 { preds[Int(table[s * nc + k])].append(Int32(s)) }
        }
        var live = accepting
        var work = (0..<n).filter { accepting[$0] }
        while let t = work.popLast() {
            for p in preds[t] where !live[Int(p)] {
                live[Int(p)] = true
                work.append(Int(p))
            }
        }
        for i in 0..<table.count where table[i] >= 0 && !live[Int(table[i])] { table[i] = -1 }
    }
}
