// Tree-walking evaluator for parsed templates: statements, scoping, loops, macros.
import Foundation

/// Variable scope. jinja2 semantics: `for` bodies get a fresh scope per iteration, macros and `with` get one,
/// `if` does not. Namespaces (reference types) are how templates carry state out of loops.
final class Scope {
    var vars: [String: JinjaValue] = [:]
    let parent: Scope?
    init(parent: Scope?) { self.parent = parent }

    func lookup(_ name: String) -> JinjaValue? {
        var s: Scope? = self
        while let c = s {
            if let v = c.vars[name] { return v }
            s = c.parent
        }
        return nil
    }
}

enum Flow { case normal, breakLoop, continueLoop }

/// The previous arguments of one loop's `loop.changed(...)` (a class so ``Evaluator/releaseCycles()`` can clear it).
final class ChangedState {
    var last: [JinjaValue]?
}

/// Bounds that make every render of an untrusted template end: chat templates ship inside model files, and
/// `{% for %}` nesting or recursive macros can otherwise run for hours or fill memory.
public enum TemplateLimits {
    /// Statements executed plus expressions evaluated by one render (loop iterations count
    /// ``stepsPerIteration`` each; values built count their size). Real chat templates use a few thousand.
    public static let maxSteps = 2_000_000
    /// Steps charged per `{% for %}` iteration.
    public static let stepsPerIteration = 10
    /// UTF-8 length of the rendered text (and of any block or macro output built on the way).
    public static let maxOutputBytes = 16 << 20
    /// Nesting of macro calls and recursive `loop()` calls.
    public static let maxCallDepth = 64
}

/// Renders a parsed template. One instance per render call (not thread-shared).
final class Evaluator {
    let globals: Scope
    private var depth = 0
    private var steps = 0
    /// Closures that capture a scope (macros, `caller`, recursive `loop`) and per-loop `changed` state: a template
    /// can store them where they refer back to themselves (a macro lives in the scope it captures), so
    /// ``releaseCycles()`` cuts them when the render ends; otherwise every render with a macro would leak.
    private var cyclic: [JinjaCallable] = []
    private var changedStates: [ChangedState] = []

    init(globals: Scope) { self.globals = globals }

    /// Breaks the reference cycles a render may have built (see `cyclic`); the evaluator is unusable afterwards.
    func releaseCycles() {
        for c in cyclic { c.release() }
        for c in changedStates { c.last = nil }
        cyclic.removeAll()
        changedStates.removeAll()
    }

    /// Position of the expression evaluated last (budget errors point there).
    private var lastPos = SourcePos(line: 0, column: 0)

    /// Counts one step of the budget; throws once a render has used ``TemplateLimits/maxSteps``.
    @inline(__always) private func step() throws { try charge(1) }

    /// Charges `n` steps.
    private func charge(_ n: Int) throws {
        steps += n
        if steps > TemplateLimits.maxSteps {
            throw failure("the template ran for more than \(TemplateLimits.maxSteps) steps (a loop or recursion bomb?)", lastPos)
        }
    }

    /// Appends rendered text, keeping every output buffer within ``TemplateLimits/maxOutputBytes``.
    @inline(__always) private func emit(_ s: String, _ out: inout String) throws {
        guard out.utf8.count + s.utf8.count <= TemplateLimits.maxOutputBytes else {
            throw failure("the rendered text would exceed \(TemplateLimits.maxOutputBytes) bytes", lastPos)
        }
        out += s
    }

    func failure(_ m: String, _ p: SourcePos, raised: Bool = false) -> ChatTemplateError {
        ChatTemplateError(m, line: p.line, column: p.column, raisedByTemplate: raised)
    }

    /// Runs `body`, converting internal failures into positioned ``ChatTemplateError``s.
    func positioned<T>(_ p: SourcePos, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as TemplateRuntimeFailure {
            throw failure(e.message, p)
        } catch let e as RaisedException {
            throw failure(e.message, p, raised: true)
        }
    }

    // MARK: statements

    @discardableResult
    func render(_ nodes: [Node], _ scope: Scope, _ out: inout String) throws -> Flow {
        for n in nodes {
            let f = try render(n, scope, &out)
            if f != .normal { return f }
        }
        return .normal
    }

