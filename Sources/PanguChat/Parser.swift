// Recursive-descent Jinja parser following jinja2's grammar and operator precedence:
// condexpr < or < and < not < compare < +,- < ~ < *,/,//,% < ** < unary < postfix/filters/tests.

struct Parser {
    private let tokens: [Token]
    private var p = 0

    init(tokens: [Token]) { self.tokens = tokens }

    private var cur: Token { tokens[p] }
    private var next: Token { tokens[min(p + 1, tokens.count - 1)] }

    private func fail(_ m: String, _ t: Token? = nil) -> ChatTemplateError {
        let pos = (t ?? cur).pos
        return ChatTemplateError(m, line: pos.line, column: pos.column)
    }

    private func describe(_ k: TokenKind) -> String {
        switch k {
        case let .text(s): return "text \(pythonStringRepr(s))"
        case .varBegin: return "begin of print statement"
        case .varEnd: return "end of print statement"
        case .blockBegin: return "begin of statement block"
        case .blockEnd: return "end of statement block"
        case let .name(n): return n
        case let .string(s): return pythonStringRepr(s)
        case let .int(i): return String(i)
        case let .float(d): return pythonFloatRepr(d)
        case let .op(o): return o
        case .eof: return "end of template"
        }
    }

    private func isOp(_ o: String) -> Bool { if case let .op(x) = cur.kind { return x == o } else { return false } }
    private func isName(_ n: String) -> Bool { if case let .name(x) = cur.kind { return x == n } else { return false } }

    private mutating func expectOp(_ o: String) throws {
        guard isOp(o) else { throw fail("expected token '\(o)', got '\(describe(cur.kind))'") }
        p += 1
    }

    private mutating func expectName() throws -> String {
        guard case let .name(n) = cur.kind else { throw fail("expected token 'name', got '\(describe(cur.kind))'") }
        p += 1
        return n
    }

    private mutating func expectBlockEnd() throws {
        guard case .blockEnd = cur.kind else { throw fail("expected token 'end of statement block', got '\(describe(cur.kind))'") }
        p += 1
    }

    // MARK: statements

    mutating func parseTemplate() throws -> [Node] {
        let (nodes, end) = try subparse([])
        if let end { throw fail("Encountered unknown tag '\(end)'.") }
        return nodes
    }

    /// Parses nodes until a block tag named in `ends`; returns the tag found, positioned after its name.
    private mutating func subparse(_ ends: Set<String>) throws -> ([Node], String?) {
        var nodes: [Node] = []
        while true {
            let t = cur
            switch t.kind {
            case .eof:
                if !ends.isEmpty {
                    throw fail("Unexpected end of template. Jinja was looking for the following tags: "
                        + ends.sorted().map { "'\($0)'" }.joined(separator: " or ") + ".")
                }
                return (nodes, nil)
            case let .text(s):
                nodes.append(.text(s))
                p += 1
            case .varBegin:
                p += 1
                let e = try parseTuple()
                guard case .varEnd = cur.kind else { throw fail("expected token 'end of print statement', got '\(describe(cur.kind))'") }
                p += 1
                nodes.append(.output(e, t.pos))
            case .blockBegin:
                p += 1
                guard case let .name(tag) = cur.kind else { throw fail("tag name expected") }
                if ends.contains(tag) { p += 1; return (nodes, tag) }
                if let n = try parseStatement(tag) { nodes.append(contentsOf: n) }
            default:
                throw fail("unexpected '\(describe(t.kind))'")
            }
        }
    }

