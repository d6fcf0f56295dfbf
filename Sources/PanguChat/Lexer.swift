// Jinja lexer: splits template source into text and tag tokens, applying jinja2's whitespace rules
// (`-`/`+` markers, trim_blocks, lstrip_blocks, trailing-newline removal) the way Hugging Face configures them.
import Foundation

/// An error raised while lexing, parsing or rendering a chat template, with a 1-based source position.
public struct ChatTemplateError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Error text (for `raise_exception(msg)` this is exactly `msg`).
    public let message: String
    /// 1-based line of the construct that failed (0 when unknown).
    public let line: Int
    /// 1-based column of the construct that failed (0 when unknown).
    public let column: Int
    /// True when the error came from the template calling `raise_exception`.
    public let raisedByTemplate: Bool

    /// Creates an error.
    public init(_ message: String, line: Int = 0, column: Int = 0, raisedByTemplate: Bool = false) {
        self.message = message
        self.line = line
        self.column = column
        self.raisedByTemplate = raisedByTemplate
    }

    /// "line L, column C: message".
    public var description: String { "chat template error at line \(line), column \(column): \(message)" }
}

/// Source position of a token or node.
struct SourcePos: Sendable {
    var line: Int
    var column: Int
}

/// Lexical token kinds.
enum TokenKind: Equatable, Sendable {
    case text(String)
    case varBegin, varEnd, blockBegin, blockEnd
    case name(String)
    case string(String)
    case int(Int)
    case float(Double)
    case op(String)
    case eof
}

/// A token with its position.
struct Token: Sendable {
    var kind: TokenKind
    var pos: SourcePos
}

/// Whitespace behaviour of the environment.
struct LexerOptions: Sendable {
    var trimBlocks = true
    var lstripBlocks = true
    var keepTrailingNewline = false
}

struct Lexer {
    private var src: [Unicode.Scalar] = []
    private var i = 0
    private var lineStarts: [Int] = [0]
    private let options: LexerOptions
    private(set) var tokens: [Token] = []

    init(_ source: String, options: LexerOptions) {
        self.options = options
        // Normalise newlines and drop one trailing newline, as jinja2 does.
        var text = source.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        if !options.keepTrailingNewline && text.hasSuffix("\n") { text.removeLast() }
        src = Array(text.unicodeScalars)
        for (k, c) in src.enumerated() where c == "\n" { lineStarts.append(k + 1) }
    }

