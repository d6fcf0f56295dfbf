// Python-semantics operators, attribute/item access, slicing and iteration for template values.
import Foundation

/// Thrown by `raise_exception(msg)`; surfaces as ``ChatTemplateError`` with `raisedByTemplate == true`.
struct RaisedException: Error { let message: String }

/// Error for the inner of `a.b` when `a` is undefined, worded like jinja2's UndefinedError.
func undefinedError(_ hint: String) -> TemplateRuntimeFailure {
    TemplateRuntimeFailure(hint.isEmpty ? "'Undefined' is undefined" : hint)
}

func objectName(_ v: JinjaValue) -> String {
    switch v {
    case .dict: return "dict object"
    case .array: return "list object"
    case .string: return "str object"
    case .none: return "None"
    default: return "\(v.typeName) object"
    }
}

/// Mutating methods the ImmutableSandboxedEnvironment refuses.
private let unsafeMethods: [String: Set<String>] = [
    "list": ["append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear", "__setitem__", "__delitem__"],
    "dict": ["clear", "pop", "popitem", "setdefault", "update", "__setitem__", "__delitem__"],
]

/// `obj.name`: Python attribute first (methods), then item lookup; undefined on miss, error on undefined base.
func getAttribute(_ v: JinjaValue, _ name: String) throws -> JinjaValue {
    switch v {
    case let .undefined(hint): throw undefinedError(hint)
    case let .namespace(ns): return ns.attributes[name] ?? .undefined("'Namespace' object has no attribute '\(name)'")
    case .dict, .array:
        if unsafeMethods[v.typeName]!.contains(name) {
            return .callable(JinjaCallable(name: name) { _, _ in
                throw TemplateRuntimeFailure("access to attribute '\(name)' of '\(v.typeName)' object is unsafe.")
            })
        }
        if let m = boundMethod(v, name) { return m }
        if case let .dict(d) = v, let x = d[name] { return x }
        return .undefined("'\(objectName(v))' has no attribute '\(name)'")
    default:
        if let m = boundMethod(v, name) { return m }
        // groupby() results are (grouper, list) named tuples.
        if case let .tuple(t) = v, t.count == 2, name == "grouper" || name == "list" { return t[name == "grouper" ? 0 : 1] }
        return .undefined("'\(objectName(v))' has no attribute '\(name)'")
    }
}

/// `obj[key]`: item lookup first, then attribute.
func getItem(_ v: JinjaValue, _ key: JinjaValue) throws -> JinjaValue {
    switch v {
    case let .undefined(hint): throw undefinedError(hint)
    case let .dict(d):
        if case let .string(k) = key, let x = d[k] { return x }
        if case .string = key {} else if let x = d[key.repr] { return x }
    case let .array(a), let .tuple(a):
        if case let .int(i) = key.numeric ?? .none, !(key.isBool) {
            let j = i < 0 ? a.count + i : i
            if j >= 0 && j < a.count { return a[j] }
            return .undefined("'\(objectName(v))' has no attribute '\(i)'")
        }
    case let .string(s):
        if case let .int(i) = key.numeric ?? .none, !(key.isBool) {
            let u = Array(s.unicodeScalars)
            let j = i < 0 ? u.count + i : i
            if j >= 0 && j < u.count { return .string(String(Character(u[j]))) }
            return .undefined("'\(objectName(v))' has no attribute '\(i)'")
        }
    default: break
    }
    if case let .string(name) = key { return try getAttribute(v, name) }
    return .undefined("'\(objectName(v))' has no attribute '\(key.stringValue)'")
}

extension JinjaValue {
    var isBool: Bool { if case .bool = self { return true } else { return false } }
}

