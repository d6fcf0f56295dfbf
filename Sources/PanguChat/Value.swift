// Value model for chat-template contexts: a small dynamic type mirroring the Python values jinja2 sees.
import Foundation

/// An insertion-ordered dictionary with `String` keys, used for template mappings so that JSON key order
/// survives into `tojson` output exactly like Python's `dict`.
public struct OrderedDictionary: Sendable, Equatable {
    /// Keys in insertion order.
    public private(set) var keys: [String] = []
    private var storage: [ScalarKey: JinjaValue] = [:]

    /// Creates an empty dictionary.
    public init() {}

    /// Creates a dictionary from key/value pairs; later duplicates overwrite earlier values in place.
    public init(_ pairs: [(String, JinjaValue)]) {
        for (k, v) in pairs { self[k] = v }
    }

    /// Number of entries.
    public var count: Int { keys.count }

    /// Values in key order.
    public var values: [JinjaValue] { keys.map { storage[ScalarKey($0)]! } }

    /// Key/value pairs in key order.
    public var pairs: [(String, JinjaValue)] { keys.map { ($0, storage[ScalarKey($0)]!) } }

    /// Reads or writes a value. Writing `nil` removes the key.
    public subscript(key: String) -> JinjaValue? {
        get { storage[ScalarKey(key)] }
        set {
            if let v = newValue {
                if storage.updateValue(v, forKey: ScalarKey(key)) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: ScalarKey(key)) != nil {
                keys.removeAll { $0.unicodeScalars.elementsEqual(key.unicodeScalars) }
            }
        }
    }

    /// Equality ignores key order, like Python dicts.
    public static func == (a: OrderedDictionary, b: OrderedDictionary) -> Bool { a.storage == b.storage }
}

/// Dictionary key comparing strings by unicode scalars (Python semantics: no canonical equivalence).
struct ScalarKey: Hashable, Sendable {
    let string: String
    init(_ s: String) { string = s }
    static func == (a: ScalarKey, b: ScalarKey) -> Bool { a.string.unicodeScalars.elementsEqual(b.string.unicodeScalars) }
    func hash(into h: inout Hasher) { for u in string.unicodeScalars { h.combine(u.value) } }
}

/// Mutable attribute bag created by `namespace()`; reference semantics so `{% set ns.x = … %}` inside a loop
/// is visible after it, exactly as in jinja2.
public final class JinjaNamespace: @unchecked Sendable {
    /// Current attributes.
    public var attributes: OrderedDictionary
    /// Creates a namespace with initial attributes.
    public init(_ attributes: OrderedDictionary = OrderedDictionary()) { self.attributes = attributes }
}

/// A Python iterator-like value: the generators jinja2 filters return (`map`, `select`, …, consumed by the first
/// iteration), dict views (`d.items()`, `keys()`, `values()`) and `reversed(list)`. Modelled so truthiness,
/// `length`, printing and single-use iteration behave as in jinja2.
public final class JinjaIterator: @unchecked Sendable {
    /// Kind of Python object.
    public enum Kind: String, Sendable {
        /// A generator (single use, always truthy, no `len`).
        case generator
        /// `dict_items` view.
        case dictItems = "dict_items"
        /// `dict_keys` view.
        case dictKeys = "dict_keys"
        /// `dict_values` view.
        case dictValues = "dict_values"
        /// `list_reverseiterator` (single use).
        case reversed = "list_reverseiterator"
    }
    /// The object kind.
    public let kind: Kind
    private var items: [JinjaValue]
    private var consumed = false
    /// Error raised when iteration starts (jinja2 generators fail lazily), if any.
    public let failure: String?
    /// Python function name shown by `str()` of a generator.
    public let name: String
    /// Creates an iterator over `items`.
    public init(_ kind: Kind, _ items: [JinjaValue], failure: String? = nil, name: String = "") {
        self.kind = kind
        self.items = items
        self.failure = failure
        self.name = name
    }

    /// The same iterator state under another generator name.
    func named(_ n: String) -> JinjaIterator { JinjaIterator(kind, peek, failure: failure, name: n) }
    /// True for dict views (re-iterable, sized).
    public var isView: Bool { kind == .dictItems || kind == .dictKeys || kind == .dictValues }
    /// Elements without consuming (views, or for printing).
    public var peek: [JinjaValue] { consumed ? [] : items }
    /// Iterates: single-use kinds are exhausted afterwards, like Python.
    public func next() -> [JinjaValue] {
        if isView { return items }
        defer { consumed = true; items = [] }
        return consumed ? [] : items
    }
}

/// A callable template value (global function, macro, bound method, `loop.cycle`, `caller`).
public final class JinjaCallable: @unchecked Sendable {
    /// Name used in error messages.
    public let name: String
    /// The implementation: positional and keyword arguments in, value out.
    public private(set) var body: ([JinjaValue], [(String, JinjaValue)]) throws -> JinjaValue
    /// Creates a callable.
    public init(name: String, body: @escaping ([JinjaValue], [(String, JinjaValue)]) throws -> JinjaValue) {
        self.name = name
        self.body = body
    }

