// Constrained decoding hook: something that knows which tokens may come next (a JSON-schema automaton, a
// tool-call grammar) masks the logits before the sampler draws, then follows the drawn token. The runtime only
// knows this protocol; grammars live in their own target.

/// Restricts the next token of one sequence. One instance per sequence; not shared between threads.
public protocol LogitsConstraint: AnyObject {
    /// Sets `logits[id]` to `-Float.infinity` for every token that may not come next. `logits`: [vocab].
    /// When the constrained text is complete, only end-of-sequence ids stay allowed.
    func mask(_ logits: inout [Float])
    /// Advances past `token`, which must be one `mask` left allowed; throws if it was not.
    func accept(_ token: Int) throws
    /// True once the constrained text is complete (only end of sequence may follow).
    var isComplete: Bool { get }
}