private func sliceIndices(_ count: Int, _ a: JinjaValue?, _ b: JinjaValue?, _ c: JinjaValue?) throws -> [Int] {
    func intOrNil(_ v: JinjaValue?) throws -> Int? {
        guard let v else { return nil }
        switch v {
        case .none: return nil
        case let .int(i): return i
        case let .bool(b): return b ? 1 : 0
        default: throw TemplateRuntimeFailure("slice indices must be integers or None or have an __index__ method")
        }
    }
    let step = try intOrNil(c) ?? 1
    if step == 0 { throw TemplateRuntimeFailure("slice step cannot be zero") }
    func clamp(_ x: Int?, _ dflt: Int, lo: Int, hi: Int) -> Int {
        guard var x else { return dflt }
        if x < 0 { x += count }
        return min(max(x, lo), hi)
    }
    var out: [Int] = []
    if step > 0 {
        let start = clamp(try intOrNil(a), 0, lo: 0, hi: count), stop = clamp(try intOrNil(b), count, lo: 0, hi: count)
        var i = start
        while i < stop { out.append(i); i += step }
    } else {
        let start = clamp(try intOrNil(a), count - 1, lo: -1, hi: count - 1)
        let stop = clamp(try intOrNil(b), -1, lo: -1, hi: count - 1)
        var i = start
        while i > stop { out.append(i); i += step }
    }
    return out
}

/// Python slicing `v[a:b:c]` for lists and strings.
func slice(_ v: JinjaValue, _ a: JinjaValue?, _ b: JinjaValue?, _ c: JinjaValue?) throws -> JinjaValue {
    switch v {
    case let .array(arr): return .array(try sliceIndices(arr.count, a, b, c).map { arr[$0] })
    case let .tuple(arr): return .tuple(try sliceIndices(arr.count, a, b, c).map { arr[$0] })
    case let .string(s):
        let u = Array(s.unicodeScalars)
        var out = String.UnicodeScalarView()
        for i in try sliceIndices(u.count, a, b, c) { out.append(u[i]) }
        return .string(String(out))
    case let .undefined(hint): throw undefinedError(hint)
    default: throw TemplateRuntimeFailure("'\(v.typeName)' object is not subscriptable")
    }
}

/// Python iteration: lists, strings (characters), dicts (keys); undefined iterates as empty.
func iterate(_ v: JinjaValue) throws -> [JinjaValue] {
    switch v {
    case let .array(a), let .tuple(a): return a
    case let .iterator(it):
        if let f = it.failure { throw TemplateRuntimeFailure(f) }
        return it.next()
    case let .dict(d): return d.keys.map { .string($0) }
    case let .string(s): return s.unicodeScalars.map { .string(String(Character($0))) }
    case .undefined: return []
    default: throw TemplateRuntimeFailure("'\(v.typeName)' object is not iterable")
    }
}

func unaryOp(_ op: String, _ v: JinjaValue) throws -> JinjaValue {
    if case let .undefined(hint) = v { throw undefinedError(hint) }
    switch v.numeric {
    case let .int(i)?: return .int(op == "-" ? -i : i)
    case let .double(d)?: return .double(op == "-" ? -d : d)
    default: throw TemplateRuntimeFailure("bad operand type for unary \(op): '\(v.typeName)'")
    }
}

private func floorDiv(_ a: Int, _ b: Int) -> Int {
    let q = a / b
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q
}

private func pyMod(_ a: Int, _ b: Int) -> Int {
    let r = a % b
    return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r
}

