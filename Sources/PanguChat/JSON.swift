// JSON <-> JinjaValue: an order-preserving parser and a serializer byte-compatible with Python's json.dumps.
import Foundation

/// Errors from ``JSONCoding/parse(_:)``.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public let message: String
    /// Offset in unicode scalars where parsing failed.
    public let offset: Int
    /// Human-readable description.
    public var description: String { "JSON parse error at \(offset): \(message)" }
}

/// Options of Python's `json.dumps` that Hugging Face's `tojson` filter exposes.
public struct JSONDumpOptions: Sendable {
    /// Escape non-ASCII as `\uXXXX` (HF's `tojson` default is `false`).
    public var ensureASCII = false
    /// Indentation string per level; `nil` means single-line output.
    public var indent: String? = nil
    /// Item separator (Python default `", "`, or `","` when indenting).
    public var itemSeparator: String? = nil
    /// Key separator (Python default `": "`).
    public var keySeparator: String? = nil
    /// Sort dictionary keys.
    public var sortKeys = false
    /// Default options: HF `tojson` with no arguments.
    public init() {}
}

/// JSON helpers used by templates (`tojson`), tool-call parsing and tests.
public enum JSONCoding {
    /// Parses JSON text into a ``JinjaValue`` keeping object key order and int/float distinction.
    public static func parse(_ text: String) throws -> JinjaValue {
        var p = JSONParser(scalars: Array(text.unicodeScalars))
        p.skipWS()
        let v = try p.value()
        p.skipWS()
        if p.pos != p.scalars.count { throw JSONParseError(message: "trailing data", offset: p.pos) }
        return v
    }

    /// Serializes like Python `json.dumps(value, ensure_ascii=…, indent=…, separators=…, sort_keys=…)`.
    public static func dumps(_ value: JinjaValue, options: JSONDumpOptions = JSONDumpOptions()) throws -> String {
        var out = ""
        let item = options.itemSeparator ?? (options.indent == nil ? ", " : ",")
        let key = options.keySeparator ?? ": "
        try write(value, into: &out, options: options, item: item, key: key, level: 0)
        return out
    }

    private static func write(_ v: JinjaValue, into out: inout String, options: JSONDumpOptions, item: String,
                              key: String, level: Int) throws {
        switch v {
        case .none: out += "null"
        case let .bool(b): out += b ? "true" : "false"
        case let .int(i): out += String(i)
        case let .double(d):
            if d.isNaN { out += "NaN" } else if d.isInfinite { out += d < 0 ? "-Infinity" : "Infinity" } else {
                out += pythonFloatRepr(d)
            }
        case let .string(s): out += quote(s, ascii: options.ensureASCII)
        case let .array(a), let .tuple(a):
            if a.isEmpty { out += "[]"; return }
            out += "["
            for (i, x) in a.enumerated() {
                if i > 0 { out += item }
                newline(&out, options, level + 1)
                try write(x, into: &out, options: options, item: item, key: key, level: level + 1)
            }
            newline(&out, options, level)
            out += "]"
        case let .dict(d):
            if d.count == 0 { out += "{}"; return }
            out += "{"
            var pairs = d.pairs
            if options.sortKeys { pairs.sort { $0.0.unicodeScalars.lexicographicallyPrecedes($1.0.unicodeScalars) } }
            for (i, (k, x)) in pairs.enumerated() {
                if i > 0 { out += item }
                newline(&out, options, level + 1)
                out += quote(k, ascii: options.ensureASCII) + key
                try write(x, into: &out, options: options, item: item, key: key, level: level + 1)
            }
            newline(&out, options, level)
            out += "}"
        case .undefined:
            throw TemplateRuntimeFailure("Object of type Undefined is not JSON serializable")
        case .namespace:
            throw TemplateRuntimeFailure("Object of type Namespace is not JSON serializable")
        case .callable:
            throw TemplateRuntimeFailure("Object of type function is not JSON serializable")
        case let .iterator(it):
            throw TemplateRuntimeFailure("Object of type \(it.kind.rawValue) is not JSON serializable")
        }
    }

    private static func newline(_ out: inout String, _ o: JSONDumpOptions, _ level: Int) {
        guard let ind = o.indent else { return }
        out += "\n" + String(repeating: ind, count: level)
    }

