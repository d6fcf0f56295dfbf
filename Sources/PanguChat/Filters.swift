// jinja2 built-in filters and tests (plus Hugging Face's `tojson` override), with jinja2's Python semantics.
import Foundation

private func str(_ v: JinjaValue) -> String { v.stringValue }

private func lengthOf(_ v: JinjaValue) throws -> Int {
    switch v {
    case let .string(s): return s.unicodeScalars.count
    case let .array(a), let .tuple(a): return a.count
    case let .iterator(it) where it.isView: return it.peek.count
    case let .dict(d): return d.count
    case .undefined: return 0
    default: throw TemplateRuntimeFailure("object of type '\(v.typeName)' has no len()")
    }
}

/// `attribute="a.b"` lookup used by map/sort/selectattr/…; dotted paths and integer parts like jinja2.
private func attrPath(_ v: JinjaValue, _ path: JinjaValue) throws -> JinjaValue {
    if case let .int(i) = path { return try getItem(v, .int(i)) }
    var cur = v
    for part in str(path).split(separator: ".", omittingEmptySubsequences: false) {
        cur = try getItem(cur, Int(part).map { .int($0) } ?? .string(String(part)))
    }
    return cur
}

private func sortKey(_ v: JinjaValue, caseSensitive: Bool) -> JinjaValue {
    if !caseSensitive, case let .string(s) = v { return .string(s.lowercased()) }
    return v
}

private func stableSort(_ items: [JinjaValue], key: (JinjaValue) throws -> JinjaValue, reverse: Bool) throws -> [JinjaValue] {
    let keyed = try items.enumerated().map { ($0.offset, try key($0.element), $0.element) }
    var err: Error?
    let sorted = keyed.sorted { a, b in
        do {
            if reverse { if try lessThan(b.1, a.1) { return true }; if try lessThan(a.1, b.1) { return false } } else {
                if try lessThan(a.1, b.1) { return true }; if try lessThan(b.1, a.1) { return false }
            }
        } catch { err = error }
        return a.0 < b.0
    }
    if let err { throw err }
    return sorted.map { $0.2 }
}

/// Markup escaping (`escape`/`e`).
func htmlEscape(_ s: String) -> String {
    var out = ""
    for c in s.unicodeScalars {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&#34;"
        case "'": out += "&#39;"
        default: out.unicodeScalars.append(c)
        }
    }
    return out
}

private func toInt(_ v: JinjaValue, _ dflt: JinjaValue, base: Int) -> JinjaValue {
    switch v {
    case let .int(i): return .int(i)
    case let .bool(b): return .int(b ? 1 : 0)
    case let .double(d): return d.isFinite && abs(d) < 9.2e18 ? .int(Int(d)) : dflt
    case let .string(s):
        let t = (try? pyStrip(s, nil, mode: 0)) ?? s
        var clean = t.replacingOccurrences(of: "_", with: "")
        var neg = false
        if clean.hasPrefix("-") || clean.hasPrefix("+") { neg = clean.hasPrefix("-"); clean.removeFirst() }
        var b = base
        let lower = clean.lowercased()
        for (pfx, pb) in [("0x", 16), ("0o", 8), ("0b", 2)] where lower.hasPrefix(pfx) && (base == pb || base == 0) {
            clean = String(clean.dropFirst(2)); b = pb
        }
        if b == 0 { b = 10 }
        if let i = Int(clean, radix: b) { return .int(neg ? -i : i) }
        if neg { clean = "-" + clean }
        if base == 10, let d = Double(clean), d.isFinite, abs(d) < 9.2e18, !clean.lowercased().contains("n") {
            return .int(Int(d))
        }
        return dflt
    default: return dflt
    }
}

/// Applies a filter by name.
/// Python function names of jinja2's generator filters (they appear in `str(generator)`).
private let generatorNames = ["map": "sync_do_map", "select": "select_or_reject", "reject": "select_or_reject",
    "selectattr": "select_or_reject", "rejectattr": "select_or_reject", "batch": "do_batch", "unique": "sync_do_unique",
    "slice": "sync_do_slice", "items": "do_items"]

