// Python methods on str / dict / list reachable from templates, and the global functions Hugging Face exposes.
import Foundation

/// Argument helper: positional index or keyword name, else default.
struct Args {
    let positional: [JinjaValue]
    let keywords: [(String, JinjaValue)]
    init(_ p: [JinjaValue], _ k: [(String, JinjaValue)]) { positional = p; keywords = k }
    subscript(_ i: Int, _ name: String) -> JinjaValue? {
        if i < positional.count { return positional[i] }
        return keywords.first { $0.0 == name }?.1
    }
}

func pyIsSpace(_ u: Unicode.Scalar) -> Bool {
    u.properties.isWhitespace || (0x1C...0x1F).contains(u.value)
}

/// Python `str.strip(chars)` family. `mode`: 0 both, 1 left, 2 right.
func pyStrip(_ s: String, _ chars: JinjaValue?, mode: Int) throws -> String {
    var set: ((Unicode.Scalar) -> Bool) = pyIsSpace
    if let chars, case let .string(c) = chars {
        let cs = Set(c.unicodeScalars)
        set = { cs.contains($0) }
    } else if let chars, !(chars == .none) {
        throw TemplateRuntimeFailure("strip arg must be None or str")
    }
    let u = Array(s.unicodeScalars)
    var a = 0, b = u.count
    if mode != 2 { while a < b && set(u[a]) { a += 1 } }
    if mode != 1 { while b > a && set(u[b - 1]) { b -= 1 } }
    var out = String.UnicodeScalarView()
    out.append(contentsOf: u[a..<b])
    return String(out)
}

/// Index of `needle` in `hay` at or after `from`, comparing unicode scalars (Python `str.find`).
func scalarIndex(_ hay: [Unicode.Scalar], _ needle: [Unicode.Scalar], from: Int = 0) -> Int? {
    guard !needle.isEmpty else { return from <= hay.count ? from : nil }
    guard hay.count >= needle.count, from <= hay.count - needle.count else { return nil }
    var i = from
    while i <= hay.count - needle.count {
        if hay[i] == needle[0] && hay[i..<i + needle.count].elementsEqual(needle) { return i }
        i += 1
    }
    return nil
}

private func scalarString(_ s: ArraySlice<Unicode.Scalar>) -> String {
    var v = String.UnicodeScalarView()
    v.append(contentsOf: s)
    return String(v)
}

/// Python `str.split(sep, maxsplit)`.
func pySplit(_ s: String, _ sep: JinjaValue?, _ maxsplit: Int) throws -> [String] {
    if let sep, case let .string(sp) = sep {
        if sp.isEmpty { throw TemplateRuntimeFailure("empty separator") }
        var parts: [String] = []
        let hay = Array(s.unicodeScalars), needle = Array(sp.unicodeScalars)
        var pos = 0
        while maxsplit < 0 || parts.count < maxsplit, let r = scalarIndex(hay, needle, from: pos) {
            parts.append(scalarString(hay[pos..<r]))
            pos = r + needle.count
        }
        parts.append(scalarString(hay[pos...]))
        return parts
    }
    var parts: [String] = []
    var cur = String.UnicodeScalarView()
    var inWord = false
    let u = Array(s.unicodeScalars)
    var i = 0
    while i < u.count {
        let c = u[i]
        if pyIsSpace(c) {
            if inWord { parts.append(String(cur)); cur = String.UnicodeScalarView(); inWord = false }
        } else {
            if !inWord && maxsplit >= 0 && parts.count == maxsplit {
                var tail = String.UnicodeScalarView()
                tail.append(contentsOf: u[i...])
                parts.append(try pyStrip(String(tail), nil, mode: 2))
                return parts
            }
            inWord = true
            cur.append(c)
        }
        i += 1
    }
    if inWord { parts.append(String(cur)) }
    return parts
}

private func isCased(_ c: Character) -> Bool { c.isUppercase || c.isLowercase }

/// Python `str.islower()`.
func pyIsLower(_ s: String) -> Bool { s.contains(where: isCased) && s.lowercased() == s }

/// Python `str.isupper()`.
func pyIsUpper(_ s: String) -> Bool { s.contains(where: isCased) && s.uppercased() == s }