    /// Drops the implementation (and what it captured) once the render that made it has ended.
    func release() {
        let name = self.name
        body = { _, _ in throw TemplateRuntimeFailure("'\(name)' was defined by a render that has ended") }
    }
}

/// A dynamically typed template value mirroring the Python objects a Hugging Face chat template sees.
public enum JinjaValue: Sendable, Equatable {
    /// jinja2 `Undefined`; the payload is a hint for error messages (e.g. "'dict object' has no attribute 'x'").
    case undefined(String)
    /// Python `None`.
    case none
    /// Python `bool`.
    case bool(Bool)
    /// Python `int` (64-bit here).
    case int(Int)
    /// Python `float`.
    case double(Double)
    /// Python `str`.
    case string(String)
    /// Python `list` (tuples are represented as lists too).
    case array([JinjaValue])
    /// Python `tuple` (tuple literals, `dict.items()` pairs); behaves like a list except for printing.
    case tuple([JinjaValue])
    /// Python `dict` with string keys, insertion ordered.
    case dict(OrderedDictionary)
    /// A `namespace()` object.
    case namespace(JinjaNamespace)
    /// A callable (functions, macros, bound methods).
    case callable(JinjaCallable)
    /// A generator / dict view / list iterator (see ``JinjaIterator``).
    case iterator(JinjaIterator)

    /// Equality with Python semantics (`1 == 1.0`, `True == 1`); undefined equals only undefined.
    public static func == (a: JinjaValue, b: JinjaValue) -> Bool {
        switch (a, b) {
        case (.undefined, .undefined), (.none, .none): return true
        case let (.string(x), .string(y)): return x.unicodeScalars.elementsEqual(y.unicodeScalars)
        case let (.array(x), .array(y)), let (.tuple(x), .tuple(y)): return x == y
        case let (.dict(x), .dict(y)): return x == y
        case let (.namespace(x), .namespace(y)): return x === y
        case let (.callable(x), .callable(y)): return x === y
        case let (.iterator(x), .iterator(y)):
            if x.kind == .dictKeys && y.kind == .dictKeys { return Set(x.peek.map(\.repr)) == Set(y.peek.map(\.repr)) }
            return x === y
        default:
            if let x = a.numeric, let y = b.numeric {
                if case let .int(i) = x, case let .int(j) = y { return i == j }
                return x.asDouble == y.asDouble
            }
            return false
        }
    }

    /// Numeric view (bool counts as int like Python), or nil.
    var numeric: JinjaValue? {
        switch self {
        case .int, .double: return self
        case let .bool(b): return .int(b ? 1 : 0)
        default: return nil
        }
    }

    /// Elements of a list or tuple.
    var sequenceItems: [JinjaValue]? {
        switch self {
        case let .array(a), let .tuple(a): return a
        default: return nil
        }
    }

    var asDouble: Double {
        switch self {
        case let .int(i): return Double(i)
        case let .double(d): return d
        case let .bool(b): return b ? 1 : 0
        default: return .nan
        }
    }

    /// True for `.undefined`.
    public var isUndefined: Bool { if case .undefined = self { return true } else { return false } }

    /// Python truthiness.
    public var truthy: Bool {
        switch self {
        case .undefined, .none: return false
        case let .bool(b): return b
        case let .int(i): return i != 0
        case let .double(d): return d != 0
        case let .string(s): return !s.isEmpty
        case let .array(a), let .tuple(a): return !a.isEmpty
        case let .dict(d): return d.count > 0
        case .namespace, .callable: return true
        case let .iterator(it): return it.isView ? !it.peek.isEmpty : true
        }
    }

    /// Python type name used in error messages.
    var typeName: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .array: return "list"
        case .tuple: return "tuple"
        case .dict: return "dict"
        case .namespace: return "Namespace"
        case .callable: return "function"
        case let .iterator(it): return it.kind.rawValue
        }
    }

    /// Python `str(value)` as jinja2 prints it (`{{ x }}`): undefined prints empty, `None` prints "None".
    public var stringValue: String {
        switch self {
        case .undefined: return ""
        case let .string(s): return s
        default: return repr
        }
    }

    /// Python `repr(value)`.
    public var repr: String {
        switch self {
        case .undefined: return ""
        case .none: return "None"
        case let .bool(b): return b ? "True" : "False"
        case let .int(i): return String(i)
        case let .double(d): return pythonFloatRepr(d)
        case let .string(s): return pythonStringRepr(s)
        case let .array(a): return "[" + a.map(\.repr).joined(separator: ", ") + "]"
        case let .tuple(a): return "(" + a.map(\.repr).joined(separator: ", ") + (a.count == 1 ? ",)" : ")")
        case let .dict(d):
            return "{" + d.pairs.map { pythonStringRepr($0.0) + ": " + $0.1.repr }.joined(separator: ", ") + "}"
        case let .namespace(n):
            return "<Namespace " + n.attributes.pairs.map { "\($0.0)=\($0.1.repr)" }.joined(separator: ", ") + ">"
        case let .callable(c): return "<function \(c.name)>"
        case let .iterator(it):
            if it.isView { return "\(it.kind.rawValue)([" + it.peek.map(\.repr).joined(separator: ", ") + "])" }
            // Python prints a memory address here; any fixed stand-in keeps word counts etc. like Python's.
            return it.kind == .generator ? "<generator object \(it.name) at 0x7f0000000000>" : "<\(it.kind.rawValue) object at 0x7f0000000000>"
        }
    }
}