/// Filters jinja2 implements as generators: their errors surface only when the result is iterated.
private let generatorFilters: Set<String> = ["map", "select", "reject", "selectattr", "rejectattr", "batch", "unique", "slice"]

func runFilter(_ name: String, _ v: JinjaValue, _ p: [JinjaValue], _ k: [(String, JinjaValue)]) throws -> JinjaValue {
    if generatorFilters.contains(name) {
        // jinja2's map/select/reject start with `if value:`; a falsy input yields nothing (no errors either).
        if ["map", "select", "reject", "selectattr", "rejectattr"].contains(name) && !v.truthy {
            return .iterator(JinjaIterator(.generator, [], name: generatorNames[name] ?? name))
        }
        do {
            let r = try runFilterEager(name, v, p, k)
            if case let .iterator(it) = r, it.kind == .generator { return .iterator(it.named(generatorNames[name] ?? name)) }
            return r
        } catch let e as TemplateRuntimeFailure {
            return .iterator(JinjaIterator(.generator, [], failure: e.message, name: generatorNames[name] ?? name))
        }
    }
    return try runFilterEager(name, v, p, k)
}

private func runFilterEager(_ name: String, _ v: JinjaValue, _ p: [JinjaValue], _ k: [(String, JinjaValue)]) throws -> JinjaValue {
    let a = Args(p, k)
    func undefCheck() throws { if case let .undefined(h) = v { throw undefinedError(h) } }
    switch name {
    case "abs":
        switch v.numeric {
        case let .int(i)?: return .int(abs(i))
        case let .double(d)?: return .double(abs(d))
        default: throw TemplateRuntimeFailure("bad operand type for abs(): '\(v.typeName)'")
        }
    case "attr":
        // jinja2's attr filter only does getattr (no item fallback).
        let n = str(a[0, "name"] ?? .none)
        switch v {
        case .dict, .array, .tuple:
            if case let .dict(d) = v, d[n] != nil, boundMethod(v, n) == nil {
                return .undefined("'\(objectName(v))' has no attribute '\(n)'")
            }
            return try getAttribute(v, n)
        default: return try getAttribute(v, n)
        }
    case "batch":
        let n = try intValue(a[0, "linecount"])
        if n <= 0 { throw TemplateRuntimeFailure("batch size must be positive") }
        let fill = a[1, "fill_with"]
        var out: [JinjaValue] = [], cur: [JinjaValue] = []
        for x in try iterate(v) {
            cur.append(x)
            if cur.count == n { out.append(.array(cur)); cur = [] }
        }
        if !cur.isEmpty {
            if let fill, !(fill == .none) { while cur.count < n { cur.append(fill) } }
            out.append(.array(cur))
        }
        return gen(out)
    case "capitalize": return .string(pyCapitalize(str(v)))
    case "center":
        let w = try a[0, "width"].map(intValue) ?? 80
        let s = str(v), n = s.unicodeScalars.count
        if w <= n { return .string(s) }
        let total = w - n, left = total / 2 + (total & w & 1)
        return .string(String(repeating: " ", count: left) + s + String(repeating: " ", count: total - left))
    case "count", "length": return .int(try lengthOf(v))
    case "d", "default":
        let dflt = a[0, "default_value"] ?? .string("")
        let boolean = a[1, "boolean"]?.truthy ?? false
        if v.isUndefined || (boolean && !v.truthy) { return dflt }
        return v
    case "dictsort":
        guard case let .dict(d) = v else { throw TemplateRuntimeFailure("You can only sort by either \"key\" or \"value\"") }
        let cs = a[0, "case_sensitive"]?.truthy ?? false
        let byValue = (a[1, "by"].map(str) ?? "key") == "value"
        let rev = a[2, "reverse"]?.truthy ?? false
        let items = d.pairs.map { JinjaValue.tuple([.string($0.0), $0.1]) }
        return .array(try stableSort(items, key: { item in
            guard let kv = item.sequenceItems else { return item }
            return sortKey(byValue ? kv[1] : kv[0], caseSensitive: cs)
        }, reverse: rev))
    case "e", "escape", "forceescape": return .string(htmlEscape(str(v)))
    case "first":
        if case let .undefined(h) = v { return .undefined(h) }
        return try iterate(v).first ?? .undefined("No first item, sequence was empty.")
    case "last":
        if case let .undefined(h) = v { return .undefined(h) }
        if case let .iterator(it) = v, !it.isView { throw TemplateRuntimeFailure("'\(it.kind.rawValue)' object is not reversible") }
        return try iterate(v).last ?? .undefined("No last item, sequence was empty.")
    case "float":
        try undefCheck()
        let dflt = a[0, "default"] ?? .double(0)
        switch v {
        case let .int(i): return .double(Double(i))
        case let .double(d): return .double(d)
        case let .bool(b): return .double(b ? 1 : 0)
        case let .string(s):
            if let d = Double((try? pyStrip(s, nil, mode: 0)) ?? s) { return .double(d) }
            return dflt
        default: return dflt
        }
    case "format":
        return try binaryOp("%", v, .tuple(p))
    case "indent":
        try undefCheck()
        guard case .string = v else { throw TemplateRuntimeFailure("unsupported operand type(s) for +=: '\(v.typeName)' and 'str'") }
        let widthV = a[0, "width"] ?? .int(4)
        let indention: String
        if case let .string(s) = widthV { indention = s } else { indention = String(repeating: " ", count: try intValue(widthV)) }
        let first = a[1, "first"]?.truthy ?? false, blank = a[2, "blank"]?.truthy ?? false
        let s = str(v) + "\n"
        var lines = s.components(separatedBy: "\n")
        lines.removeLast()
        var rv: String
        if blank {
            rv = lines.joined(separator: "\n" + indention)
        } else {
            rv = lines.removeFirst()
            if !lines.isEmpty { rv += "\n" + lines.map { $0.isEmpty ? $0 : indention + $0 }.joined(separator: "\n") }
        }
        if first { rv = indention + rv }
        return .string(rv)
    case "int":
        try undefCheck()
        return toInt(v, a[0, "default"] ?? .int(0), base: try a[1, "base"].map(intValue) ?? 10)
    case "items":
        if v.isUndefined { return gen([]) }
        guard case let .dict(d) = v else { return gen([], failing: "Can only get item pairs from a mapping.") }
        return gen(d.pairs.map { .tuple([.string($0.0), $0.1]) })
    case "join":
        var items = try iterate(v)
        if let attr = a[1, "attribute"] { items = try items.map { try attrPath($0, attr) } }
        return .string(items.map(str).joined(separator: str(a[0, "d"] ?? .string(""))))
    case "list": return .array(try iterate(v))
    case "lower": return .string(str(v).lowercased())
    case "upper": return .string(str(v).uppercased())
    case "map":
        let items = try iterate(v)
        if let attr = a.keywords.first(where: { $0.0 == "attribute" })?.1 {
            let dflt = a.keywords.first { $0.0 == "default" }?.1
            return gen(try items.map { x in
                let r = try attrPath(x, attr)
                if r.isUndefined, let dflt { return dflt }
                return r
            })
        }
        guard let f = p.first else { return gen(items) }
        return gen(try items.map { try runFilter(str(f), $0, Array(p.dropFirst()), k) })
    case "max", "min":
        let cs = a[0, "case_sensitive"]?.truthy ?? false
        let attr = a[1, "attribute"]
        let items = try iterate(v)
        guard !items.isEmpty else { return .undefined("No aggregated item, sequence was empty.") }
        let sorted = try stableSort(items, key: { x in sortKey(try attr.map { try attrPath(x, $0) } ?? x, caseSensitive: cs) },
                                    reverse: false)
        return name == "min" ? sorted.first! : sorted.last!
    case "replace":
        let count = try a[2, "count"].map(intValue) ?? -1
        return .string(pyReplace(str(v), str(a[0, "old"] ?? .none), str(a[1, "new"] ?? .none), count))
    case "reverse":
        if case let .string(s) = v { return .string(String(String.UnicodeScalarView(s.unicodeScalars.reversed()))) }
        if case let .array(items) = v { return .iterator(JinjaIterator(.reversed, items.reversed())) }
        if case let .undefined(h) = v { return .iterator(JinjaIterator(.reversed, [], failure: h)) }
        return .array(try iterate(v).reversed())
    case "round":
        let prec = try a[0, "precision"].map(intValue) ?? 0
        let method = a[1, "method"].map(str) ?? "common"
        if case .int = v, method == "common" { return v }
        if case let .bool(b) = v, method == "common" { return .int(b ? 1 : 0) }
        guard let n = v.numeric else { throw TemplateRuntimeFailure("type \(v.typeName) doesn't define __round__ method") }
        if method == "common" && prec >= 0 && n.asDouble.isFinite {
            // Python's round(): correctly rounded half-even on the exact binary value, like printf.
            return .double(Double(String(format: "%.\(prec)f", n.asDouble)) ?? n.asDouble)
        }
        let scale = pow(10.0, Double(prec))
        let x = n.asDouble * scale
        let rule: FloatingPointRoundingRule = method == "ceil" ? .up : method == "floor" ? .down : .toNearestOrEven
        if method != "common" && method != "ceil" && method != "floor" {
            throw TemplateRuntimeFailure("method must be 'common', 'ceil' or 'floor'")
        }
        return .double(x.rounded(rule) / scale)
    case "safe", "string": if case .undefined = v { return .string("") }; return .string(str(v))
    case "select", "reject", "selectattr", "rejectattr":
        let byAttr = name.hasSuffix("attr")
        let keep = name.hasPrefix("select")
        var rest = p
        var attr: JinjaValue? = nil
        if byAttr { guard !rest.isEmpty else { throw TemplateRuntimeFailure("Missing parameter for attribute name") }; attr = rest.removeFirst() }
        let test = rest.isEmpty ? nil : str(rest.removeFirst())
        return gen(try iterate(v).filter { x in
            let target = try attr.map { try attrPath(x, $0) } ?? x
            let r = try test.map { try runTest($0, target, rest) } ?? target.truthy
            return r == keep
        })
    case "sort":
        let rev = a[0, "reverse"]?.truthy ?? false, cs = a[1, "case_sensitive"]?.truthy ?? false
        let attr = a[2, "attribute"]
        return .array(try stableSort(try iterate(v), key: { x in sortKey(try attr.map { try attrPath(x, $0) } ?? x, caseSensitive: cs) },
                                     reverse: rev))
    case "sum":
        let attr = a[0, "attribute"]
        var total = a[1, "start"] ?? .int(0)
        for x in try iterate(v) { total = try binaryOp("+", total, try attr.map { try attrPath(x, $0) } ?? x) }
        return total
    case "title":
        // jinja2's do_title: capitalize each chunk split on whitespace, '-', and opening brackets.
        var out = ""
        var atStart = true
        for ch in str(v) {
            if ch.isWhitespace || "-({[<".contains(ch) { out.append(ch); atStart = true; continue }
            out += atStart ? ch.uppercased() : ch.lowercased()
            atStart = false
        }
        return .string(out)
    case "tojson":
        var o = JSONDumpOptions()
        o.ensureASCII = a[0, "ensure_ascii"]?.truthy ?? false
        if let ind = a[1, "indent"], !(ind == .none) {
            if case let .string(s) = ind { o.indent = s } else { o.indent = String(repeating: " ", count: try intValue(ind)) }
        }
        if let sep = a[2, "separators"], let pair = sep.sequenceItems, pair.count == 2 {
            o.itemSeparator = str(pair[0]); o.keySeparator = str(pair[1])
        }
        o.sortKeys = a[3, "sort_keys"]?.truthy ?? false
        return .string(try JSONCoding.dumps(v, options: o))
    case "trim": try undefCheckTrim(v); return .string(try pyStrip(str(v), a[0, "chars"], mode: 0))
    case "unique":
        let cs = a[0, "case_sensitive"]?.truthy ?? false
        let attr = a[1, "attribute"]
        var seen: [JinjaValue] = [], out: [JinjaValue] = []
        for x in try iterate(v) {
            let key = sortKey(try attr.map { try attrPath(x, $0) } ?? x, caseSensitive: cs)
            if !seen.contains(key) { seen.append(key); out.append(x) }
        }
        return gen(out)
    case "wordcount":
        // jinja2: len(re.findall(r"\w+", s))
        var n = 0, inWord = false
        for u in str(v).unicodeScalars {
            let w = u == "_" || u.properties.isAlphabetic || u.properties.numericType != nil
            if w && !inWord { n += 1 }
            inWord = w
        }
        return .int(n)
    case "groupby":
        guard let attr = a[0, "attribute"] else { throw TemplateRuntimeFailure("groupby() missing required argument 'attribute'") }
        let dflt = a[1, "default"]
        let cs = a[2, "case_sensitive"]?.truthy ?? false
        func key(_ x: JinjaValue) throws -> JinjaValue {
            let r = try attrPath(x, attr)
            return r.isUndefined ? (dflt ?? r) : r
        }
        let sorted = try stableSort(try iterate(v), key: { sortKey(try key($0), caseSensitive: cs) }, reverse: false)
        var groups: [JinjaValue] = []
        var curKey: JinjaValue? = nil, cur: [JinjaValue] = []
        for x in sorted {
            let k = sortKey(try key(x), caseSensitive: cs)
            if let ck = curKey, ck == k { cur.append(x); continue }
            if !cur.isEmpty { groups.append(.tuple([try key(cur[0]), .array(cur)])) }
            curKey = k
            cur = [x]
        }
        if !cur.isEmpty { groups.append(.tuple([try key(cur[0]), .array(cur)])) }
        return .array(groups)
    case "slice":
        let n = try intValue(a[0, "slices"])
        if n <= 0 { throw TemplateRuntimeFailure("slices must be positive") }
        let fill = a[1, "fill_with"]
        let seq = try iterate(v)
        let per = seq.count / n, extra = seq.count % n
        var out: [JinjaValue] = []
        var offset = 0
        for k in 0..<n {
            let start = offset + k * per
            if k < extra { offset += 1 }
            let end = offset + (k + 1) * per
            var tmp = Array(seq[start..<end])
            if let fill, !(fill == .none), k >= extra { tmp.append(fill) }
            out.append(.array(tmp))
        }
        return gen(out)
    case "truncate":
        let s = Array(str(v).unicodeScalars)
        let length = try a[0, "length"].map(intValue) ?? 255
        let killwords = a[1, "killwords"]?.truthy ?? false
        let end = a[2, "end"].map(str) ?? "..."
        let leeway = try a[3, "leeway"].map(intValue) ?? 5
        let endLen = end.unicodeScalars.count
        if length < endLen { throw TemplateRuntimeFailure("expected length >= \(endLen), got \(length)") }
        if s.count <= length + leeway { return .string(str(v)) }
        let head = String(String.UnicodeScalarView(s[..<max(0, length - endLen)]))
        if killwords { return .string(head + end) }
        let parts = try pySplit(head, .string(" "), -1)
        let kept = parts.count > 1 ? parts.dropLast().joined(separator: " ") : head
        return .string(kept + end)
    case "striptags":
        var s = str(v)
        for (open, close) in [("<!--", "-->"), ("<", ">")] {
            while let r = s.range(of: open), let e = s.range(of: close, range: r.upperBound..<s.endIndex) {
                s.replaceSubrange(r.lowerBound..<e.upperBound, with: "")
            }
        }
        s = try pySplit(s, nil, -1).joined(separator: " ")
        for (ent, ch) in [("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&#34;", "\""), ("&#39;", "'"), ("&amp;", "&")] {
            s = s.replacingOccurrences(of: ent, with: ch)
        }
        return .string(s)
    default:
        throw TemplateRuntimeFailure("No filter named '\(name)'.")
    }
}

