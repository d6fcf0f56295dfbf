// Recursive-descent Jinja parser following jinja2's grammar and operator precedence:
// condexpr < or < and < not < compare < +,- < ~ < *,/,//,% < ** < unary < postfix/filters/tests.

struct Parser {
    let tokens: [Token]
    var p = 0
    /// Current nesting of blocks/expressions; bounded so hostile templates fail cleanly instead of
    /// overflowing the stack.
    var nesting = 0
    static let maxNesting = 100

    mutating func enter() throws {
        nesting += 1
        if nesting > Parser.maxNesting { throw fail("template nested too deeply (more than \(Parser.maxNesting) levels)") }
    }

    init(tokens: [Token]) { self.tokens = tokens }

    var cur: Token { tokens[p] }
    var next: Token { tokens[min(p + 1, tokens.count - 1)] }

    func fail(_ m: String, _ t: Token? = nil) -> ChatTemplateError {
        let pos = (t ?? cur).pos
        return ChatTemplateError(m, line: pos.line, column: pos.column)
    }

    func describe(_ k: TokenKind) -> String {
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

    func isOp(_ o: String) -> Bool { if case let .op(x) = cur.kind { return x == o } else { return false } }
    func isName(_ n: String) -> Bool { if case let .name(x) = cur.kind { return x == n } else { return false } }

    mutating func expectOp(_ o: String) throws {
        guard isOp(o) else { throw fail("expected token '\(o)', got '\(describe(cur.kind))'") }
        p += 1
    }

    mutating func expectName() throws -> String {
        guard case let .name(n) = cur.kind else { throw fail("expected token 'name', got '\(describe(cur.kind))'") }
        p += 1
        return n
    }

    mutating func expectBlockEnd() throws {
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
    mutating func subparse(_ ends: Set<String>) throws -> ([Node], String?) {
        try enter()
        defer { nesting -= 1 }
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

    mutating func parseStatement(_ tag: String) throws -> [Node]? {
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

    mutating func skipEndTag() throws {
        // jinja2 allows an optional repeated name after endmacro/endblock only; we accept end immediately.
        try expectBlockEnd()
    }

    mutating func parseSignature() throws -> [(String, Expr?)] {
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

    mutating func parseIf() throws -> Node {
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

    mutating func parseFor(_ start: Token) throws -> Node {
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

    mutating func parseSet(_ start: Token) throws -> Node {
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

    mutating func parseAssignTarget(extraEnd: Set<String> = [], withNamespace: Bool = false) throws -> Target {
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

    mutating func parseFilterChain(first: Bool) throws -> [(String, [Expr], [(String, Expr)])] {
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
}
