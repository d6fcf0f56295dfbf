// Expression grammar of the Jinja parser (jinja2 precedence, see Parser.swift).

extension Parser {
    // MARK: expressions

    func atTupleEnd(_ extraEnd: Set<String>) -> Bool {
        switch cur.kind {
        case .varEnd, .blockEnd, .eof: return true
        case let .op(o): return o == ")" || o == "]" || o == "}" || o == "="
        case let .name(n): return extraEnd.contains(n)
        default: return false
        }
    }

    mutating func parseTuple(withCondexpr: Bool = true, extraEnd: Set<String> = [], explicitParens: Bool = false) throws -> Expr {
        let start = cur.pos
        var items: [Expr] = []
        var sawComma = false
        while true {
            if !items.isEmpty {
                guard isOp(",") else { break }
                p += 1
                sawComma = true
            }
            if atTupleEnd(extraEnd) { break }
            items.append(withCondexpr ? try parseExpression() : try parseOr())
        }
        if !sawComma {
            if let f = items.first { return f }
            if !explicitParens { throw fail("Expected an expression, got '\(describe(cur.kind))'") }
        }
        return .tuple(items, start)
    }

    mutating func parseExpression() throws -> Expr {
        try enter()
        defer { nesting -= 1 }
        var e = try parseOr()
        while isName("if") {
            let pos = cur.pos
            p += 1
            let cond = try parseOr()
            var other: Expr? = nil
            if isName("else") { p += 1; other = try parseExpression() }
            e = .conditional(test: cond, then: e, otherwise: other, pos)
        }
        return e
    }

    mutating func parseOr() throws -> Expr {
        var e = try parseAnd()
        while isName("or") { let pos = cur.pos; p += 1; e = .or(e, try parseAnd(), pos) }
        return e
    }

    mutating func parseAnd() throws -> Expr {
        var e = try parseNot()
        while isName("and") { let pos = cur.pos; p += 1; e = .and(e, try parseNot(), pos) }
        return e
    }

    mutating func parseNot() throws -> Expr {
        if isName("not") { let pos = cur.pos; p += 1; return .unary("not", try parseNot(), pos) }
        return try parseCompare()
    }

    mutating func parseCompare() throws -> Expr {
        let pos = cur.pos
        let e = try parseMath1()
        var ops: [(String, Expr)] = []
        while true {
            if case let .op(o) = cur.kind, ["==", "!=", "<", ">", "<=", ">="].contains(o) {
                p += 1
                ops.append((o, try parseMath1()))
            } else if isName("in") {
                p += 1
                ops.append(("in", try parseMath1()))
            } else if isName("not"), case .name("in") = next.kind {
                p += 2
                ops.append(("notin", try parseMath1()))
            } else { break }
        }
        return ops.isEmpty ? e : .compare(e, ops, pos)
    }

    mutating func parseMath1() throws -> Expr {
        var e = try parseConcat()
        while case let .op(o) = cur.kind, o == "+" || o == "-" {
            let pos = cur.pos
            p += 1
            e = .binary(o, e, try parseConcat(), pos)
        }
        return e
    }

    mutating func parseConcat() throws -> Expr {
        var e = try parseMath2()
        while isOp("~") { let pos = cur.pos; p += 1; e = .binary("~", e, try parseMath2(), pos) }
        return e
    }

    mutating func parseMath2() throws -> Expr {
        var e = try parsePow()
        while case let .op(o) = cur.kind, ["*", "/", "//", "%"].contains(o) {
            let pos = cur.pos
            p += 1
            e = .binary(o, e, try parsePow(), pos)
        }
        return e
    }

    mutating func parsePow() throws -> Expr {
        var e = try parseUnary()
        while isOp("**") { let pos = cur.pos; p += 1; e = .binary("**", e, try parseUnary(), pos) }
        return e
    }

    mutating func parseUnary(withFilter: Bool = true) throws -> Expr {
        try enter()
        defer { nesting -= 1 }
        var e: Expr
        let pos = cur.pos
        if isOp("-") { p += 1; e = .unary("-", try parseUnary(withFilter: false), pos) } else if isOp("+") {
            p += 1
            e = .unary("+", try parseUnary(withFilter: false), pos)
        } else { e = try parsePrimary() }
        e = try parsePostfix(e)
        if withFilter { e = try parseFilterExpr(e) }
        return e
    }