/// Python `str.title()`.
func pyTitle(_ s: String) -> String {
    var out = ""
    var prevCased = false
    for c in s {
        if isCased(c) { out += prevCased ? c.lowercased() : c.uppercased(); prevCased = true } else {
            out.append(c)
            prevCased = false
        }
    }
    return out
}

/// Python `str.capitalize()`: first character titlecased, the rest lowercased.
func pyCapitalize(_ s: String) -> String {
    guard let f = s.unicodeScalars.first else { return s }
    var rest = String.UnicodeScalarView()
    rest.append(contentsOf: s.unicodeScalars.dropFirst())
    return f.properties.titlecaseMapping + String(rest).lowercased()
}

private func toStr(_ v: JinjaValue?, _ what: String) throws -> String {
    guard let v, case let .string(s) = v else { throw TemplateRuntimeFailure("\(what) must be str, not \(v?.typeName ?? "nothing")") }
    return s
}

private func intArg(_ v: JinjaValue?, _ dflt: Int) throws -> Int {
    guard let v else { return dflt }
    if case .none = v { return dflt }
    guard case let .int(i)? = v.numeric else { throw TemplateRuntimeFailure("'\(v.typeName)' object cannot be interpreted as an integer") }
    return i
}

/// Bound Python method `value.name`, or nil when the type has no such method.
func boundMethod(_ v: JinjaValue, _ name: String) -> JinjaValue? {
    func m(_ body: @escaping (Args) throws -> JinjaValue) -> JinjaValue {
        .callable(JinjaCallable(name: name) { p, k in try body(Args(p, k)) })
    }
    switch v {
    case let .string(s):
        switch name {
        case "strip": return m { .string(try pyStrip(s, $0[0, "chars"], mode: 0)) }
        case "lstrip": return m { .string(try pyStrip(s, $0[0, "chars"], mode: 1)) }
        case "rstrip": return m { .string(try pyStrip(s, $0[0, "chars"], mode: 2)) }
        case "upper": return m { _ in .string(s.uppercased()) }
        case "lower": return m { _ in .string(s.lowercased()) }
        case "title": return m { _ in .string(pyTitle(s)) }
        case "capitalize": return m { _ in .string(pyCapitalize(s)) }
        case "split":
            return m { a in .array(try pySplit(s, a[0, "sep"], try intArg(a[1, "maxsplit"], -1)).map { .string($0) }) }
        case "rsplit":
            return m { a in
                let maxsplit = try intArg(a[1, "maxsplit"], -1)
                let all = try pySplit(s, a[0, "sep"], -1)
                guard maxsplit >= 0, all.count > maxsplit + 1, let sepV = a[0, "sep"], case let .string(sep) = sepV else {
                    return .array(all.map { .string($0) })
                }
                let head = all[0..<(all.count - maxsplit)].joined(separator: sep)
                return .array(([head] + all[(all.count - maxsplit)...]).map { .string($0) })
            }
        case "splitlines":
            return m { _ in
                var lines = s.components(separatedBy: "\n")
                if lines.last == "" { lines.removeLast() }
                return .array(lines.map { .string($0) })
            }
        case "startswith", "endswith":
            return m { a in
                let pre = a[0, "prefix"] ?? .none
                let cands: [JinjaValue]
                if let xs = pre.sequenceItems { cands = xs } else { cands = [pre] }
                for c in cands {
                    let t = try toStr(c, "\(name) first arg")
                    if name == "startswith" ? s.unicodeScalars.starts(with: t.unicodeScalars)
                        : s.unicodeScalars.reversed().starts(with: t.unicodeScalars.reversed()) { return .bool(true) }
                }
                return .bool(false)
            }
        case "replace":
            return m { a in
                let old = try toStr(a[0, "old"], "replace arg"), new = try toStr(a[1, "new"], "replace arg")
                return .string(pyReplace(s, old, new, try intArg(a[2, "count"], -1)))
            }
        case "find", "rfind", "index", "rindex", "count":
            return m { a in
                let sub = try toStr(a[0, "sub"], "\(name) arg")
                let u = Array(s.unicodeScalars), t = Array(sub.unicodeScalars)
                var hits: [Int] = []
                var i = 0
                while i + t.count <= u.count {
                    if Array(u[i..<i + t.count]) == t { hits.append(i); if name == "count" { i += max(t.count, 1); continue } }
                    i += 1
                }
                switch name {
                case "count": return .int(hits.count)
                case "find": return .int(hits.first ?? -1)
                case "rfind": return .int(hits.last ?? -1)
                default:
                    guard let h = name == "index" ? hits.first : hits.last else { throw TemplateRuntimeFailure("substring not found") }
                    return .int(h)
                }
            }
        case "join":
            return m { a in .string(try iterate(a[0, "iterable"] ?? .array([])).map { try toStr($0, "sequence item") }.joined(separator: s)) }
        case "isdigit", "isnumeric", "isdecimal":
            return m { _ in .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.numericType != nil }) }
        case "isalpha": return m { _ in .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic }) }
        case "isspace": return m { _ in .bool(!s.isEmpty && s.unicodeScalars.allSatisfy(pyIsSpace)) }
        case "isupper": return m { _ in .bool(pyIsUpper(s)) }
        case "islower": return m { _ in .bool(pyIsLower(s)) }
        case "format": return m { a in .string(try pyFormat(s, a)) }
        case "center", "ljust", "rjust", "zfill":
            return m { a in
                let width = try intArg(a[0, "width"], 0)
                let fill = name == "zfill" ? "0" : (a[1, "fillchar"].map(\.stringValue) ?? " ")
                let n = s.unicodeScalars.count
                guard width > n else { return .string(s) }
                let pad = width - n
                switch name {
                case "ljust": return .string(s + String(repeating: fill, count: pad))
                case "rjust": return .string(String(repeating: fill, count: pad) + s)
                case "zfill":
                    if let f = s.unicodeScalars.first, f == "-" || f == "+" {
                        return .string(String(Character(f)) + String(repeating: "0", count: pad) + String(s.unicodeScalars.dropFirst()))
                    }
                    return .string(String(repeating: "0", count: pad) + s)
                default:
                    let left = pad / 2 + (pad & width & 1)
                    return .string(String(repeating: fill, count: left) + s + String(repeating: fill, count: pad - left))
                }
            }
        case "swapcase":
            return m { _ in .string(s.map { $0.isUppercase ? $0.lowercased() : $0.isLowercase ? $0.uppercased() : String($0) }.joined()) }
        case "casefold": return m { _ in .string(s.lowercased()) }
        case "partition", "rpartition":
            return m { a in
                let sep = try toStr(a[0, "sep"], "\(name) arg")
                let hay = Array(s.unicodeScalars), nd = Array(sep.unicodeScalars)
                var at: Int? = nil
                if name == "partition" { at = scalarIndex(hay, nd) } else {
                    var from = 0
                    while let k = scalarIndex(hay, nd, from: from) { at = k; from = k + 1 }
                }
                guard let k = at else {
                    return name == "partition" ? .tuple([.string(s), "", ""]) : .tuple(["", "", .string(s)])
                }
                return .tuple([.string(scalarString(hay[..<k])), .string(sep), .string(scalarString(hay[(k + nd.count)...]))])
            }
        case "istitle": return m { _ in .bool(s.contains(where: isCased) && pyTitle(s) == s) }
        case "isalnum":
            return m { _ in .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil }) }
        default: return nil
        }
    case let .dict(d):
        switch name {
        case "items": return m { _ in .iterator(JinjaIterator(.dictItems, d.pairs.map { .tuple([.string($0.0), $0.1]) })) }
        case "keys": return m { _ in .iterator(JinjaIterator(.dictKeys, d.keys.map { .string($0) })) }
        case "values": return m { _ in .iterator(JinjaIterator(.dictValues, d.values)) }
        case "get":
            return m { a in
                guard let k = a[0, "key"] else { throw TemplateRuntimeFailure("get expected at least 1 argument, got 0") }
                if case let .string(ks) = k, let v = d[ks] { return v }
                return a[1, "default"] ?? .none
            }
        case "copy": return m { _ in v }
        default: return nil
        }
    case let .array(arr), let .tuple(arr):
        switch name {
        case "index":
            return m { a in
                guard let x = a[0, "value"], let i = arr.firstIndex(of: x) else { throw TemplateRuntimeFailure("value is not in list") }
                return .int(i)
            }
        case "count": return m { a in .int(arr.filter { $0 == (a[0, "value"] ?? .none) }.count) }
        case "copy": return m { _ in v }
        default: return nil
        }
    default: return nil
    }
}

