// Numeric ranges as automata: integers digit by digit (the classic range-to-regex split by length and by the
// first differing digit), decimals as an integer part plus a fraction compared digit by digit against the
// bound's fraction. Bounds are exact decimals taken from the schema text (no floating-point rounding).

/// A non-negative-or-negative decimal from a JSON number literal: `int` digits without leading zeros, `frac`
/// digits without trailing zeros. `huge` when the integer part exceeds the 16-digit limit.
struct DecimalBound: Equatable {
    var negative: Bool
    var int: [UInt8]
    var frac: [UInt8]
    var huge: Bool

    init?(literal: String) {
        var s = Substring(literal)
        negative = s.hasPrefix("-")
        if negative { s = s.dropFirst() }
        var exp = 0
        if let e = s.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            guard let v = Int(s[s.index(after: e)...].replacingOccurrences(of: "+", with: "")), abs(v) < 10_000 else { return nil }
            exp = v
            s = s[..<e]
        }
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return nil }
        var digits = parts[0].compactMap { $0.wholeNumberValue.map(UInt8.init) }
        var point = digits.count
        if parts.count == 2 { digits += parts[1].compactMap { $0.wholeNumberValue.map(UInt8.init) } }
        point += exp
        if point < 0 { digits = [UInt8](repeating: 0, count: -point) + digits; point = 0 }
        if point > digits.count { digits += [UInt8](repeating: 0, count: point - digits.count) }
        var i = Array(digits[..<point]), f = Array(digits[point...])
        while i.first == 0 { i.removeFirst() }
        while f.last == 0 { f.removeLast() }
        int = i
        frac = f
        huge = i.count > JSONLimits.maxIntegerDigits
        if i.isEmpty && f.isEmpty { negative = false }
    }

    init(negative: Bool, int: [UInt8], frac: [UInt8]) {
        self.negative = negative; self.int = int; self.frac = frac; huge = false
    }

    static let zero = DecimalBound(negative: false, int: [], frac: [])

    var isZero: Bool { int.isEmpty && frac.isEmpty }
    var isInteger: Bool { frac.isEmpty }
    /// Integer part as a number (valid when not `huge`).
    var intValue: Int { int.reduce(0) { $0 * 10 + Int($1) } }
    var negated: DecimalBound {
        var d = self
        d.negative = isZero ? false : !negative
        return d
    }

    /// Total order of the represented values.
    static func < (a: DecimalBound, b: DecimalBound) -> Bool {
        if a.negative != b.negative { return a.negative }
        let magLess = magnitudeLess(a, b)
        let magGreater = magnitudeLess(b, a)
        return a.negative ? magGreater : magLess
    }

    private static func magnitudeLess(_ a: DecimalBound, _ b: DecimalBound) -> Bool {
        if a.int.count != b.int.count { return a.int.count < b.int.count }
        if a.int != b.int { return a.int.lexicographicallyPrecedes(b.int) }
        return a.frac.lexicographicallyPrecedes(b.frac)
    }

    /// Smallest integer ≥ self (> self when `strict`), as Int.
    func ceilInt(strict: Bool) -> Int {
        let t = negative ? -intValue : intValue
        if isInteger { return strict ? t + 1 : t }
        return negative ? t : t + 1
    }

    /// Largest integer ≤ self (< self when `strict`).
    func floorInt(strict: Bool) -> Int {
        let t = negative ? -intValue : intValue
        if isInteger { return strict ? t - 1 : t }
        return negative ? t - 1 : t
    }
}

extension NFABuilder {
    private static func digitArray(_ v: Int) -> [UInt8] { Array(String(v).utf8).map { $0 - 0x30 } }

    /// Equal-length digit strings from `lo` to `hi` (inclusive, lo ≤ hi).
    mutating func digitsBetween(_ lo: ArraySlice<UInt8>, _ hi: ArraySlice<UInt8>) throws -> Frag {
        guard let l0 = lo.first, let h0 = hi.first else { return try empty() }
        let n = lo.count
        if lo.dropFirst().allSatisfy({ $0 == 0 }) && hi.dropFirst().allSatisfy({ $0 == 9 }) {
            return try seq([try byteRange(0x30 + l0, 0x30 + h0), try digits(min: n - 1, max: n - 1)])
        }
        if l0 == h0 {
            return try seq([try literal([0x30 + l0]), try digitsBetween(lo.dropFirst(), hi.dropFirst())])
        }
        var parts = [try seq([try literal([0x30 + l0]),
                              try digitsBetween(lo.dropFirst(), ArraySlice(repeating: 9, count: n - 1))])]
        if l0 + 1 <= h0 - 1 {
            parts.append(try seq([try byteRange(0x30 + l0 + 1, 0x30 + h0 - 1), try digits(min: n - 1, max: n - 1)]))
        }
        parts.append(try seq([try literal([0x30 + h0]),
                              try digitsBetween(ArraySlice(repeating: 0, count: n - 1), hi.dropFirst())]))
        return try alt(parts)
    }

    /// Decimal integers `a...b` without sign (0 ≤ a ≤ b ≤ maxMagnitude), no leading zeros.
    mutating func magnitudes(_ a: Int, _ b: Int) throws -> Frag {
        var parts: [Frag] = []
        let la = Self.digitArray(a).count, lb = Self.digitArray(b).count
        var p = 1
        for _ in 1..<la { p *= 10 }
        for len in la...lb {
            let lo = max(a, len == 1 ? 0 : p), hi = min(b, p * 10 - 1)
            if lo <= hi { parts.append(try digitsBetween(ArraySlice(Self.digitArray(lo)), ArraySlice(Self.digitArray(hi)))) }
            p *= 10
        }
        return try alt(parts)
    }