    private mutating func parseStatement(_ tag: String) throws -> [Node]? {
        let start = cur
        p += 1
        switch tag {
        case "if": return [try parseIf()]
        case "for": return [try parseFor(start)]
        case "set": return [try parseSet(start)]
        case "macro":
            let name = try expectName()
            let params = try parseSignature()
            try expectBlockEnd()
            let (body, _) = try subparse(["endmacro"])
            try skipEndTag()
            return [.macro(MacroDef(name: name, params: params, body: body), start.pos)]
        case "call":
            var params: [(String, Expr?)] = []
            if isOp("(") { params = try parseSignature() }
            let call = try parseExpression()
            try expectBlockEnd()
            let (body, _) = try subparse(["endcall"])
            try skipEndTag()
            return [.callBlock(call: call, params: params, body: body, start.pos)]
        case "filter":
            let filters = try parseFilterChain(first: true)
            try expectBlockEnd()
            let (body, _) = try subparse(["endfilter"])
            try skipEndTag()
            return [.filterBlock(filters, body, start.pos)]
        case "with":
            var assigns: [(Target, Expr)] = []
            while case .name = cur.kind {
                let t = try parseAssignTarget()
                try expectOp("=")
                assigns.append((t, try parseExpression()))
                if isOp(",") { p += 1 } else { break }
            }
            try expectBlockEnd()
            let (body, _) = try subparse(["endwith"])
            try skipEndTag()
            return [.with(assigns, body, start.pos)]
        case "break":
            try expectBlockEnd()
            return [.breakLoop(start.pos)]
        case "continue":
            try expectBlockEnd()
            return [.continueLoop(start.pos)]
        case "generation":
            // Hugging Face's AssistantTracker extension: renders its body unchanged.
            try expectBlockEnd()
            let (body, _) = try subparse(["endgeneration"])
            try skipEndTag()
            return body
        default:
            throw fail("Encountered unknown tag '\(tag)'.", start)
        }
    }

    private mutating func skipEndTag() throws {
        // jinja2 allows an optional repeated name after endmacro/endblock only; we accept end immediately.
        try expectBlockEnd()
    }

    private mutating func parseSignature() throws -> [(String, Expr?)] {
        try expectOp("(")
        var params: [(String, Expr?)] = []
        while !isOp(")") {
            if !params.isEmpty { try expectOp(",") }
            if isOp(")") { break }
            let n = try expectName()
            if isOp("=") { p += 1; params.append((n, try parseExpression())) } else { params.append((n, nil)) }
        }
        try expectOp(")")
        return params
    }

    private mutating func parseIf() throws -> Node {
        var branches: [(Expr, [Node])] = []
        var cond = try parseTuple(withCondexpr: false)
        try expectBlockEnd()
        while true {
            let (body, end) = try subparse(["elif", "else", "endif"])
            branches.append((cond, body))
            if end == "elif" {
                cond = try parseTuple(withCondexpr: false)
                try expectBlockEnd()
                continue
            }
            if end == "else" {
                try expectBlockEnd()
                let (elseBody, _) = try subparse(["endif"])
                try expectBlockEnd()
                return .ifBlock(branches, elseBody)
            }
            try expectBlockEnd()
            return .ifBlock(branches, nil)
        }
    }

    private mutating func parseFor(_ start: Token) throws -> Node {
        let target = try parseAssignTarget(extraEnd: ["in"])
        guard isName("in") else { throw fail("expected token 'in', got '\(describe(cur.kind))'") }
        p += 1
        let iter = try parseTuple(withCondexpr: false, extraEnd: ["recursive", "if"])
        var filter: Expr? = nil
        if isName("if") { p += 1; filter = try parseExpression() }
        var recursive = false
        if isName("recursive") { p += 1; recursive = true }
        try expectBlockEnd()
        let (body, end) = try subparse(["endfor", "else"])
        var otherwise: [Node] = []
        if end == "else" {
            try expectBlockEnd()
            (otherwise, _) = try subparse(["endfor"])
        }
        try expectBlockEnd()
        return .forLoop(target: target, iter: iter, filter: filter, body: body, otherwise: otherwise,
                        recursive: recursive, start.pos)
    }

    private mutating func parseSet(_ start: Token) throws -> Node {
        let target = try parseAssignTarget(withNamespace: true)
        if isOp("=") {
            p += 1
            let e = try parseTuple()
            try expectBlockEnd()
            return .set(target, e, start.pos)
        }
        var filters: [(String, [Expr], [(String, Expr)])] = []
        if isOp("|") { filters = try parseFilterChain(first: false) }
        try expectBlockEnd()
        let (body, _) = try subparse(["endset"])
        try expectBlockEnd()
        return .setBlock(target, body, filters, start.pos)
    }

