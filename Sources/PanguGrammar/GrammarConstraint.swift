import PanguRuntime

/// One sequence's position in a ``TokenGrammar`` (see Docs/ConstrainedDecoding.md for the reasoning rules).
final class GrammarConstraint: LogitsConstraint {
    private enum Phase { case start, reasoning, grammar, ended }
    private let grammar: TokenGrammar
    private let eos: [Int]
    private let reasoning: (open: Int, close: Int)?
    private var phase: Phase
    private var config: GrammarConfig
    private var arena = StackArena()
    private var position = 0

    init(grammar: TokenGrammar, eosTokenIds: [Int], reasoning: (open: Int, close: Int)?) {
        self.grammar = grammar
        eos = eosTokenIds
        self.reasoning = reasoning
        phase = reasoning == nil ? .grammar : .start
        config = GrammarConfig(state: grammar.automaton.ruleStart[0], top: -1, depth: 0)
    }

    var isComplete: Bool {
        switch phase {
        case .ended: return true
        case .grammar:
            let a = grammar.automaton
            return a.isAccepting(config, arena) && !a.canContinue(config, arena)
        default: return false
        }
    }

    func mask(_ logits: inout [Float]) {
        if phase == .reasoning {
            // Free text until the reasoning close token; the sequence may not end inside it.
            for id in eos where id >= 0 && id < logits.count { logits[id] = -.infinity }
            return
        }
        let entry: TokenGrammar.MaskEntry
        if phase == .ended {
            entry = TokenGrammar.MaskEntry(tokens: [], bits: nil, complete: true)
        } else {
            entry = grammar.maskEntry(config, &arena)
        }
        var keep: [(Int, Float)] = []
        if entry.complete { for id in eos where id >= 0 && id < logits.count { keep.append((id, logits[id])) } }
        if phase == .start, let r = reasoning, r.open >= 0, r.open < logits.count { keep.append((r.open, logits[r.open])) }
        let n = logits.count
        logits.withUnsafeMutableBufferPointer { l in
            if let bits = entry.bits {
                for w in 0..<bits.count {
                    let word = bits[w]
                    if word == ~0 { continue }
                    let lo = w << 6
                    for i in lo..<min(lo + 64, n) where word & (1 << UInt64(i - lo)) == 0 { l[i] = -.infinity }
                }
                if bits.count * 64 < n { for i in (bits.count * 64)..<n { l[i] = -.infinity } }
            } else {
                for t in entry.tokens where Int(t) < n { keep.append((Int(t), l[Int(t)])) }
                for i in 0..<n { l[i] = -.infinity }
            }
            for (i, v) in keep { l[i] = v }
        }
    }

    func accept(_ token: Int) throws {
        try advance(token)
        position += 1
    }

    private func advance(_ token: Int) throws {
        var wasStart = false
        let refuse = GrammarError.tokenNotAllowed(token: token, position: position)
        switch phase {
        case .ended: throw refuse
        case .reasoning:
            if eos.contains(token) { throw refuse }
            if token == reasoning?.close { phase = .grammar }
            return
        case .start:
            if token == reasoning?.open { phase = .reasoning; return }
            phase = .grammar
            wasStart = true
        case .grammar: break
        }
        let a = grammar.automaton
        if eos.contains(token) {
            guard a.isAccepting(config, arena) else {
                if wasStart { phase = .start }
                throw refuse
            }
            phase = .ended
            return
        }
        let saved = config, base = arena.count
        var ok: Bool
        if let k = grammar.markerIndex[token] {
            ok = a.step(&config, Int(a.markerClass[k]), &arena)
        } else if token >= 0, token < grammar.vocabulary.count, grammar.vocabulary.trie.isMember(token) {
            ok = true
            for b in grammar.vocabulary.tokenBytes[token] where ok {
                ok = a.step(&config, Int(a.classOf[Int(b)]), &arena)
            }
        } else {
            ok = false
        }
        if !ok {
            config = saved
            arena.truncate(base)
            if wasStart { phase = .start }
            throw refuse
        }
        if arena.count > 4096 { compactArena() }
    }

    /// Drops stack entries no longer reachable (the arena only grows while accepting).
    private func compactArena() {
        var chain: [Int32] = []
        var top = config.top
        while top >= 0 {
            chain.append(arena.ret[Int(top)])
            top = arena.parent[Int(top)]
        }
        arena = StackArena()
        var t: Int32 = -1
        for r in chain.reversed() {
            arena.ret.append(r)
            arena.parent.append(t)
            t = Int32(arena.count - 1)
        }
        config.top = t
    }
}