    /// Integers in `lo...hi` (nil: unbounded, limited to 16 digits); caller guarantees lo ≤ hi.
    mutating func integerRange(_ lo: Int?, _ hi: Int?) throws -> Frag {
        let m = JSONLimits.maxMagnitude
        let l = max(lo ?? -m, -m), h = min(hi ?? m, m)
        var parts: [Frag] = []
        if h >= 0 { parts.append(try magnitudes(max(l, 0), h)) }
        if l < 0 { parts.append(try seq([try literal("-"), try magnitudes(max(1, -min(h, -1)), -l)])) }
        return try alt(parts)
    }

    /// Decimals in a range (each bound optional, inclusive or exclusive), written without exponent.
    mutating func decimalRange(lo: (DecimalBound, Bool)?, hi: (DecimalBound, Bool)?) throws -> Frag {
        var parts: [Frag] = []
        // x >= 0 part: [max(lo, 0), hi]
        let nonNegLo: (DecimalBound, Bool) = lo.map { $0.0.negative ? (DecimalBound.zero, false) : $0 } ?? (.zero, false)
        if hi == nil || DecimalBound.zero < hi!.0 || (hi!.0.isZero && !hi!.1 && !nonNegLo.1) {
            parts.append(try nonNegativeDecimals(lo: nonNegLo, hi: hi))
        }
        // x < 0 part: magnitudes in (max(-hi, 0), -lo], zero always excluded (no "-0").
        if lo == nil || lo!.0.negative {
            let magLo: (DecimalBound, Bool) = hi.map { $0.0.negative ? ($0.0.negated, $0.1) : (.zero, true) } ?? (.zero, true)
            let magHi = lo.map { ($0.0.negated, $0.1) }
            parts.append(try seq([try literal("-"), try nonNegativeDecimals(lo: magLo, hi: magHi)]))
        }
        return try alt(parts)
    }

    /// Non-negative decimals between `lo` and `hi` (hi nil: unbounded).
    private mutating func nonNegativeDecimals(lo: (DecimalBound, Bool), hi: (DecimalBound, Bool)?) throws -> Frag {
        let m = JSONLimits.maxMagnitude
        let ln = lo.0.intValue
        func intLit(_ v: Int) throws -> Frag { try literal(String(v)) }
        if let hi, !hi.0.huge {
            let hn = hi.0.intValue
            if ln == hn { return try seq([try intLit(ln), try fraction(lo: lo.0.frac, loEx: lo.1, hi: hi.0.frac, hiEx: hi.1)]) }
            var parts = [try seq([try intLit(ln), try fraction(lo: lo.0.frac, loEx: lo.1, hi: nil, hiEx: false)])]
            if ln + 1 <= hn - 1 { parts.append(try seq([try magnitudes(ln + 1, hn - 1), try fraction(lo: nil, loEx: false, hi: nil, hiEx: false)])) }
            parts.append(try seq([try intLit(hn), try fraction(lo: nil, loEx: false, hi: hi.0.frac, hiEx: hi.1)]))
            return try alt(parts)
        }
        var parts = [try seq([try intLit(ln), try fraction(lo: lo.0.frac, loEx: lo.1, hi: nil, hiEx: false)])]
        if ln + 1 <= m { parts.append(try seq([try magnitudes(ln + 1, m), try fraction(lo: nil, loEx: false, hi: nil, hiEx: false)])) }
        return try alt(parts)
    }

    /// Optional `.digits` whose value f (0 when absent) satisfies lo ≤ f ≤ hi against the bound fractions
    /// (digit strings without trailing zeros; nil: no bound), strict where `loEx`/`hiEx`.
    mutating func fraction(lo: [UInt8]?, loEx: Bool, hi: [UInt8]?, hiEx: Bool) throws -> Frag {
        let maxPos = JSONLimits.maxFractionDigits
        func endOK(_ pos: Int, _ tl: Bool, _ th: Bool) -> Bool {
            if tl, let lo { if pos < lo.count || loEx { return false } }   // below lo, or equal and strict
            if th, let hi { if pos >= hi.count && hiEx { return false } }  // equal to hi and strict
            return true
        }
        let start = try node(), end = try node()
        let tl0 = lo != nil, th0 = hi != nil
        if endOK(0, tl0, th0) { epsilon(start, end) }
        var nodes: [Int: Int32] = [:]
        func key(_ p: Int, _ tl: Bool, _ th: Bool) -> Int { p * 4 + (tl ? 2 : 0) + (th ? 1 : 0) }
        var work: [(Int, Bool, Bool)] = [(0, tl0, th0)]
        let first = try node()
        nodes[key(0, tl0, th0)] = first
        edges[Int(start)].append(Edge(lo: 0x2E, hi: 0x2E, to: first))
        while let (p, tl, th) = work.popLast() {
            let n = nodes[key(p, tl, th)]!
            if p >= 1 && endOK(p, tl, th) { epsilon(n, end) }
            guard p < maxPos else { continue }
            let l = tl ? (p < lo!.count ? lo![p] : 0) : 0
            let h = th ? (p < hi!.count ? hi![p] : 0) : 9
            guard l <= h else { continue }
            for d in l...h {
                let ntl = tl && d == l, nth = th && d == h
                let k = key(p + 1, ntl, nth)
                let target: Int32
                if let t = nodes[k] { target = t } else {
                    target = try node()
                    nodes[k] = target
                    work.append((p + 1, ntl, nth))
                }
                edges[Int(n)].append(Edge(lo: UInt16(0x30 + d), hi: UInt16(0x30 + d), to: target))
            }
        }
        return Frag(start: start, end: end)
    }
}