    private mutating func parseAssignTarget(extraEnd: Set<String> = [], withNamespace: Bool = false) throws -> Target {
        func one(_ me: inout Parser) throws -> Target {
            if me.isOp("(") {
                me.p += 1
                let t = try me.parseAssignTarget()
                try me.expectOp(")")
                return t
            }
            let n = try me.expectName()
            if withNamespace && me.isOp(".") {
                me.p += 1
                return .attribute(n, try me.expectName())
            }
            return .name(n)
        }
        var items = [try one(&self)]
        var sawComma = false
        while isOp(",") {
            sawComma = true
            p += 1
            if case .name(let n) = cur.kind, !extraEnd.contains(n) { items.append(try one(&self)) } else if isOp("(") {
                items.append(try one(&self))
            } else { break }
        }
        return sawComma ? .tuple(items) : items[0]
    }

    private mutating func parseFilterChain(first: Bool) throws -> [(String, [Expr], [(String, Expr)])] {
        var out: [(String, [Expr], [(String, Expr)])] = []
        var needPipe = !first
        while true {
            if needPipe { guard isOp("|") else { break }; p += 1 }
            needPipe = true
            var name = try expectName()
            while isOp(".") { p += 1; name += "." + (try expectName()) }
            var args: [Expr] = [], kwargs: [(String, Expr)] = []
            if isOp("(") { (args, kwargs) = try parseCallArgs() }
            out.append((name, args, kwargs))
        }
        return out
    }

    // MARK: expressions

    private func atTupleEnd(_ extraEnd: Set<String>) -> Bool {
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

    private mutating func parseOr() throws -> Expr {
        var e = try parseAnd()
        while isName("or") { let pos = cur.pos; p += 1; e = .or(e, try parseAnd(), pos) }
        return e
    }

    private mutating func parseAnd() throws -> Expr {
        var e = try parseNot()
        while isName("and") { let pos = cur.pos; p += 1; e = .and(e, try parseNot(), pos) }
        return e
    }

    private mutating func parseNot() throws -> Expr {
        if isName("not") { let pos = cur.pos; p += 1; return .unary("not", try parseNot(), pos) }
        return try parseCompare()
    }

    private mutating func parseCompare() throws -> Expr {
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

    private mutating func parseMath1() throws -> Expr {
        var e = try parseConcat()
        while case let .op(o) = cur.kind, o == "+" || o == "-" {
            let pos = cur.pos
            p += 1
            e = .binary(o, e, try parseConcat(), pos)
        }
        return e
    }

    private mutating func parseConcat() throws -> Expr {
        var e = try parseMath2()
        while isOp("~") { let pos = cur.pos; p += 1; e = .binary("~", e, try parseMath2(), pos) }
        return e
    }

    private mutating func parseMath2() throws -> Expr {
        var e = try parsePow()
        while case let .op(o) = cur.kind, ["*", "/", "//", "%"].contains(o) {
            let pos = cur.pos
            p += 1
            e = .binary(o, e, try parsePow(), pos)
        }
        return e
    }

    private mutating func parsePow() throws -> Expr {
        var e = try parseUnary()
        while isOp("**") { let pos = cur.pos; p += 1; e = .binary("**", e, try parseUnary(), pos) }
        return e
    }

    private mutating func parseUnary(withFilter: Bool = true) throws -> Expr {
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

    private mutating func parsePrimary() throws -> Expr {
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

    private mutating func parsePostfix(_ base: Expr) throws -> Expr {
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

    private mutating func parseSubscript(_ base: Expr, _ pos: SourcePos) throws -> Expr {
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

    private mutating func parseCallArgs() throws -> ([Expr], [(String, Expr)]) {
        try expectOp("(")
        var args: [Expr] = [], kwargs: [(String, Expr)] = []
        while !isOp(")") {
            if !args.isEmpty || !kwargs.isEmpty { try expectOp(",") }
            if isOp(")") { break }
            if case let .name(n) = cur.kind, case .op("=") = next.kind {
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

    private mutating func parseFilterExpr(_ base: Expr) throws -> Expr {
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