    func position(_ offset: Int) -> SourcePos {
        var lo = 0, hi = lineStarts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if lineStarts[mid] <= offset { lo = mid } else { hi = mid - 1 }
        }
        return SourcePos(line: lo + 1, column: offset - lineStarts[lo] + 1)
    }

    private func fail(_ m: String, _ at: Int) -> ChatTemplateError {
        let p = position(at)
        return ChatTemplateError(m, line: p.line, column: p.column)
    }

    private func isWS(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace }

    private func at(_ k: Int) -> Unicode.Scalar? { k < src.count ? src[k] : nil }

    private func matches(_ s: String, _ k: Int) -> Bool {
        var p = k
        for c in s.unicodeScalars {
            guard p < src.count, src[p] == c else { return false }
            p += 1
        }
        return true
    }

    private mutating func emitText(_ a: Int, _ b: Int) {
        guard b > a else { return }
        var s = ""
        s.unicodeScalars.append(contentsOf: src[a..<b])
        tokens.append(Token(kind: .text(s), pos: position(a)))
    }

    /// Tokenizes the whole source.
    mutating func run() throws -> [Token] {
        var lineStarting = true
        while i < src.count {
            // Find next tag opener.
            var j = i
            var found = -1
            while j + 1 < src.count {
                if src[j] == "{", let n = at(j + 1), n == "{" || n == "%" || n == "#" { found = j; break }
                j += 1
            }
            if found < 0 { emitText(i, src.count); i = src.count; break }
            let kind = src[found + 1]
            var textEnd = found
            let sign = at(found + 2)
            var body = found + 2
            if sign == "-" {
                while textEnd > i && isWS(src[textEnd - 1]) { textEnd -= 1 }
                body += 1
            } else if sign == "+" {
                body += 1
            }
            if sign != "-" && sign != "+" && options.lstripBlocks && kind != "{" {
                var l = textEnd
                while l > i && src[l - 1] != "\n" { l -= 1 }
                let hasNewline = l > i
                if (hasNewline || lineStarting) && l < textEnd && src[l..<textEnd].allSatisfy(isWS) { textEnd = l }
            }
            emitText(i, textEnd)
            i = body
            switch kind {
            case "#":
                var k = i
                while k + 1 < src.count && !(src[k] == "#" && src[k + 1] == "}") { k += 1 }
                if k + 1 >= src.count { throw fail("Missing end of comment tag", found) }
                let endSign = k > i ? src[k - 1] : nil
                i = k + 2
                lineStarting = finishTag(endSign: endSign, trim: true)
            case "%":
                if try lexRaw(openAt: found) { lineStarting = src[i - 1] == "\n"; continue }
                tokens.append(Token(kind: .blockBegin, pos: position(found)))
                try lexExpression(block: true, openAt: found)
                lineStarting = src[i - 1] == "\n"
            default:
                tokens.append(Token(kind: .varBegin, pos: position(found)))
                try lexExpression(block: false, openAt: found)
                lineStarting = src[i - 1] == "\n"
            }
        }
        tokens.append(Token(kind: .eof, pos: position(src.count)))
        return tokens
    }

    /// After an end delimiter at `i`: apply `-` (strip all whitespace) or trim_blocks (one newline).
    private mutating func finishTag(endSign: Unicode.Scalar?, trim: Bool) -> Bool {
        if endSign == "-" {
            while i < src.count && isWS(src[i]) { i += 1 }
        } else if endSign != "+" && trim && options.trimBlocks && at(i) == "\n" {
            i += 1
        }
        return i > 0 && src[i - 1] == "\n"
    }

    /// `{% raw %}…{% endraw %}`; returns false when the block tag is not `raw`.
    private mutating func lexRaw(openAt: Int) throws -> Bool {
        var k = i
        while let c = at(k), isWS(c) { k += 1 }
        guard matches("raw", k) else { return false }
        k += 3
        while let c = at(k), isWS(c) { k += 1 }
        var stripAfter = false
        if at(k) == "-" { stripAfter = true; k += 1 }
        guard matches("%}", k) else { return false }
        k += 2
        if stripAfter { while let c = at(k), isWS(c) { k += 1 } }
        let contentStart = k
        while k < src.count {
            if matches("{%", k) {
                var m = k + 2
                let sign = at(m)
                if sign == "-" || sign == "+" { m += 1 }
                while let c = at(m), isWS(c) { m += 1 }
                if matches("endraw", m) {
                    m += 6
                    while let c = at(m), isWS(c) { m += 1 }
                    var endSign: Unicode.Scalar? = nil
                    if at(m) == "-" || at(m) == "+" { endSign = at(m); m += 1 }
                    guard matches("%}", m) else { throw fail("invalid endraw tag", k) }
                    var contentEnd = k
                    if sign == "-" {
                        while contentEnd > contentStart && isWS(src[contentEnd - 1]) { contentEnd -= 1 }
                    } else if sign != "+" && options.lstripBlocks {
                        // lstrip_blocks applies to `{% endraw %}` like any block tag.
                        var l = contentEnd
                        while l > contentStart && src[l - 1] != "\n" { l -= 1 }
                        let lineStarting = l > contentStart || (contentStart > 0 && src[contentStart - 1] == "\n")
                        if lineStarting && l < contentEnd && src[l..<contentEnd].allSatisfy(isWS) { contentEnd = l }
                    }
                    emitText(contentStart, contentEnd)
                    i = m + 2
                    _ = finishTag(endSign: endSign, trim: true)
                    return true
                }
            }
            k += 1
        }
        throw fail("Missing end of raw directive", openAt)
    }

    private mutating func lexExpression(block: Bool, openAt: Int) throws {
        var depth: [Unicode.Scalar] = []
        while true {
            while let c = at(i), isWS(c) { i += 1 }
            guard i < src.count else {
                throw fail(block ? "Unexpected end of template. Missing '%}'." : "unexpected end of template, expected '}}'", openAt)
            }
            if depth.isEmpty {
                let close = block ? "%}" : "}}"
                if matches(close, i) {
                    tokens.append(Token(kind: block ? .blockEnd : .varEnd, pos: position(i)))
                    i += 2
                    _ = finishTag(endSign: nil, trim: block)
                    return
                }
                if (src[i] == "-" || (block && src[i] == "+")) && matches(close, i + 1) {
                    tokens.append(Token(kind: block ? .blockEnd : .varEnd, pos: position(i)))
                    let s = src[i]
                    i += 3
                    _ = finishTag(endSign: s, trim: block)
                    return
                }
            }
            let start = i
            let c = src[i]
            let p = position(start)
            if c == "_" || c.properties.isAlphabetic {
                while let d = at(i), d == "_" || d.properties.isAlphabetic || ("0"..."9").contains(d) { i += 1 }
                var s = ""
                s.unicodeScalars.append(contentsOf: src[start..<i])
                tokens.append(Token(kind: .name(s), pos: p))
            } else if ("0"..."9").contains(c) {
                tokens.append(Token(kind: try number(), pos: p))
            } else if c == "'" || c == "\"" {
                tokens.append(Token(kind: .string(try stringLiteral(quote: c)), pos: p))
            } else {
                let ops = ["//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", ".", ",",
                           ":", "|", "(", ")", "[", "]", "{", "}"]
                guard let op = ops.first(where: { matches($0, i) }) else {
                    throw fail("unexpected char \(pythonStringRepr(String(Character(c)))) at \(start)", start)
                }
                if op == "(" || op == "[" || op == "{" { depth.append(op.unicodeScalars.first!) }
                if op == ")" || op == "]" || op == "}" {
                    let want: Unicode.Scalar = op == ")" ? "(" : op == "]" ? "[" : "{"
                    guard depth.last == want else { throw fail("unexpected '\(op)'", start) }
                    depth.removeLast()
                }
                i += op.unicodeScalars.count
                tokens.append(Token(kind: .op(op), pos: p))
            }
        }
    }

    private mutating func number() throws -> TokenKind {
        let start = i
        func digits() { while let d = at(i), ("0"..."9").contains(d) || (d == "_" && at(i + 1).map { ("0"..."9").contains($0) } == true) { i += 1 } }
        digits()
        var isFloat = false
        if at(i) == ".", let d = at(i + 1), ("0"..."9").contains(d) { isFloat = true; i += 1; digits() }
        if let e = at(i), e == "e" || e == "E" {
            var k = i + 1
            if at(k) == "+" || at(k) == "-" { k += 1 }
            if let d = at(k), ("0"..."9").contains(d) { isFloat = true; i = k; digits() }
        }
        var s = ""
        s.unicodeScalars.append(contentsOf: src[start..<i].filter { $0 != "_" })
        if isFloat { return .float(Double(s) ?? 0) }
        guard let v = Int(s) else { throw fail("integer literal too large", start) }
        return .int(v)
    }

    private mutating func stringLiteral(quote: Unicode.Scalar) throws -> String {
        let start = i
        i += 1
        var out = String.UnicodeScalarView()
        while true {
            guard let c = at(i) else { throw fail("unexpected end of string", start) }
            i += 1
            if c == quote { return String(out) }
            if c != "\\" { out.append(c); continue }
            guard let e = at(i) else { throw fail("unexpected end of string", start) }
            i += 1
            switch e {
            case "n": out.append("\n")
            case "t": out.append("\t")
            case "r": out.append("\r")
            case "\\": out.append("\\")
            case "'": out.append("'")
            case "\"": out.append("\"")
            case "0": out.append("\0")
            case "a": out.append("\u{07}")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "v": out.append("\u{0B}")
            case "\n": break
            case "x", "u", "U":
                let n = e == "x" ? 2 : e == "u" ? 4 : 8
                var h = ""
                for _ in 0..<n { if let d = at(i) { h.unicodeScalars.append(d); i += 1 } }
                guard let v = UInt32(h, radix: 16), let u = Unicode.Scalar(v) else { throw fail("bad escape", start) }
                out.append(u)
            default:
                out.append("\\")
                out.append(e)
            }
        }
    }
}