func binaryOp(_ op: String, _ a: JinjaValue, _ b: JinjaValue) throws -> JinjaValue {
    if op == "~" { return .string(a.stringValue + b.stringValue) }
    if op == "%", case let .string(fmt) = a { return .string(try percentFormat(fmt, b)) }
    if case let .undefined(h) = a { throw undefinedError(h) }
    if case let .undefined(h) = b { throw undefinedError(h) }
    let unsupported = TemplateRuntimeFailure(
        "unsupported operand type(s) for \(op): '\(a.typeName)' and '\(b.typeName)'")
    switch (op, a, b) {
    case let ("+", .string(x), .string(y)): return .string(x + y)
    case let ("+", .array(x), .array(y)): return .array(x + y)
    case let ("+", .tuple(x), .tuple(y)): return .tuple(x + y)
    case let ("*", .string(s), n), let ("*", n, .string(s)):
        guard case let .int(k)? = n.numeric else { throw unsupported }
        if k > 0 && s.utf8.count > 0 && k > 64_000_000 / s.utf8.count { throw TemplateRuntimeFailure("string repetition result too large") }
        return .string(String(repeating: s, count: max(0, k)))
    case let ("*", .array(s), n), let ("*", n, .array(s)):
        guard case let .int(k)? = n.numeric else { throw unsupported }
        if k > 0 && s.count > 0 && k > 4_000_000 / s.count { throw TemplateRuntimeFailure("list repetition result too large") }
        return .array(Array(Array(repeating: s, count: max(0, k)).joined()))
    case let ("%", .string(fmt), args): return .string(try percentFormat(fmt, args))
    default: break
    }
    guard let x = a.numeric, let y = b.numeric else {
        if op == "+", case .string = a { throw TemplateRuntimeFailure("can only concatenate str (not \"\(b.typeName)\") to str") }
        if op == "+", case .array = a { throw TemplateRuntimeFailure("can only concatenate list (not \"\(b.typeName)\") to list") }
        throw unsupported
    }
    if case let .int(i) = x, case let .int(j) = y {
        switch op {
        case "+", "-", "*":
            let (r, o) = op == "+" ? i.addingReportingOverflow(j) : op == "-" ? i.subtractingReportingOverflow(j)
                : i.multipliedReportingOverflow(by: j)
            if o { throw TemplateRuntimeFailure("integer overflow (Python would use a big int)") }
            return .int(r)
        case "/":
            if j == 0 { throw TemplateRuntimeFailure("division by zero") }
            return .double(Double(i) / Double(j))
        case "//":
            if j == 0 { throw TemplateRuntimeFailure("integer division or modulo by zero") }
            return .int(floorDiv(i, j))
        case "%":
            if j == 0 { throw TemplateRuntimeFailure("integer modulo by zero") }
            return .int(pyMod(i, j))
        case "**":
            if j < 0 { return .double(pow(Double(i), Double(j))) }
            if i == 0 || i == 1 { return .int(j == 0 ? 1 : i) }
            if i == -1 { return .int(j % 2 == 0 ? 1 : -1) }
            var r = 1
            for _ in 0..<j {
                let (m, o) = r.multipliedReportingOverflow(by: i)
                if o { throw TemplateRuntimeFailure("integer overflow (Python would use a big int)") }
                r = m
            }
            return .int(r)
        default: throw unsupported
        }
    }
    let i = x.asDouble, j = y.asDouble
    switch op {
    case "+": return .double(i + j)
    case "-": return .double(i - j)
    case "*": return .double(i * j)
    case "/":
        if j == 0 { throw TemplateRuntimeFailure("float division by zero") }
        return .double(i / j)
    case "//":
        if j == 0 { throw TemplateRuntimeFailure("float floor division by zero") }
        return .double((i / j).rounded(.down))
    case "%":
        if j == 0 { throw TemplateRuntimeFailure("float modulo") }
        let r = fmod(i, j)
        return .double(r != 0 && ((r < 0) != (j < 0)) ? r + j : r)
    case "**": return .double(pow(i, j))
    default: throw unsupported
    }
}