    mutating func parsePrimary() throws -> Expr {
        let t = cur
        switch t.kind {
        case let .name(n):
            p += 1
            switch n {
            case "true", "True": return .literal(.bool(true), t.pos)
            case "false", "False": return .literal(.bool(false), t.pos)
            case "none", "None": return .literal(.none, t.pos)
            default: return .name(n, t.pos)
            }
        case var .string(s):
            p += 1
            while case let .string(more) = cur.kind { s += more; p += 1 }
            return .literal(.string(s), t.pos)
        case let .int(i): p += 1; return .literal(.int(i), t.pos)
        case let .float(d): p += 1; return .literal(.double(d), t.pos)
        case .op("("):
            p += 1
            let e = try parseTuple(explicitParens: true)
            try expectOp(")")
            return e
        case .op("["):
            p += 1
            var items: [Expr] = []
            while !isOp("]") {
                if !items.isEmpty { try expectOp(",") }
                if isOp("]") { break }
                items.append(try parseExpression())
            }
            try expectOp("]")
            return .list(items, t.pos)
        case .op("{"):
            p += 1
            var items: [(Expr, Expr)] = []
            while !isOp("}") {
                if !items.isEmpty { try expectOp(",") }
                if isOp("}") { break }
                let k = try parseExpression()
                try expectOp(":")
                items.append((k, try parseExpression()))
            }
            try expectOp("}")
            return .dict(items, t.pos)
        default:
            throw fail("unexpected '\(describe(t.kind))'")
        }
    }

    mutating func parsePostfix(_ base: Expr) throws -> Expr {
        var e = base
        while true {
            let pos = cur.pos
            if isOp(".") {
                p += 1
                switch cur.kind {
                case let .name(n): p += 1; e = .attribute(e, n, pos)
                case let .int(i): p += 1; e = .item(e, .literal(.int(i), pos), pos)
                default: throw fail("expected name or number")
                }
            } else if isOp("[") {
                p += 1
                e = try parseSubscript(e, pos)
            } else if isOp("(") {
                let (a, k) = try parseCallArgs()
                e = .call(e, a, k, pos)
            } else { return e }
        }
    }

    mutating func parseSubscript(_ base: Expr, _ pos: SourcePos) throws -> Expr {
        var parts: [Expr?] = [nil]
        var isSlice = false
        while !isOp("]") {
            if isOp(":") {
                isSlice = true
                p += 1
                parts.append(nil)
                continue
            }
            parts[parts.count - 1] = try parseExpression()
        }
        try expectOp("]")
        if !isSlice {
            guard let idx = parts[0] else { throw fail("expected subscript expression") }
            return .item(base, idx, pos)
        }
        while parts.count < 3 { parts.append(nil) }
        return .slice(base, parts[0], parts[1], parts[2], pos)
    }

    mutating func parseCallArgs() throws -> ([Expr], [(String, Expr)]) {
        try expectOp("(")
        var args: [Expr] = [], kwargs: [(String, Expr)] = []
        while !isOp(")") {
            if !args.isEmpty || !kwargs.isEmpty { try expectOp(",") }
            if isOp(")") { break }
            if isOp("*") || isOp("**") {
                // *args / **kwargs splats, evaluated by Evaluator.evalArgs.
                let pos = cur.pos
                let star = isOp("**") ? "**" : "*"
                p += 1
                let e = try parseExpression()
                if star == "**" { kwargs.append(("**", e)) } else { args.append(.unary("*", e, pos)) }
            } else if case let .name(n) = cur.kind, case .op("=") = next.kind {
                p += 2
                kwargs.append((n, try parseExpression()))
            } else {
                if !kwargs.isEmpty { throw fail("positional argument follows keyword argument") }
                args.append(try parseExpression())
            }
        }
        try expectOp(")")
        return (args, kwargs)
    }

    mutating func parseFilterExpr(_ base: Expr) throws -> Expr {
        var e = base
        while true {
            let pos = cur.pos
            if isOp("|") {
                p += 1
                for (name, a, k) in try parseFilterChain(first: true) { e = .filter(e, name, a, k, pos) }
            } else if isName("is") {
                p += 1
                var negated = false
                if isName("not") { p += 1; negated = true }
                var name = try expectName()
                while isOp(".") { p += 1; name += "." + (try expectName()) }
                var args: [Expr] = []
                if isOp("(") {
                    args = try parseCallArgs().0
                } else {
                    switch cur.kind {
                    case .name("else"), .name("or"), .name("and"): break
                    case .name("is"): throw fail("You cannot chain multiple tests with is")
                    case .name, .string, .int, .float, .op("("), .op("["), .op("{"):
                        args = [try parsePostfix(try parsePrimary())]
                    default: break
                    }
                }
                e = .test(e, name, args, negated, pos)
            } else if isOp("(") {
                let (a, k) = try parseCallArgs()
                e = .call(e, a, k, pos)
            } else { return e }
        }
    }
}