    /// JSON string literal with Python's escaping rules (`ascii`: non-ASCII as `\u` escapes, like `ensure_ascii`).
    public static func quote(_ s: String, ascii: Bool = false) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if u.value < 0x20 || (ascii && u.value > 0x7e) {
                    if u.value > 0xFFFF {
                        let v = u.value - 0x10000
                        out += String(format: "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF))
                    } else {
                        out += String(format: "\\u%04x", u.value)
                    }
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}

/// Internal error thrown by value helpers; converted to ``ChatTemplateError`` with a source position.
struct TemplateRuntimeFailure: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

private struct JSONParser {
    let scalars: [Unicode.Scalar]
    var pos = 0
    var depth = 0
    static let maxDepth = 200

    init(scalars: [Unicode.Scalar]) { self.scalars = scalars }

    func fail(_ m: String) -> JSONParseError { JSONParseError(message: m, offset: pos) }

    mutating func skipWS() {
        while pos < scalars.count, [" ", "\n", "\r", "\t"].contains(scalars[pos]) { pos += 1 }
    }

    mutating func literal(_ word: String, _ v: JinjaValue) throws -> JinjaValue {
        for c in word.unicodeScalars {
            guard pos < scalars.count, scalars[pos] == c else { throw fail("invalid literal") }
            pos += 1
        }
        return v
    }

    mutating func value() throws -> JinjaValue {
        guard pos < scalars.count else { throw fail("unexpected end") }
        let isContainer = scalars[pos] == "{" || scalars[pos] == "["
        if isContainer {
            depth += 1
            if depth > JSONParser.maxDepth { throw fail("nesting deeper than \(JSONParser.maxDepth)") }
        }
        defer { if isContainer { depth -= 1 } }
        switch scalars[pos] {
        case "{":
            pos += 1
            var d = OrderedDictionary()
            skipWS()
            if pos < scalars.count, scalars[pos] == "}" { pos += 1; return .dict(d) }
            while true {
                skipWS()
                guard pos < scalars.count, scalars[pos] == "\"" else { throw fail("expected key") }
                let k = try string()
                skipWS()
                guard pos < scalars.count, scalars[pos] == ":" else { throw fail("expected ':'") }
                pos += 1
                skipWS()
                d[k] = try value()
                skipWS()
                guard pos < scalars.count else { throw fail("unexpected end") }
                if scalars[pos] == "," { pos += 1; continue }
                if scalars[pos] == "}" { pos += 1; return .dict(d) }
                throw fail("expected ',' or '}'")
            }
        case "[":
            pos += 1
            var a: [JinjaValue] = []
            skipWS()
            if pos < scalars.count, scalars[pos] == "]" { pos += 1; return .array(a) }
            while true {
                skipWS()
                a.append(try value())
                skipWS()
                guard pos < scalars.count else { throw fail("unexpected end") }
                if scalars[pos] == "," { pos += 1; continue }
                if scalars[pos] == "]" { pos += 1; return .array(a) }
                throw fail("expected ',' or ']'")
            }
        case "\"": return .string(try string())
        case "t": return try literal("true", .bool(true))
        case "f": return try literal("false", .bool(false))
        case "n": return try literal("null", .none)
        case "N": return try literal("NaN", .double(.nan))
        case "I": return try literal("Infinity", .double(.infinity))
        default: return try number()
        }
    }

    mutating func number() throws -> JinjaValue {
        let start = pos
        var isFloat = false
        if pos < scalars.count, scalars[pos] == "-" {
            pos += 1
            if pos < scalars.count, scalars[pos] == "I" { _ = try literal("Infinity", .none); return .double(-.infinity) }
        }
        let digitsStart = pos
        while pos < scalars.count, let c = scalars.at(pos), ("0"..."9").contains(c) { pos += 1 }
        if pos == digitsStart { throw fail("invalid value") }
        if pos < scalars.count, scalars[pos] == "." {
            isFloat = true
            pos += 1
            let f = pos
            while pos < scalars.count, ("0"..."9").contains(scalars[pos]) { pos += 1 }
            if pos == f { throw fail("invalid number") }
        }
        if pos < scalars.count, scalars[pos] == "e" || scalars[pos] == "E" {
            isFloat = true
            pos += 1
            if pos < scalars.count, scalars[pos] == "+" || scalars[pos] == "-" { pos += 1 }
            let f = pos
            while pos < scalars.count, ("0"..."9").contains(scalars[pos]) { pos += 1 }
            if pos == f { throw fail("invalid number") }
        }
        var text = ""
        text.unicodeScalars.append(contentsOf: scalars[start..<pos])
        if !isFloat, let i = Int(text) { return .int(i) }
        guard let d = Double(text) else { throw fail("invalid number") }
        return .double(d)
    }

    mutating func hex4() throws -> UInt32 {
        guard pos + 4 <= scalars.count else { throw fail("bad \\u escape") }
        var s = ""
        s.unicodeScalars.append(contentsOf: scalars[pos..<pos + 4])
        guard let v = UInt32(s, radix: 16) else { throw fail("bad \\u escape") }
        pos += 4
        return v
    }

    mutating func string() throws -> String {
        pos += 1  // opening quote
        var out = String.UnicodeScalarView()
        while true {
            guard pos < scalars.count else { throw fail("unterminated string") }
            let c = scalars[pos]
            pos += 1
            if c == "\"" { return String(out) }
            if c == "\\" {
                guard pos < scalars.count else { throw fail("unterminated string") }
                let e = scalars[pos]
                pos += 1
                switch e {
                case "\"": out.append("\"")
                case "\\": out.append("\\")
                case "/": out.append("/")
                case "b": out.append("\u{08}")
                case "f": out.append("\u{0C}")
                case "n": out.append("\n")
                case "r": out.append("\r")
                case "t": out.append("\t")
                case "u":
                    var v = try hex4()
                    if v >= 0xD800 && v < 0xDC00, pos + 6 <= scalars.count, scalars[pos] == "\\", scalars[pos + 1] == "u" {
                        let save = pos
                        pos += 2
                        let lo = try hex4()
                        if lo >= 0xDC00 && lo < 0xE000 {
                            v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00)
                        } else { pos = save }
                    }
                    out.append(Unicode.Scalar(v) ?? "\u{FFFD}")
                default: throw fail("invalid escape")
                }
            } else {
                out.append(c)
            }
        }
    }
}

extension Array {
    fileprivate func at(_ i: Int) -> Element? { i < count ? self[i] : nil }
}