func pyReplace(_ s: String, _ old: String, _ new: String, _ count: Int) -> String {
    if old.isEmpty {
        var out = new
        var n = 1
        for c in s.unicodeScalars {
            out.unicodeScalars.append(c)
            if count < 0 || n < count { out += new; n += 1 }
        }
        return count == 0 ? s : out
    }
    var out = ""
    let hay = Array(s.unicodeScalars), needle = Array(old.unicodeScalars)
    var pos = 0
    var n = 0
    while count < 0 || n < count, let r = scalarIndex(hay, needle, from: pos) {
        out += scalarString(hay[pos..<r]) + new
        pos = r + needle.count
        n += 1
    }
    return out + scalarString(hay[pos...])
}

/// Minimal `str.format`: `{}` / `{0}` / `{name}` fields.
private func pyFormat(_ s: String, _ a: Args) throws -> String {
    var out = ""
    var auto = 0
    var it = Array(s)
    var i = 0
    while i < it.count {
        let c = it[i]
        if c == "{" && i + 1 < it.count && it[i + 1] == "{" { out.append("{"); i += 2; continue }
        if c == "}" && i + 1 < it.count && it[i + 1] == "}" { out.append("}"); i += 2; continue }
        if c == "{" {
            guard let close = it[i...].firstIndex(of: "}") else { throw TemplateRuntimeFailure("Single '{' encountered in format string") }
            let field = String(it[(i + 1)..<close])
            let v: JinjaValue?
            if field.isEmpty { v = auto < a.positional.count ? a.positional[auto] : nil; auto += 1 } else if let n = Int(field) {
                v = n < a.positional.count ? a.positional[n] : nil
            } else { v = a.keywords.first { $0.0 == field }?.1 }
            guard let v else { throw TemplateRuntimeFailure("Replacement index out of range") }
            out += v.stringValue
            i = close + 1
            continue
        }
        out.append(c)
        i += 1
    }
    it = []
    return out
}

