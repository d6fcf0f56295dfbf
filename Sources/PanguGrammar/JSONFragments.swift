// NFA fragments for JSON lexical pieces: bounded whitespace, string characters (valid UTF-8, escapes), numbers.
// The limits are documented in Docs/ConstrainedDecoding.md.

enum JSONLimits {
    /// Whitespace between tokens: nothing, one space, or a newline followed by at most this many spaces.
    static let maxIndent = 16
    /// Digits of an integer part / a fraction / an exponent.
    static let maxIntegerDigits = 16
    static let maxFractionDigits = 16
    static let maxExponentDigits = 3
    /// Nesting depth of free-form JSON values (json_object, `{}` schemas); one level deeper only scalars and
    /// empty containers.
    static let maxDepth = 32
    /// Largest magnitude an integer can have (16 digits).
    static let maxMagnitude = 9_999_999_999_999_999
}

extension NFABuilder {
    /// Bounded JSON whitespace: "" | " " | "\n" followed by 0...maxIndent spaces.
    mutating func ws() throws -> Frag {
        let spaces = try repeated(min: 0, max: JSONLimits.maxIndent, separator: { try $0.empty() }) {
            try $0.literal(" ")
        }
        let newline = try seq([try literal("\n"), spaces])
        return try alt([try empty(), try literal(" "), newline])
    }

    /// `ws` + text + `ws`, e.g. a comma or colon with whitespace on both sides.
    mutating func padded(_ s: String) throws -> Frag { try seq([try ws(), try literal(s), try ws()]) }

    /// One character of a JSON string body: a UTF-8 encoded scalar other than `"`, `\` and controls, or an
    /// escape (`\uXXXX` without surrogates, so every escape is one Unicode character).
    mutating func stringChar() throws -> Frag {
        // Hand-built so UTF-8 continuation tails and hex digits are shared (fewer automaton states per
        // character position, which matters when maxLength unrolls hundreds of positions).
        let start = try node(), end = try node()
        func edge(_ from: Int32, _ lo: UInt16, _ hi: UInt16, _ to: Int32) { edges[Int(from)].append(Edge(lo: lo, hi: hi, to: to)) }
        let need1 = try node(), need2 = try node(), need3 = try node()
        edge(need1, 0x80, 0xBF, end)
        edge(need2, 0x80, 0xBF, need1)
        edge(need3, 0x80, 0xBF, need2)
        for (lo, hi) in [(0x20, 0x21), (0x23, 0x5B), (0x5D, 0x7F)] as [(UInt16, UInt16)] { edge(start, lo, hi, end) }
        edge(start, 0xC2, 0xDF, need1)
        edge(start, 0xE1, 0xEC, need2)
        edge(start, 0xEE, 0xEF, need2)
        edge(start, 0xF1, 0xF3, need3)
        let e0 = try node(), ed = try node(), f0 = try node(), f4 = try node()
        edge(start, 0xE0, 0xE0, e0); edge(e0, 0xA0, 0xBF, need1)   // no overlong 3-byte forms
        edge(start, 0xED, 0xED, ed); edge(ed, 0x80, 0x9F, need1)   // no surrogates
        edge(start, 0xF0, 0xF0, f0); edge(f0, 0x90, 0xBF, need2)   // no overlong 4-byte forms
        edge(start, 0xF4, 0xF4, f4); edge(f4, 0x80, 0x8F, need2)   // nothing above U+10FFFF
        // Escapes: \" \\ \/ \b \f \n \r \t, or \uXXXX without surrogates (D800-DFFF).
        let esc = try node(), u = try node(), hex1 = try node(), hex2 = try node(), hex3 = try node(), d = try node()
        edge(start, 0x5C, 0x5C, esc)
        for c in Array("\"\\/bfnrt".utf8) { edge(esc, UInt16(c), UInt16(c), end) }
        edge(esc, 0x75, 0x75, u)
        let hex: [(UInt16, UInt16)] = [(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)]
        for (lo, hi) in [(0x30, 0x39), (0x41, 0x43), (0x45, 0x46), (0x61, 0x63), (0x65, 0x66)] as [(UInt16, UInt16)] {
            edge(u, lo, hi, hex1)
        }
        edge(u, 0x44, 0x44, d); edge(u, 0x64, 0x64, d)
        edge(d, 0x30, 0x37, hex2)
        for (lo, hi) in hex { edge(hex1, lo, hi, hex2); edge(hex2, lo, hi, hex3); edge(hex3, lo, hi, end) }
        return Frag(start: start, end: end)
    }

    /// A JSON string of `min...max` characters (max nil: unbounded).
    mutating func jsonString(min: Int = 0, max: Int? = nil) throws -> Frag {
        let body: Frag
        if let max, max == 0 {
            body = try empty()
        } else {
            body = try repeated(min: min, max: max, separator: { try $0.empty() }) { try $0.stringChar() }
        }
        return try seq([try literal("\""), body, try literal("\"")])
    }

    /// `count` to `max` digits.
    mutating func digits(min: Int, max: Int) throws -> Frag {
        try repeated(min: min, max: max, separator: { try $0.empty() }) { try $0.byteRange(0x30, 0x39) }
    }

    /// Any JSON number within the digit limits.
    mutating func jsonNumber() throws -> Frag {
        let intPart = try alt([try literal("0"),
                               try seq([try byteRange(0x31, 0x39), try digits(min: 0, max: JSONLimits.maxIntegerDigits - 1)])])
        let frac = try optional(try seq([try literal("."), try digits(min: 1, max: JSONLimits.maxFractionDigits)]))
        let exp = try optional(try seq([try oneOf([(0x45, 0x45), (0x65, 0x65)]), try optional(try oneOf([(0x2B, 0x2B), (0x2D, 0x2D)])),
                                        try digits(min: 1, max: JSONLimits.maxExponentDigits)]))
        return try seq([try optional(try literal("-")), intPart, frac, exp])
    }

    /// The free-form JSON value rule body: calls `valueRule` for nested values.
    mutating func anyValue(call: UInt16) throws -> Frag {
        let member = try seq([try jsonString(), try padded(":"), try symbol(call)])
        let object = try seq([try literal("{"), try ws(), try alt([
            try literal("}"),
            try seq([member, try star(try seq([try padded(","), try seq([try jsonString(), try padded(":"), try symbol(call)])])),
                     try ws(), try literal("}")]),
        ])])
        let array = try seq([try literal("["), try ws(), try alt([
            try literal("]"),
            try seq([try symbol(call), try star(try seq([try padded(","), try symbol(call)])), try ws(), try literal("]")]),
        ])])
        return try alt([object, array, try jsonString(), try jsonNumber(),
                        try literal("true"), try literal("false"), try literal("null")])
    }

    /// A free-form value at the depth limit: scalars and empty containers only (no calls).
    mutating func anyLeaf() throws -> Frag {
        try alt([try jsonString(), try jsonNumber(), try literal("true"), try literal("false"), try literal("null"),
                 try seq([try literal("{"), try ws(), try literal("}")]), try seq([try literal("["), try ws(), try literal("]")])])
    }
}
