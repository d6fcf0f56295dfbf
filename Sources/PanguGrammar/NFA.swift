// Grammar construction: schemas compile to a Thompson NFA over "symbols" (bytes 0...255, then special-token
// markers, then calls of recursive rules), which `Automaton.swift` turns into a DFA by subset construction.

/// An NFA under construction. Every fragment is built fresh (single entry, single exit), so repetition calls
/// the builder again instead of sharing states.
struct NFABuilder {
    struct Edge {
        var lo: UInt16, hi: UInt16
        var to: Int32
    }
    var epsilons: [[Int32]] = []
    var edges: [[Edge]] = []
    /// Refuse to grow past this many states (huge `maxLength`/`maxItems` unrolled).
    let stateLimit: Int

    init(stateLimit: Int = 400_000) { self.stateLimit = stateLimit }

    var count: Int { epsilons.count }

    mutating func node() throws -> Int32 {
        guard epsilons.count < stateLimit else {
            throw GrammarError.grammarTooLarge("more than \(stateLimit) automaton states; lower maxLength/maxItems bounds")
        }
        epsilons.append([])
        edges.append([])
        return Int32(epsilons.count - 1)
    }

    mutating func epsilon(_ a: Int32, _ b: Int32) { epsilons[Int(a)].append(b) }

    /// A fragment: enter at `start`, leave from `end`.
    struct Frag {
        var start: Int32, end: Int32
    }

    mutating func empty() throws -> Frag {
        let n = try node()
        return Frag(start: n, end: n)
    }

    /// One symbol from any of `ranges` (inclusive).
    mutating func oneOf(_ ranges: [(UInt16, UInt16)]) throws -> Frag {
        let a = try node(), b = try node()
        for (lo, hi) in ranges { edges[Int(a)].append(Edge(lo: lo, hi: hi, to: b)) }
        return Frag(start: a, end: b)
    }

    mutating func byteRange(_ lo: UInt8, _ hi: UInt8) throws -> Frag { try oneOf([(UInt16(lo), UInt16(hi))]) }

    mutating func symbol(_ s: UInt16) throws -> Frag { try oneOf([(s, s)]) }

    /// The exact byte string.
    mutating func literal(_ bytes: [UInt8]) throws -> Frag {
        let start = try node()
        var cur = start
        for b in bytes {
            let n = try node()
            edges[Int(cur)].append(Edge(lo: UInt16(b), hi: UInt16(b), to: n))
            cur = n
        }
        return Frag(start: start, end: cur)
    }

    mutating func literal(_ s: String) throws -> Frag { try literal(Array(s.utf8)) }

    mutating func seq(_ parts: [Frag]) throws -> Frag {
        guard var f = parts.first else { return try empty() }
        for p in parts.dropFirst() {
            epsilon(f.end, p.start)
            f.end = p.end
        }
        return f
    }

    mutating func alt(_ parts: [Frag]) throws -> Frag {
        let a = try node(), b = try node()
        for p in parts {
            epsilon(a, p.start)
            epsilon(p.end, b)
        }
        return Frag(start: a, end: b)
    }

    mutating func optional(_ f: Frag) throws -> Frag {
        let e = try empty()
        return try alt([f, e])
    }

    /// Zero or more repetitions of `f` (a fresh fragment).
    mutating func star(_ f: Frag) throws -> Frag {
        let s = try node()
        epsilon(s, f.start)
        epsilon(f.end, s)
        return Frag(start: s, end: s)
    }

    /// `make()` repeated between `min` and `max` times (nil = unbounded), separated by `separator()`.
    mutating func repeated(min: Int, max: Int?, separator: (inout NFABuilder) throws -> Frag,
                           _ make: (inout NFABuilder) throws -> Frag) throws -> Frag {
        try repeatFragments(&self, \.self, min: min, max: max, separator: separator, make)
    }
}

/// Repetition for any context that owns a builder (`ctx[keyPath: b]`), so item builders can be methods of the
/// context (the schema compiler). Items are `min...max` fresh copies; nil max loops.
func repeatFragments<C>(_ ctx: inout C, _ b: WritableKeyPath<C, NFABuilder>, min: Int, max: Int?,
                        separator: (inout C) throws -> NFABuilder.Frag,
                        _ make: (inout C) throws -> NFABuilder.Frag) throws -> NFABuilder.Frag {
    if let max, max == 0 { return try ctx[keyPath: b].empty() }
    var lastItem = try make(&ctx)
    var required: [NFABuilder.Frag] = [lastItem]
    for _ in 1..<Swift.max(min, 1) {
        let s = try separator(&ctx)
        lastItem = try make(&ctx)
        required.append(try ctx[keyPath: b].seq([s, lastItem]))
    }
    var tail: NFABuilder.Frag
    if let max {
        // Optional items in a row, each boundary with a shortcut to the end (closures stay O(1), where nested
        // optionals would make subset construction quadratic in max).
        let start = try ctx[keyPath: b].node(), end = try ctx[keyPath: b].node()
        var cur = start
        for _ in 0..<Swift.max(0, max - Swift.max(min, 1)) {
            let s = try separator(&ctx), item = try make(&ctx)
            ctx[keyPath: b].epsilon(cur, end)
            ctx[keyPath: b].epsilon(cur, s.start)
            ctx[keyPath: b].epsilon(s.end, item.start)
            cur = item.end
        }
        ctx[keyPath: b].epsilon(cur, end)
        tail = NFABuilder.Frag(start: start, end: end)
    } else {
        // Unbounded: the last required item loops back through a separator (one copy instead of two).
        let s = try separator(&ctx)
        ctx[keyPath: b].epsilon(lastItem.end, s.start)
        ctx[keyPath: b].epsilon(s.end, lastItem.start)
        tail = try ctx[keyPath: b].empty()
    }
    let all = try ctx[keyPath: b].seq(required + [tail])
    return min == 0 ? try ctx[keyPath: b].optional(all) : all
}