/// printf-style `str % args` with CPython's argument rules: a tuple supplies positional arguments; any other
/// object with `__getitem__` (dict, list, Undefined) is also usable as a mapping for `%(key)s`, and then unused
/// arguments are not an error.
private func percentFormat(_ fmt: String, _ args: JinjaValue) throws -> String {
    var queue: [JinjaValue]
    var single = false
    if case let .tuple(a) = args { queue = a } else { queue = [args]; single = true }
    var mappingLike = false
    switch args {
    case .dict, .array, .undefined: mappingLike = true
    default: break
    }
    var out = ""
    let u = Array(fmt)
    var i = 0
    while i < u.count {
        guard u[i] == "%" else { out.append(u[i]); i += 1; continue }
        guard i + 1 < u.count else { throw TemplateRuntimeFailure("incomplete format") }
        var spec = u[i + 1]
        if spec == "%" { out.append("%"); i += 2; continue }
        var value: JinjaValue
        if spec == "(" {
            guard let close = u[(i + 2)...].firstIndex(of: ")"), close + 1 < u.count else {
                throw TemplateRuntimeFailure("incomplete format key")
            }
            let key = String(u[(i + 2)..<close])
            guard mappingLike else { throw TemplateRuntimeFailure("format requires a mapping") }
            guard case let .dict(mapping) = args, let v = mapping[key] else {
                if case let .undefined(h) = args { throw undefinedError(h) }
                throw TemplateRuntimeFailure("KeyError: '\(key)'")
            }
            value = v
            spec = u[close + 1]
            i = close + 2
        } else {
            guard !queue.isEmpty else { throw TemplateRuntimeFailure("not enough arguments for format string") }
            value = queue.removeFirst()
            i += 2
        }
        switch spec {
        case "s": out += value.stringValue
        case "r": out += value.repr
        case "d", "i":
            guard let n = value.numeric else { throw TemplateRuntimeFailure("%d format: a real number is required, not \(value.typeName)") }
            out += String(Int(n.asDouble))
        default: throw TemplateRuntimeFailure("unsupported format character '\(spec)'")
        }
    }
    if !queue.isEmpty && !(single && mappingLike) {
        throw TemplateRuntimeFailure("not all arguments converted during string formatting")
    }
    return out
}

/// Python ordering for `<`, `>`, `<=`, `>=` and sorting.
func lessThan(_ a: JinjaValue, _ b: JinjaValue, op: String = "<") throws -> Bool {
    if let x = a.numeric, let y = b.numeric {
        if case let .int(i) = x, case let .int(j) = y { return i < j }
        return x.asDouble < y.asDouble
    }
    switch (a, b) {
    case let (.string(x), .string(y)): return x.unicodeScalars.lexicographicallyPrecedes(y.unicodeScalars)
    case let (.array(x), .array(y)), let (.tuple(x), .tuple(y)):
        for (p, q) in zip(x, y) where p != q { return try lessThan(p, q, op: op) }
        return x.count < y.count
    default:
        if case let .undefined(h) = a { throw undefinedError(h) }
        if case let .undefined(h) = b { throw undefinedError(h) }
        throw TemplateRuntimeFailure("'\(op)' not supported between instances of '\(a.typeName)' and '\(b.typeName)'")
    }
}

/// Membership test `needle in haystack`.
func contains(_ haystack: JinjaValue, _ needle: JinjaValue) throws -> Bool {
    switch haystack {
    case let .string(s):
        guard case let .string(n) = needle else {
            throw TemplateRuntimeFailure("'in <string>' requires string as left operand, not \(needle.typeName)")
        }
        return scalarIndex(Array(s.unicodeScalars), Array(n.unicodeScalars)) != nil
    case let .array(a), let .tuple(a): return a.contains(needle)
    case let .iterator(it): return it.next().contains(needle)
    case let .dict(d):
        switch needle {
        case let .string(k): return d[k] != nil
        case .array, .dict, .iterator: throw TemplateRuntimeFailure("unhashable type: '\(needle.typeName)'")
        default: return false
        }
    case .undefined: return false
    default: throw TemplateRuntimeFailure("argument of type '\(haystack.typeName)' is not iterable")
    }
}

func compareOp(_ op: String, _ a: JinjaValue, _ b: JinjaValue) throws -> Bool {
    switch op {
    case "==": return a == b
    case "!=": return a != b
    case "<": return try lessThan(a, b, op: "<")
    case ">": return try lessThan(b, a, op: ">")
    case "<=": return try lessThan(a, b, op: "<=") || a == b
    case ">=": return try lessThan(b, a, op: ">=") || a == b
    case "in": return try contains(b, a)
    case "notin": return try !contains(b, a)
    default: throw TemplateRuntimeFailure("unknown operator \(op)")
    }
}
