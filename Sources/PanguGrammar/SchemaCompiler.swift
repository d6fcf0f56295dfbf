// JSON Schema → NFA fragment. Every keyword is either enforced, an annotation (ignored because it never
// changes validity), or rejected with its JSON path. Supported set and generation choices:
// Docs/ConstrainedDecoding.md.

/// Compiles schemas into fragments of one grammar under construction.
struct SchemaCompiler {
    var b: NFABuilder
    /// Symbol that calls the free-form value rule.
    let anyValueCall: UInt16
    /// The document root, for `$ref` resolution.
    let root: JSONValue
    private var refStack: [String] = []

    static let annotations: Set<String> = [
        "title", "description", "default", "examples", "$schema", "$id", "$comment", "$anchor", "deprecated",
        "readOnly", "writeOnly", "format", "contentEncoding", "contentMediaType", "$defs", "definitions",
        // OpenAPI extras found in tool schemas: `nullable: true` only widens what is valid, so generating
        // without null stays valid; `example` is documentation.
        "nullable", "example",
    ]
    static let objectKeywords: Set<String> = ["properties", "required", "additionalProperties"]
    static let arrayKeywords: Set<String> = ["items", "minItems", "maxItems", "uniqueItems"]
    static let stringKeywords: Set<String> = ["minLength", "maxLength"]
    static let numberKeywords: Set<String> = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]
    static let otherKeywords: Set<String> = ["type", "enum", "const", "anyOf", "oneOf", "allOf", "$ref"]
    static let types: [String] = ["object", "array", "string", "integer", "number", "boolean", "null"]

    init(builder: NFABuilder, anyValueCall: UInt16, root: JSONValue) {
        b = builder
        self.anyValueCall = anyValueCall
        self.root = root
    }

    private func fail(_ path: String, _ detail: String) -> GrammarError { .invalidSchema(path: path, detail: detail) }

    /// Fragment accepting (a canonical subset of) the instances valid against `schema`.
    mutating func compile(_ schema: JSONValue, path: String) throws -> NFABuilder.Frag {
        let members: [(String, JSONValue)]
        switch schema {
        case .bool(true): return try b.symbol(anyValueCall)
        case .bool(false): throw fail(path, "schema false accepts no value")
        case let .object(m): members = m
        default: throw fail(path, "a schema must be an object or a boolean")
        }
        let known = Self.annotations.union(Self.objectKeywords).union(Self.arrayKeywords).union(Self.stringKeywords)
            .union(Self.numberKeywords).union(Self.otherKeywords)
        for (k, _) in members where !known.contains(k) && !k.hasPrefix("x-") {
            throw fail(path + "/" + k, "keyword \"\(k)\" is not supported by constrained decoding")
        }
        let constraining = members.map(\.0).filter { !Self.annotations.contains($0) }

        if let ref = schema["$ref"] { return try compileRef(ref, schema: schema, constraining: constraining, path: path) }
        for combiner in ["anyOf", "oneOf", "allOf"] {
            guard let list = schema[combiner] else { continue }
            return try compileCombiner(combiner, list, constraining: constraining, path: path)
        }
        let types = try typeSet(schema, path: path)
        if let c = schema["const"] {
            try checkOnly(["const", "type"], constraining, path)
            guard types.map({ Self.matches(c, type: $0) }).contains(true) else {
                throw fail(path + "/const", "const value does not match the schema type")
            }
            return try b.literal(c.compactJSON)
        }
        if let e = schema["enum"] {
            try checkOnly(["enum", "type"], constraining, path)
            guard case let .array(values) = e, !values.isEmpty else { throw fail(path + "/enum", "enum must be a non-empty array") }
            let kept = values.filter { v in types.contains { Self.matches(v, type: $0) } }
            guard !kept.isEmpty else { throw fail(path + "/enum", "no enum value matches the schema type") }
            var seen = Set<String>(), frags: [NFABuilder.Frag] = []
            for v in kept where seen.insert(v.compactJSON).inserted { frags.append(try b.literal(v.compactJSON)) }
            return try b.alt(frags)
        }
        if types.count == Self.types.count && !constraining.contains(where: { $0 != "type" }) {
            return try b.symbol(anyValueCall)
        }
        var frags: [NFABuilder.Frag] = []
        for t in types where !(t == "integer" && types.contains("number") && !hasNumericBounds(schema)) {
            frags.append(try compileType(t, schema, path: path))
        }
        return frags.count == 1 ? frags[0] : try b.alt(frags)
    }

    /// `true`, or an object schema with annotations only.
    static func isUnconstrained(_ s: JSONValue) -> Bool {
        if s == .bool(true) { return true }
        guard case let .object(m) = s else { return false }
        return m.allSatisfy { annotations.contains($0.0) || $0.0.hasPrefix("x-") }
    }

    private func hasNumericBounds(_ s: JSONValue) -> Bool { Self.numberKeywords.contains { s[$0] != nil } }

    private func checkOnly(_ allowed: Set<String>, _ constraining: [String], _ path: String) throws {
        if let extra = constraining.first(where: { !allowed.contains($0) }) {
            throw fail(path + "/" + extra, "\"\(extra)\" combined with \(allowed.sorted().first!) is not supported")
        }
    }

    /// Declared types, or the types implied by the keywords present, or all types.
    private func typeSet(_ schema: JSONValue, path: String) throws -> [String] {
        if let t = schema["type"] {
            var list: [String] = []
            switch t {
            case let .string(s): list = [s]
            case let .array(a):
                for (i, v) in a.enumerated() {
                    guard case let .string(s) = v else { throw fail(path + "/type/\(i)", "type names must be strings") }
                    list.append(s)
                }
            default: throw fail(path + "/type", "type must be a string or an array of strings")
            }
            for s in list where !Self.types.contains(s) { throw fail(path + "/type", "unknown type \"\(s)\"") }
            guard !list.isEmpty else { throw fail(path + "/type", "empty type list accepts no value") }
            return Self.types.filter(list.contains)
        }
        if schema["const"] != nil || schema["enum"] != nil { return Self.types }
        // No type: generate the type the keywords describe (a subset of what the schema accepts).
        var implied: [String] = []
        if Self.objectKeywords.contains(where: { schema[$0] != nil }) { implied.append("object") }
        if Self.arrayKeywords.contains(where: { schema[$0] != nil }) { implied.append("array") }
        if Self.stringKeywords.contains(where: { schema[$0] != nil }) { implied.append("string") }
        if Self.numberKeywords.contains(where: { schema[$0] != nil }) { implied.append("number") }
        return implied.isEmpty ? Self.types : implied
    }

    static func matches(_ v: JSONValue, type: String) -> Bool {
        switch (v, type) {
        case (.object, "object"), (.array, "array"), (.string, "string"), (.bool, "boolean"), (.null, "null"),
             (.number, "number"): return true
        case let (.number(n), "integer"): return DecimalBound(literal: n)?.isInteger ?? false
        default: return false
        }
    }

    private mutating func compileType(_ type: String, _ s: JSONValue, path: String) throws -> NFABuilder.Frag {
        switch type {
        case "null": return try b.literal("null")
        case "boolean": return try b.alt([try b.literal("true"), try b.literal("false")])
        case "string":
            let minL = try count(s, "minLength", path) ?? 0
            let maxL = try count(s, "maxLength", path)
            if let maxL, maxL < minL { throw fail(path + "/maxLength", "maxLength \(maxL) < minLength \(minL)") }
            return try b.jsonString(min: minL, max: maxL)
        case "integer", "number": return try compileNumber(integer: type == "integer", s, path: path)
        case "array": return try compileArray(s, path: path)
        default: return try compileObject(s, path: path)
        }
    }

    private func count(_ s: JSONValue, _ key: String, _ path: String) throws -> Int? {
        guard let v = s[key] else { return nil }
        guard case let .number(n) = v, let d = DecimalBound(literal: n), d.isInteger, !d.negative, !d.huge else {
            throw fail(path + "/" + key, "\(key) must be a non-negative integer")
        }
        return d.intValue
    }

    private mutating func compileNumber(integer: Bool, _ s: JSONValue, path: String) throws -> NFABuilder.Frag {
        func bound(_ key: String) throws -> DecimalBound? {
            guard let v = s[key] else { return nil }
            guard case let .number(n) = v, let d = DecimalBound(literal: n) else {
                throw fail(path + "/" + key, "\(key) must be a number (the draft-4 boolean form is not supported)")
            }
            return d
        }
        // Tightest lower and upper bounds (value, exclusive).
        var lo: (DecimalBound, Bool)?, hi: (DecimalBound, Bool)?
        for (key, ex) in [("minimum", false), ("exclusiveMinimum", true)] {
            guard let d = try bound(key) else { continue }
            if lo == nil || lo!.0 < d || (lo!.0 == d && ex) { lo = (d, ex) }
        }
        for (key, ex) in [("maximum", false), ("exclusiveMaximum", true)] {
            guard let d = try bound(key) else { continue }
            if hi == nil || d < hi!.0 || (hi!.0 == d && ex) { hi = (d, ex) }
        }
        if let l = lo, l.0.huge, !l.0.negative {
            throw fail(path + "/minimum", "lower bound beyond the \(JSONLimits.maxIntegerDigits)-digit number limit")
        }
        if let h = hi, h.0.huge, h.0.negative {
            throw fail(path + "/maximum", "upper bound beyond the \(JSONLimits.maxIntegerDigits)-digit number limit")
        }
        if lo?.0.huge ?? false { lo = nil }
        if hi?.0.huge ?? false { hi = nil }
        if let l = lo, let h = hi, h.0 < l.0 || (l.0 == h.0 && (l.1 || h.1)) {
            throw fail(path, "the numeric bounds leave no valid value")
        }
        if integer {
            let li = lo.map { $0.0.ceilInt(strict: $0.1) }, hi2 = hi.map { $0.0.floorInt(strict: $0.1) }
            if let li, let hi2, li > hi2 { throw fail(path, "no integer lies within the bounds") }
            return try b.integerRange(li, hi2)
        }
        if lo == nil && hi == nil { return try b.jsonNumber() }
        return try b.decimalRange(lo: lo, hi: hi)
    }

    private mutating func compileArray(_ s: JSONValue, path: String) throws -> NFABuilder.Frag {
        let minI = try count(s, "minItems", path) ?? 0
        let maxI = try count(s, "maxItems", path)
        if let maxI, maxI < minI { throw fail(path + "/maxItems", "maxItems \(maxI) < minItems \(minI)") }
        if let u = s["uniqueItems"], u == .bool(true), (maxI ?? 2) > 1 {
            throw fail(path + "/uniqueItems", "uniqueItems true is not supported (unless maxItems <= 1)")
        }
        let items = s["items"] ?? .bool(true)
        if case .array = items { throw fail(path + "/items", "the array form of items is not supported") }
        let itemPath = path + "/items"
        let open = try b.seq([try b.literal("["), try b.ws()])
        if items == .bool(false) && minI > 0 { throw fail(path + "/items", "items false leaves no array with minItems \(minI)") }
        if maxI == 0 || items == .bool(false) { return try b.seq([open, try b.literal("]")]) }
        let list = try repeatFragments(&self, \.b, min: max(minI, 1), max: maxI,
                                       separator: { try $0.b.padded(",") }) { try $0.compile(items, path: itemPath) }
        let filled = try b.seq([list, try b.ws(), try b.literal("]")])
        return try b.seq([open, minI == 0 ? try b.alt([filled, try b.literal("]")]) : filled])
    }

    private mutating func compileObject(_ s: JSONValue, path: String) throws -> NFABuilder.Frag {
        var props: [(String, JSONValue, String)] = []
        if let p = s["properties"] {
            guard case let .object(m) = p else { throw fail(path + "/properties", "properties must be an object") }
            for (k, v) in m where !props.contains(where: { $0.0 == k }) { props.append((k, v, path + "/properties/" + k)) }
        }
        var required = Set<String>()
        if let r = s["required"] {
            guard case let .array(a) = r else { throw fail(path + "/required", "required must be an array of strings") }
            for v in a {
                guard case let .string(k) = v else { throw fail(path + "/required", "required must be an array of strings") }
                required.insert(k)
                if !props.contains(where: { $0.0 == k }) {
                    // Required but not declared: its schema is additionalProperties.
                    let extra = s["additionalProperties"] ?? .bool(true)
                    if extra == .bool(false) {
                        throw fail(path + "/required", "required property \"\(k)\" is forbidden by additionalProperties false")
                    }
                    props.append((k, extra, path + "/additionalProperties"))
                }
            }
        }
        let additional = s["additionalProperties"]
        switch additional {
        case nil, .bool?, .object?: break
        default: throw fail(path + "/additionalProperties", "additionalProperties must be a boolean or a schema")
        }
        // No declared properties and extra keys allowed: a map with free keys (values: additionalProperties).
        if props.isEmpty, additional != .bool(false) {
            let a = additional ?? .bool(true)
            let open = try b.seq([try b.literal("{"), try b.ws()])
            let list = try repeatFragments(&self, \.b, min: 1, max: nil, separator: { try $0.b.padded(",") }) { me in
                let key = try me.b.jsonString()
                let colon = try me.b.padded(":")
                let value = try me.compile(a, path: path + "/additionalProperties")
                return try me.b.seq([key, colon, value])
            }
            let filled = try b.seq([list, try b.ws(), try b.literal("}")])
            return try b.seq([open, try b.alt([filled, try b.literal("}")])])
        }
        // Declared properties in schema order; optional ones may be skipped. State (i, emitted-any).
        let start = try b.node()
        var prevNone = start, prevSome = try b.node()
        let open = try b.seq([try b.literal("{"), try b.ws()])
        b.epsilon(open.end, start)
        for (k, v, p) in props {
            let entry = try b.node()
            b.epsilon(prevNone, entry)
            let sep = try b.padded(",")
            b.epsilon(prevSome, sep.start)
            b.epsilon(sep.end, entry)
            let member = try b.seq([try b.literal(JSONValue.quote(k)), try b.padded(":"), try compile(v, path: p)])
            b.epsilon(entry, member.start)
            let nextNone = try b.node(), nextSome = try b.node()
            b.epsilon(member.end, nextSome)
            if !required.contains(k) {
                b.epsilon(prevNone, nextNone)
                b.epsilon(prevSome, nextSome)
            }
            prevNone = nextNone
            prevSome = nextSome
        }
        let end = try b.node()
        let closeEmpty = try b.literal("}")
        b.epsilon(prevNone, closeEmpty.start)
        b.epsilon(closeEmpty.end, end)
        let closeSome = try b.seq([try b.ws(), try b.literal("}")])
        b.epsilon(prevSome, closeSome.start)
        b.epsilon(closeSome.end, end)
        return NFABuilder.Frag(start: open.start, end: end)
    }

    private mutating func compileRef(_ ref: JSONValue, schema: JSONValue, constraining: [String],
                                     path: String) throws -> NFABuilder.Frag {
        try checkOnly(["$ref"], constraining, path)
        guard case let .string(r) = ref, r.hasPrefix("#") else {
            throw fail(path + "/$ref", "only local references (#/$defs/...) are supported")
        }
        guard !refStack.contains(r) else { throw fail(path + "/$ref", "recursive reference \(r) is not supported") }
        guard let target = resolve(r) else { throw fail(path + "/$ref", "reference \(r) not found") }
        refStack.append(r)
        defer { refStack.removeLast() }
        return try compile(target, path: r)
    }

    private mutating func compileCombiner(_ name: String, _ list: JSONValue, constraining: [String],
                                          path: String) throws -> NFABuilder.Frag {
        try checkOnly([name], constraining, path)
        guard case let .array(alts) = list, !alts.isEmpty else { throw fail(path + "/" + name, "\(name) must be a non-empty array") }
        if name == "allOf" {
            guard alts.count == 1 else { throw fail(path + "/allOf", "allOf with more than one schema is not supported") }
            return try compile(alts[0], path: path + "/allOf/0")
        }
        if name == "oneOf" { try checkExclusive(alts, path: path + "/oneOf") }
        // An unconstrained alternative makes the whole union unconstrained.
        if alts.contains(where: Self.isUnconstrained) { return try b.symbol(anyValueCall) }
        var frags: [NFABuilder.Frag] = []
        for (i, a) in alts.enumerated() { frags.append(try compile(a, path: path + "/\(name)/\(i)")) }
        return try b.alt(frags)
    }

    /// oneOf is generated as anyOf, which is only right when no value can match two alternatives. Accepted
    /// proofs, per pair: their possible types are disjoint, or both are objects that require a common property
    /// whose `const`/`enum` value sets are disjoint (a discriminator such as `"kind": {"const": "circle"}`).
    private func checkExclusive(_ alts: [JSONValue], path: String) throws {
        struct Shape {
            var types: Set<String>
            var tags: [String: Set<String>]   // required property → allowed values (compact JSON)
        }
        var shapes: [Shape] = []
        for (i, a) in alts.enumerated() {
            var a = a
            var seenRefs = Set<String>()
            while case let .string(r)? = a["$ref"], seenRefs.insert(r).inserted, let t = resolve(r) { a = t }
            guard a["anyOf"] == nil, a["oneOf"] == nil, a["allOf"] == nil, a["$ref"] == nil else {
                throw fail(path + "/\(i)", "oneOf alternatives must not themselves be unions or references")
            }
            let ts = Set(try validatorTypes(a, path: path + "/\(i)").map { $0 == "integer" ? "number" : $0 })
            var tags: [String: Set<String>] = [:]
            if case let .array(req)? = a["required"], let props = a["properties"] {
                for case let .string(k) in req {
                    guard let p = props[k] else { continue }
                    if let c = p["const"] { tags[k] = [Self.valueKey(c)] }
                    if case let .array(vs)? = p["enum"] { tags[k] = Set(vs.map(Self.valueKey)) }
                }
            }
            shapes.append(Shape(types: ts, tags: tags))
        }
        for i in 0..<shapes.count {
            for j in (i + 1)..<shapes.count where !shapes[i].types.isDisjoint(with: shapes[j].types) {
                let x = shapes[i], y = shapes[j]
                let discriminated = x.types == ["object"] && y.types == ["object"] && x.tags.contains { k, v in
                    y.tags[k].map { $0.isDisjoint(with: v) } ?? false
                }
                guard discriminated else {
                    throw fail(path, "alternatives \(i) and \(j) may both match a value (oneOf needs different types or a "
                               + "required const/enum discriminator property); use anyOf if overlap is fine")
                }
            }
        }
    }

    /// A text equal for equal JSON values at the top level (numbers compared as decimals: 1 == 1.0).
    static func valueKey(_ v: JSONValue) -> String {
        guard case let .number(n) = v, let d = DecimalBound(literal: n) else { return v.compactJSON }
        return "n" + (d.negative ? "-" : "") + d.int.map(String.init).joined() + "." + d.frac.map(String.init).joined()
    }

    /// The types a validator lets through `schema` (not the narrower set generated from implied types):
    /// `type`, or the types of the `const`/`enum` values, else all types.
    private func validatorTypes(_ schema: JSONValue, path: String) throws -> [String] {
        if schema["type"] != nil { return try typeSet(schema, path: path) }
        var values: [JSONValue] = []
        if let c = schema["const"] { values = [c] } else if case let .array(e)? = schema["enum"] { values = e } else { return Self.types }
        return Self.types.filter { t in values.contains { Self.matches($0, type: t) } }
    }

    /// The schema a local reference points to, nil if it does not resolve.
    private func resolve(_ r: String) -> JSONValue? {
        guard r.hasPrefix("#") else { return nil }
        var target = root
        for raw in r.dropFirst().split(separator: "/", omittingEmptySubsequences: true) {
            let key = raw.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            switch target {
            case .object: guard let t = target[key] else { return nil }; target = t
            case let .array(a):
                guard let i = Int(key), i >= 0, i < a.count else { return nil }
                target = a[i]
            default: return nil
            }
        }
        return target
    }
}