private func undefCheckTrim(_ v: JinjaValue) throws {}

/// A jinja2 filter result that is a Python generator (lazy, single use, always truthy, no `len`).
/// `failing`: the generator raises this when iterated (jinja2 errors lazily).
private func gen(_ items: [JinjaValue], failing: String? = nil) -> JinjaValue {
    return .iterator(JinjaIterator(.generator, items, failure: failing, name: "do_items"))
}


func intValue(_ v: JinjaValue?) throws -> Int {
    guard let v, case let .int(i)? = v.numeric else {
        throw TemplateRuntimeFailure("'\(v?.typeName ?? "None")' object cannot be interpreted as an integer")
    }
    return i
}

/// Known filter names (for the `filter` test).
private let filterNames: Set<String> = ["abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort",
    "e", "escape", "first", "float", "format", "indent", "int", "items", "join", "last", "length", "list", "lower", "map",
    "max", "min", "reject", "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "sort", "string",
    "sum", "title", "tojson", "trim", "unique", "upper", "wordcount", "groupby", "slice", "truncate", "striptags"]

/// Applies a test (`x is name(args)`).
func runTest(_ name: String, _ v: JinjaValue, _ args: [JinjaValue]) throws -> Bool {
    func arg() throws -> JinjaValue {
        guard let a = args.first else { throw TemplateRuntimeFailure("test '\(name)' needs an argument") }
        return a
    }
    switch name {
    case "defined": return !v.isUndefined
    case "undefined": return v.isUndefined
    case "none": if case .none = v { return true }; return false
    case "boolean": return v.isBool
    case "true": return v == .bool(true) && v.isBool
    case "false": return v == .bool(false) && v.isBool
    case "integer": if case .int = v { return true }; return false
    case "float": if case .double = v { return true }; return false
    case "number": return v.numeric != nil
    case "string": if case .string = v { return true }; return false
    case "mapping": if case .dict = v { return true }; return false
    case "sequence":
        switch v { case .string, .array, .tuple, .dict, .undefined: return true; default: return false }
    case "iterable":
        switch v { case .string, .array, .tuple, .dict, .undefined, .iterator: return true; default: return false }
    case "callable":
        switch v { case .callable, .undefined: return true; default: return false }
    case "lower": return pyIsLower(v.stringValue)  // jinja2: str(value).islower()
    case "upper": return pyIsUpper(v.stringValue)
    case "odd": return try binaryOp("%", v, .int(2)) == .int(1)
    case "even": return try binaryOp("%", v, .int(2)) == .int(0)
    case "divisibleby": return try binaryOp("%", v, try arg()) == .int(0)
    case "eq", "equalto", "==": return v == (try arg())
    case "ne", "!=": return v != (try arg())
    case "lt", "lessthan", "<": return try lessThan(v, try arg())
    case "gt", "greaterthan", ">": return try lessThan(try arg(), v)
    case "le", "<=": return try compareOp("<=", v, try arg())
    case "ge", ">=": return try compareOp(">=", v, try arg())
    case "in": return try contains(try arg(), v)
    case "sameas":
        let o = try arg()
        switch (v, o) {
        case (.none, .none): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.namespace(x), .namespace(y)): return x === y
        default: return false
        }
    case "escaped": return false
    case "filter": return filterNames.contains(v.stringValue)
    case "test": return ["defined", "undefined", "none", "string", "number", "mapping", "iterable"].contains(v.stringValue)
    default: throw TemplateRuntimeFailure("No test named '\(name)'.")
    }
}