/// Global functions available to templates: range, namespace, dict, raise_exception, strftime_now.
/// `onNamespace` sees every namespace the template creates (the renderer empties them afterwards: a namespace
/// can hold itself).
func makeGlobals(now: Date, onNamespace: @escaping (JinjaNamespace) -> Void = { _ in }) -> [String: JinjaValue] {
    func f(_ name: String, _ body: @escaping ([JinjaValue], [(String, JinjaValue)]) throws -> JinjaValue) -> JinjaValue {
        .callable(JinjaCallable(name: name, body: body))
    }
    return [
        "range": f("range") { p, _ in
            let ints = try p.map { v -> Int in
                guard case let .int(i)? = v.numeric, !v.isBool || true else {
                    throw TemplateRuntimeFailure("'\(v.typeName)' object cannot be interpreted as an integer")
                }
                return i
            }
            var start = 0, stop = 0, step = 1
            switch ints.count {
            case 1: stop = ints[0]
            case 2: start = ints[0]; stop = ints[1]
            case 3: start = ints[0]; stop = ints[1]; step = ints[2]
            default: throw TemplateRuntimeFailure("range expected at most 3 arguments")
            }
            if step == 0 { throw TemplateRuntimeFailure("range() arg 3 must not be zero") }
            var out: [JinjaValue] = []
            var i = start
            while step > 0 ? i < stop : i > stop {
                out.append(.int(i))
                let (n, overflow) = i.addingReportingOverflow(step)
                if overflow { break }  // Python integers do not overflow; past Int.max the range has ended anyway
                i = n
                if out.count > 100_000 { throw TemplateRuntimeFailure("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).") }
            }
            return .array(out)
        },
        "namespace": f("namespace") { p, k in
            var d = OrderedDictionary()
            for v in p { if case let .dict(x) = v { for (a, b) in x.pairs { d[a] = b } } }
            for (a, b) in k { d[a] = b }
            let ns = JinjaNamespace(d)
            onNamespace(ns)
            return .namespace(ns)
        },
        "dict": f("dict") { p, k in
            var d = OrderedDictionary()
            for v in p { if case let .dict(x) = v { for (a, b) in x.pairs { d[a] = b } } }
            for (a, b) in k { d[a] = b }
            return .dict(d)
        },
        "raise_exception": f("raise_exception") { p, _ in
            throw RaisedException(message: p.first?.stringValue ?? "")
        },
        "strftime_now": f("strftime_now") { p, _ in
            .string(strftime(p.first?.stringValue ?? "", now))
        },
    ]
}