    private func render(_ node: Node, _ scope: Scope, _ out: inout String) throws -> Flow {
        try step()
        switch node {
        case let .text(s): try emit(s, &out)
        case let .output(e, pos):
            let v = try eval(e, scope)
            try positioned(pos) { try emit(v.stringValue, &out) }
        case let .ifBlock(branches, otherwise):
            for (cond, body) in branches where try eval(cond, scope).truthy {
                return try render(body, scope, &out)
            }
            if let otherwise { return try render(otherwise, scope, &out) }
        case let .forLoop(target, iterExpr, filter, body, otherwise, recursive, pos):
            let iterable = try eval(iterExpr, scope)
            let loop = ForLoop(target: target, filter: filter, body: body, otherwise: otherwise, recursive: recursive, pos: pos)
            try runFor(loop, iterable, scope, depth: 1, &out)
        case let .set(target, e, pos):
            let v = try eval(e, scope)
            try positioned(pos) { try assign(target, v, scope) }
        case let .setBlock(target, body, filters, pos):
            var buf = ""
            try render(body, Scope(parent: scope), &buf)
            var v = JinjaValue.string(buf)
            for (name, args, kwargs) in filters { v = try applyFilter(name, v, args, kwargs, scope, pos) }
            try positioned(pos) { try assign(target, v, scope) }
        case let .macro(def, _):
            scope.vars[def.name] = .callable(makeMacro(def, scope))
        case let .callBlock(call, params, body, pos):
            let caller = makeMacro(MacroDef(name: "caller", params: params, body: body), scope)
            guard case let .call(fnExpr, argExprs, kwExprs, cpos) = call else {
                throw failure("expected a call expression in call block", pos)
            }
            let f = try eval(fnExpr, scope)
            var (a, k) = try evalArgs(argExprs, kwExprs, scope, cpos)
            k.append(("caller", .callable(caller)))
            guard case let .callable(c) = f else { throw failure("'\(f.typeName)' object is not callable", cpos) }
            let v = try positioned(cpos) { try c.body(a, k) }
            try positioned(cpos) { try emit(v.stringValue, &out) }
        case let .filterBlock(filters, body, pos):
            var buf = ""
            try render(body, scope, &buf)
            var v = JinjaValue.string(buf)
            for (name, args, kwargs) in filters { v = try applyFilter(name, v, args, kwargs, scope, pos) }
            try positioned(pos) { try emit(v.stringValue, &out) }
        case let .with(assigns, body, pos):
            let s = Scope(parent: scope)
            for (t, e) in assigns {
                let v = try eval(e, scope)
                try positioned(pos) { try assign(t, v, s) }
            }
            return try render(body, s, &out)
        case .breakLoop: return .breakLoop
        case .continueLoop: return .continueLoop
        }
        return .normal
    }

    struct ForLoop {
        let target: Target
        let filter: Expr?
        let body: [Node]
        let otherwise: [Node]
        let recursive: Bool
        let pos: SourcePos
    }

    /// Runs a for loop over `iterable`; `loop(...)` re-enters it one level deeper for `recursive` loops.
    private func runFor(_ l: ForLoop, _ iterable: JinjaValue, _ scope: Scope, depth: Int, _ out: inout String) throws {
        if depth > TemplateLimits.maxCallDepth { throw failure("maximum recursion depth exceeded", l.pos) }
        var items = try positioned(l.pos) { try iterate(iterable) }
        if let filter = l.filter {
            var kept: [JinjaValue] = []
            for item in items {
                let s = Scope(parent: scope)
                try positioned(l.pos) { try assign(l.target, item, s) }
                if try eval(filter, s).truthy { kept.append(item) }
            }
            items = kept
        }
        if items.isEmpty { try render(l.otherwise, scope, &out); return }
        let lastChanged = ChangedState()
        changedStates.append(lastChanged)
        // Each iteration builds a scope and the `loop` object (about ten values): ten steps, even for an empty body.
        try charge(items.count * TemplateLimits.stepsPerIteration)
        for (k, item) in items.enumerated() {
            let s = Scope(parent: scope)
            var loop = OrderedDictionary()
            let n = items.count
            loop["index"] = .int(k + 1)
            loop["index0"] = .int(k)
            loop["revindex"] = .int(n - k)
            loop["revindex0"] = .int(n - k - 1)
            loop["first"] = .bool(k == 0)
            loop["last"] = .bool(k == n - 1)
            loop["length"] = .int(n)
            loop["depth"] = .int(depth)
            loop["depth0"] = .int(depth - 1)
            loop["previtem"] = k > 0 ? items[k - 1] : .undefined("there is no previous item")
            loop["nextitem"] = k + 1 < n ? items[k + 1] : .undefined("there is no next item")
            loop["cycle"] = .callable(JinjaCallable(name: "cycle") { args, _ in
                guard !args.isEmpty else { throw TemplateRuntimeFailure("no items for cycling given") }
                return args[k % args.count]
            })
            loop["changed"] = .callable(JinjaCallable(name: "changed") { args, _ in
                if lastChanged.last != args { lastChanged.last = args; return .bool(true) }
                return .bool(false)
            })
            if l.recursive {
                let call = JinjaCallable(name: "loop") { [unowned self] args, _ in
                    var buf = ""
                    try self.runFor(l, args.first ?? .undefined("loop() needs an iterable"), scope, depth: depth + 1, &buf)
                    return .string(buf)
                }
                cyclic.append(call)
                loop["__call__"] = .callable(call)
            }
            s.vars["loop"] = .dict(loop)
            try positioned(l.pos) { try assign(l.target, item, s) }
            if try render(l.body, s, &out) == .breakLoop { break }
        }
    }