/// Python's `repr(float)`: shortest round-trip digits, exponent outside [1e-4, 1e16).
func pythonFloatRepr(_ d: Double) -> String {
    if d.isNaN { return "nan" }
    if d.isInfinite { return d < 0 ? "-inf" : "inf" }
    var s = "\(d)"  // Swift also prints the shortest round-trip digits
    if let e = s.firstIndex(where: { $0 == "e" || $0 == "E" }) {
        var mant = String(s[..<e])
        var exp = String(s[s.index(after: e)...])
        if mant.hasSuffix(".0") { mant.removeLast(2) }
        var sign = "+"
        if exp.hasPrefix("-") { sign = "-"; exp.removeFirst() } else if exp.hasPrefix("+") { exp.removeFirst() }
        if exp.count < 2 { exp = "0" + exp }
        let a = abs(d)
        if a >= 1e-4 && a < 1e16 {
            // Python prints these positionally.
            let digits = mant.replacingOccurrences(of: "-", with: "").replacingOccurrences(of: ".", with: "")
            let pointPos = (mant.replacingOccurrences(of: "-", with: "").firstIndex(of: ".").map {
                mant.replacingOccurrences(of: "-", with: "").distance(from: mant.replacingOccurrences(of: "-", with: "").startIndex, to: $0)
            } ?? digits.count) + (sign == "-" ? -Int(exp)! : Int(exp)!)
            var body: String
            if pointPos <= 0 {
                body = "0." + String(repeating: "0", count: -pointPos) + digits
            } else if pointPos >= digits.count {
                body = digits + String(repeating: "0", count: pointPos - digits.count) + ".0"
            } else {
                body = String(digits.prefix(pointPos)) + "." + String(digits.dropFirst(pointPos))
            }
            return (d < 0 ? "-" : "") + body
        }
        s = mant + "e" + sign + exp
        return s
    }
    let a = abs(d)
    if a != 0 && (a < 1e-4 || a >= 1e16) {
        // Positional from Swift but exponent form in Python: rebuild from the digit string.
        let neg = d < 0
        let t = neg ? String(s.dropFirst()) : s
        let parts = t.split(separator: ".", omittingEmptySubsequences: false)
        let intPart = String(parts[0])
        let frac = parts.count > 1 ? String(parts[1]) : ""
        var digits = intPart + frac
        var point = intPart.count
        while digits.hasPrefix("0") { digits.removeFirst(); point -= 1 }
        while digits.hasSuffix("0") { digits.removeLast() }
        let exp = point - 1
        var mant = String(digits.prefix(1))
        if digits.count > 1 { mant += "." + digits.dropFirst() }
        return (neg ? "-" : "") + mant + "e" + (exp < 0 ? "-" : "+") + (abs(exp) < 10 ? "0" : "") + String(abs(exp))
    }
    if !s.contains(".") { s += ".0" }
    return s
}

/// Python's `repr(str)`.
func pythonStringRepr(_ s: String) -> String {
    let quote: Unicode.Scalar = (s.contains("'") && !s.contains("\"")) ? "\"" : "'"
    var out = String(Character(quote))
    for u in s.unicodeScalars {
        switch u {
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u == quote {
                out += "\\" + String(Character(quote))
            } else if u.value < 0x20 || u.value == 0x7f {
                out += String(format: "\\x%02x", u.value)
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    out.unicodeScalars.append(quote)
    return out
}

extension JinjaValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByFloatLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    /// `"text"` literal.
    public init(stringLiteral value: String) { self = .string(value) }
    /// Integer literal.
    public init(integerLiteral value: Int) { self = .int(value) }
    /// Boolean literal.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// Float literal.
    public init(floatLiteral value: Double) { self = .double(value) }
    /// Array literal.
    public init(arrayLiteral elements: JinjaValue...) { self = .array(elements) }
    /// Dictionary literal (order preserved).
    public init(dictionaryLiteral elements: (String, JinjaValue)...) { self = .dict(OrderedDictionary(elements)) }
    /// `nil` literal is Python `None`.
    public init(nilLiteral: ()) { self = .none }
}
