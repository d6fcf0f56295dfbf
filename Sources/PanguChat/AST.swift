// Abstract syntax tree of a parsed Jinja template.

/// Expression nodes.
indirect enum Expr: Sendable {
    case literal(JinjaValue, SourcePos)
    case name(String, SourcePos)
    case list([Expr], SourcePos)
    case tuple([Expr], SourcePos)
    case dict([(Expr, Expr)], SourcePos)
    case attribute(Expr, String, SourcePos)
    case item(Expr, Expr, SourcePos)
    case slice(Expr, Expr?, Expr?, Expr?, SourcePos)
    case call(Expr, [Expr], [(String, Expr)], SourcePos)
    case filter(Expr, String, [Expr], [(String, Expr)], SourcePos)
    case test(Expr, String, [Expr], Bool, SourcePos)
    case unary(String, Expr, SourcePos)
    case binary(String, Expr, Expr, SourcePos)
    case and(Expr, Expr, SourcePos)
    case or(Expr, Expr, SourcePos)
    case conditional(test: Expr, then: Expr, otherwise: Expr?, SourcePos)
    /// Chained comparison `a < b < c`.
    case compare(Expr, [(String, Expr)], SourcePos)

    var pos: SourcePos {
        switch self {
        case let .literal(_, p), let .name(_, p), let .list(_, p), let .tuple(_, p), let .dict(_, p),
             let .attribute(_, _, p), let .item(_, _, p), let .slice(_, _, _, _, p), let .call(_, _, _, p),
             let .filter(_, _, _, _, p), let .test(_, _, _, _, p), let .unary(_, _, p), let .binary(_, _, _, p),
             let .and(_, _, p), let .or(_, _, p), let .conditional(_, _, _, p), let .compare(_, _, p):
            return p
        }
    }
}

/// Assignment targets (`set` and `for`).
indirect enum Target: Sendable {
    case name(String)
    case tuple([Target])
    case attribute(String, String)  // namespace attribute: ns.attr
}

/// A macro definition.
struct MacroDef: Sendable {
    var name: String
    var params: [(String, Expr?)]
    var body: [Node]
}

/// Statement nodes.
indirect enum Node: Sendable {
    case text(String)
    case output(Expr, SourcePos)
    case ifBlock([(Expr, [Node])], [Node]?)
    case forLoop(target: Target, iter: Expr, filter: Expr?, body: [Node], otherwise: [Node], recursive: Bool, SourcePos)
    case set(Target, Expr, SourcePos)
    case setBlock(Target, [Node], [(String, [Expr], [(String, Expr)])], SourcePos)
    case macro(MacroDef, SourcePos)
    case callBlock(call: Expr, params: [(String, Expr?)], body: [Node], SourcePos)
    case filterBlock([(String, [Expr], [(String, Expr)])], [Node], SourcePos)
    case with([(Target, Expr)], [Node], SourcePos)
    case breakLoop(SourcePos)
    case continueLoop(SourcePos)
}