    func assign(_ target: Target, _ value: JinjaValue, _ scope: Scope) throws {
        switch target {
        case let .name(n): scope.vars[n] = value
        case let .tuple(ts):
            let items = try iterate(value)
            guard items.count == ts.count else {
                throw TemplateRuntimeFailure(items.count > ts.count
                    ? "too many values to unpack (expected \(ts.count))"
                    : "not enough values to unpack (expected \(ts.count), got \(items.count))")
            }
            for (t, v) in zip(ts, items) { try assign(t, v, scope) }
        case let .attribute(n, attr):
            guard case let .namespace(ns) = scope.lookup(n) ?? .undefined("") else {
                throw TemplateRuntimeFailure("cannot assign attribute on non-namespace object")
            }
            ns.attributes[attr] = value
        }
    }

    private func makeMacro(_ def: MacroDef, _ defining: Scope) -> JinjaCallable {
        let macro = JinjaCallable(name: def.name) { [unowned self] args, kwargs in
            self.depth += 1
            defer { self.depth -= 1 }
            if self.depth > TemplateLimits.maxCallDepth { throw TemplateRuntimeFailure("maximum recursion depth exceeded") }
            let s = Scope(parent: defining)
            var kw = kwargs
            if let k = kw.firstIndex(where: { $0.0 == "caller" }) {
                s.vars["caller"] = kw[k].1
                kw.remove(at: k)
            }
            for (i, (name, dflt)) in def.params.enumerated() {
                if i < args.count {
                    s.vars[name] = args[i]
                } else if let k = kw.firstIndex(where: { $0.0 == name }) {
                    s.vars[name] = kw[k].1
                    kw.remove(at: k)
                } else if let dflt {
                    s.vars[name] = try self.eval(dflt, s)
                } else {
                    s.vars[name] = .undefined("parameter '\(name)' was not provided")
                }
            }
            s.vars["varargs"] = .tuple(args.count > def.params.count ? Array(args[def.params.count...]) : [])
            s.vars["kwargs"] = .dict(OrderedDictionary(kw))
            var buf = ""
            try self.render(def.body, s, &buf)
            return .string(buf)
        }
        cyclic.append(macro)
        return macro
    }

    // MARK: expressions

    /// Evaluates `e`, charging the step budget one step plus the size of any value it builds (1 per list or dict
    /// element, 1 per 64 bytes of string): a loop that builds big values each time ends as soon as one that only
    /// counts iterations would.
    func eval(_ e: Expr, _ scope: Scope) throws -> JinjaValue {
        lastPos = e.pos
        try step()
        let v = try evalUncharged(e, scope)
        switch e {
        case .literal, .name, .attribute, .item, .and, .or, .conditional: return v  // no new data
        default:
            switch v {
            case let .string(s): try charge(s.utf8.count >> 6)
            case let .array(a), let .tuple(a): try charge(a.count)
            case let .dict(d): try charge(d.count)
            default: break
            }
            return v
        }
    }

