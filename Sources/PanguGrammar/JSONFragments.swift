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
        let ascii = try oneOf([(0x20, 0x21), (0x23, 0x5B), (0x5D, 0x7F)])
        let cont = { (b: inout NFABuilder) in try b.byteRange(0x80, 0xBF) }
        let two = try seq([try byteRange(0xC2, 0xDF), try cont(&self)])
        let three = try alt([
            try seq([try literal([0xE0]), try byteRange(0xA0, 0xBF), try cont(&self)]),
            try seq([try oneOf([(0xE1, 0xEC), (0xEE, 0xEF)]), try cont(&self), try cont(&self)]),
            try seq([try literal([0xED]), try byteRange(0x80, 0x9F), try cont(&self)]),
        ])
        let four = try alt([
            try seq([try literal([0xF0]), try byteRange(0x90, 0xBF), try cont(&self), try cont(&self)]),
            try seq([try byteRange(0xF1, 0xF3), try cont(&self), try cont(&self), try cont(&self)]),
            try seq([try literal([0xF4]), try byteRange(0x80, 0x8F), try cont(&self), try cont(&self)]),
        ])
        let hex: [(UInt16, UInt16)] = [(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)]
        let simple = try oneOf([(0x22, 0x22), (0x5C, 0x5C), (0x2F, 0x2F), (0x62, 0x62), (0x66, 0x66), (0x6E, 0x6E),
                                (0x72, 0x72), (0x74, 0x74)])
        let notD = try seq([try oneOf([(0x30, 0x39), (0x41, 0x43), (0x45, 0x46), (0x61, 0x63), (0x65, 0x66)]),
                            try oneOf(hex), try oneOf(hex), try oneOf(hex)])
        let d = try seq([try oneOf([(0x44, 0x44), (0x64, 0x64)]), try byteRange(0x30, 0x37), try oneOf(hex), try oneOf(hex)])
        let unicode = try seq([try literal("u"), try alt([notD, d])])
        let escape = try seq([try literal("\\"), try alt([simple, unicode])])
        return try alt([ascii, two, three, four, escape])
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
