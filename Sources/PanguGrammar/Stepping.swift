// Moving a configuration (DFA state + stack of return states) by one symbol class. The stack is a parent-linked
// arena so a mask walk can branch from one configuration into many without copying stacks.

/// Return stack storage: entry i holds a return state and the index of the entry below it (-1: bottom).
struct StackArena {
    var ret: [Int32] = []
    var parent: [Int32] = []
    var count: Int { ret.count }
    mutating func truncate(_ n: Int) {
        ret.removeSubrange(n...)
        parent.removeSubrange(n...)
    }
}

/// Where a sequence is in the grammar: DFA state, top of the return stack (-1: empty) and its depth.
struct GrammarConfig: Equatable {
    var state: Int32
    var top: Int32
    var depth: Int32
}

extension Automaton {
    /// Consumes one symbol of class `cls`: a direct transition if there is one, else a call into the state's
    /// callee rule (pushing the return state), else a return from a complete rule; false when none applies.
    @inline(__always)
    func step(_ c: inout GrammarConfig, _ cls: Int, _ arena: inout StackArena) -> Bool {
        var s = Int(c.state), top = c.top, depth = c.depth
        for _ in 0..<(2 * JSONLimits.maxDepth + 4) {
            let t = trans[s &* classCount &+ cls]
            if t >= 0 {
                c = GrammarConfig(state: t, top: top, depth: depth)
                return true
            }
            let k = callClass[s]
            if k >= 0 && depth <= Int32(JSONLimits.maxDepth) {
                arena.ret.append(trans[s &* classCount &+ Int(k)])
                arena.parent.append(top)
                top = Int32(arena.count - 1)
                s = Int(depth < Int32(JSONLimits.maxDepth) ? ruleStart[Int(callee[s])] : fallbackStart[Int(callee[s])])
                depth += 1
                continue
            }
            if accepting[s] && top >= 0 {
                s = Int(arena.ret[Int(top)])
                top = arena.parent[Int(top)]
                depth -= 1
                continue
            }
            return false
        }
        return false
    }

    /// Whether the text so far is a complete sentence of the grammar (every open rule can return).
    func isAccepting(_ c: GrammarConfig, _ arena: StackArena) -> Bool {
        var s = Int(c.state), top = c.top
        while true {
            guard accepting[s] else { return false }
            if top < 0 { return true }
            s = Int(arena.ret[Int(top)])
            top = arena.parent[Int(top)]
        }
    }

    /// Whether any symbol could still follow (in the current rule or in a caller it can return to).
    func canContinue(_ c: GrammarConfig, _ arena: StackArena) -> Bool {
        var s = Int(c.state), top = c.top
        while true {
            if hasExit[s] { return true }
            guard accepting[s], top >= 0 else { return false }
            s = Int(arena.ret[Int(top)])
            top = arena.parent[Int(top)]
        }
    }

    /// The configuration as a value: state then return states from the top down (the mask cache key).
    func key(_ c: GrammarConfig, _ arena: StackArena) -> [Int32] {
        var k: [Int32] = [c.state]
        var top = c.top
        while top >= 0 {
            k.append(arena.ret[Int(top)])
            top = arena.parent[Int(top)]
        }
        return k
    }

    /// True when some accepting configuration is reachable from rule 0's start (calls assumed to return).
    func acceptsSomething() -> Bool {
        var seen = [Bool](repeating: false, count: stateCount)
        var work = [Int(ruleStart[0])]
        seen[work[0]] = true
        while let s = work.popLast() {
            if accepting[s] { return true }
            for k in 0..<classCount {
                let t = Int(trans[s * classCount + k])
                if t >= 0 && !seen[t] { seen[t] = true; work.append(t) }
            }
        }
        return false
    }
}