    private func evalUncharged(_ e: Expr, _ scope: Scope) throws -> JinjaValue {
        switch e {
        case let .literal(v, _): return v
        case let .name(n, _):
            return scope.lookup(n) ?? .undefined("'\(n)' is undefined")
        case let .list(items, _):
            return .array(try items.map { try eval($0, scope) })
        case let .tuple(items, _):
            return .tuple(try items.map { try eval($0, scope) })
        case let .dict(pairs, pos):
            var d = OrderedDictionary()
            for (k, v) in pairs {
                let key = try eval(k, scope)
                guard case let .string(ks) = key else {
                    d[try positioned(pos) { try dictKey(key) }] = try eval(v, scope)
                    continue
                }
                d[ks] = try eval(v, scope)
            }
            return .dict(d)
        case let .attribute(base, name, pos):
            let b = try eval(base, scope)
            return try positioned(pos) { try getAttribute(b, name) }
        case let .item(base, idx, pos):
            let b = try eval(base, scope)
            let i = try eval(idx, scope)
            return try positioned(pos) { try getItem(b, i) }
        case let .slice(base, a, b, c, pos):
            let v = try eval(base, scope)
            let av = try a.map { try eval($0, scope) }, bv = try b.map { try eval($0, scope) }
            let cv = try c.map { try eval($0, scope) }
            return try positioned(pos) { try slice(v, av, bv, cv) }
        case let .call(fn, args, kwargs, pos):
            let f = try eval(fn, scope)
            let (a, k) = try evalArgs(args, kwargs, scope, pos)
            return try positioned(pos) {
                switch f {
                case let .callable(c): return try c.body(a, k)
                case let .dict(d) where d["__call__"] != nil:
                    guard case let .callable(c)? = d["__call__"] else { throw TemplateRuntimeFailure("'dict' object is not callable") }
                    return try c.body(a, k)
                case let .undefined(hint): throw TemplateRuntimeFailure(hint.isEmpty ? "'Undefined' object is not callable" : hint)
                default: throw TemplateRuntimeFailure("'\(f.typeName)' object is not callable")
                }
            }
        case let .filter(base, name, args, kwargs, pos):
            return try applyFilter(name, try eval(base, scope), args, kwargs, scope, pos)
        case let .test(base, name, args, negated, pos):
            let v = try eval(base, scope)
            let (a, _) = try evalArgs(args, [], scope, pos)
            let r = try positioned(pos) { try runTest(name, v, a) }
            return .bool(negated ? !r : r)
        case let .unary(op, x, pos):
            let v = try eval(x, scope)
            if op == "not" { return .bool(!v.truthy) }
            return try positioned(pos) { try unaryOp(op, v) }
        case let .binary(op, l, r, pos):
            let a = try eval(l, scope), b = try eval(r, scope)
            return try positioned(pos) { try binaryOp(op, a, b) }
        case let .and(l, r, _):
            let a = try eval(l, scope)
            return a.truthy ? try eval(r, scope) : a
        case let .or(l, r, _):
            let a = try eval(l, scope)
            return a.truthy ? a : try eval(r, scope)
        case let .conditional(test, then, otherwise, _):
            if try eval(test, scope).truthy { return try eval(then, scope) }
            if let otherwise { return try eval(otherwise, scope) }
            return .undefined("the inline if-expression evaluated to false and no else section was defined.")
        case let .compare(first, ops, pos):
            var left = try eval(first, scope)
            for (op, rhs) in ops {
                let right = try eval(rhs, scope)
                let ok = try positioned(pos) { try compareOp(op, left, right) }
                if !ok { return .bool(false) }
                left = right
            }
            return .bool(true)
        }
    }

    private func dictKey(_ v: JinjaValue) throws -> String {
        switch v {
        case .int, .double, .bool, .none: return v.repr
        default: throw TemplateRuntimeFailure("unhashable type: '\(v.typeName)'")
        }
    }

    func applyFilter(_ name: String, _ value: JinjaValue, _ args: [Expr], _ kwargs: [(String, Expr)], _ scope: Scope,
                     _ pos: SourcePos) throws -> JinjaValue {
        let (a, k) = try evalArgs(args, kwargs, scope, pos)
        return try positioned(pos) { try runFilter(name, value, a, k) }
    }

    /// Evaluates call arguments, expanding `*iterable` and `**mapping` splats.
    func evalArgs(_ args: [Expr], _ kwargs: [(String, Expr)], _ scope: Scope,
                  _ pos: SourcePos) throws -> ([JinjaValue], [(String, JinjaValue)]) {
        var a: [JinjaValue] = [], k: [(String, JinjaValue)] = []
        for e in args {
            if case let .unary("*", inner, _) = e {
                let v = try eval(inner, scope)
                a += try positioned(pos) { try iterate(v) }
            } else { a.append(try eval(e, scope)) }
        }
        for (name, e) in kwargs {
            let v = try eval(e, scope)
            if name == "**" {
                guard case let .dict(d) = v else { throw failure("argument after ** must be a mapping", pos) }
                k += d.pairs
            } else { k.append((name, v)) }
        }
        return (a, k)
    }
}
