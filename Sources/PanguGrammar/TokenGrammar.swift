import Foundation
import PanguRuntime
import Synchronization

/// A compiled output grammar over one vocabulary: JSON (any object or a JSON Schema) or Pangu tool calls.
/// Immutable after construction except for an internal mask cache behind a lock, so one instance serves
/// many concurrent requests; each request gets its own ``makeConstraint(eosTokenIds:reasoning:)``.
public final class TokenGrammar: @unchecked Sendable {
    let automaton: Automaton
    let vocabulary: GrammarVocabulary
    /// Token id of marker symbol k (special-token markers only).
    let markerTokens: [Int]
    /// Marker index by token id.
    let markerIndex: [Int: Int]
    private let cache = Mutex(MaskCache())

    /// Allowed tokens of one configuration (EOS excluded; `complete` says whether EOS may follow).
    struct MaskEntry: Sendable {
        var tokens: [Int32]
        /// Bit per token id when `tokens` would be large. [ceil(vocab / 64)]
        var bits: [UInt64]?
        var complete: Bool
        var bytes: Int { tokens.count * 4 + (bits?.count ?? 0) * 8 }
    }

    struct MaskCache: ~Copyable {
        var entries: [[Int32]: MaskEntry] = [:]
        var bytes = 0
        static let budget = 32 << 20
    }

    init(source: GrammarSource, markerTokens: [Int], vocabulary: GrammarVocabulary) throws {
        automaton = try Automaton(source)
        guard automaton.acceptsSomething() else {
            throw GrammarError.invalidSchema(path: "#", detail: "the schema accepts no value")
        }
        self.vocabulary = vocabulary
        self.markerTokens = markerTokens
        var index: [Int: Int] = [:]
        for (k, t) in markerTokens.enumerated() { index[t] = k }
        markerIndex = index
    }

    /// Builds rule 0 with `body` (rule 1 is the free-form JSON value every grammar may call, rule 2 its
    /// container-free variant used at the depth limit).
    static func build(vocabulary: GrammarVocabulary, markers: [String], root: JSONValue,
                      _ body: (inout SchemaCompiler) throws -> NFABuilder.Frag) throws -> TokenGrammar {
        var markerTokens: [Int] = []
        for m in markers {
            guard let id = vocabulary.specialTokens[m] else {
                throw GrammarError.invalidToolSpec("marker \(m) is not a special token of the vocabulary")
            }
            markerTokens.append(id)
        }
        let call = UInt16(256 + markers.count + 1)
        var compiler = SchemaCompiler(builder: NFABuilder(), anyValueCall: call, root: root)
        let main = try body(&compiler)
        let any = try compiler.b.anyValue(call: call)
        let leaf = try compiler.b.anyLeaf()
        let src = GrammarSource(nfa: compiler.b, markers: markers, ruleStarts: [main.start, any.start, leaf.start],
                                ruleEnds: [main.end, any.end, leaf.end], depthFallback: [-1, 2, -1])
        return try TokenGrammar(source: src, markerTokens: markerTokens, vocabulary: vocabulary)
    }

    /// `response_format: {"type": "json_object"}`: any JSON object (values nested at most 32 deep).
    public static func jsonObject(vocabulary: GrammarVocabulary) throws -> TokenGrammar {
        let schema = JSONValue.object([("type", .string("object")), ("additionalProperties", .object([]))])
        return try build(vocabulary: vocabulary, markers: [], root: schema) { c in
            let lead = try c.b.ws()
            let value = try c.compile(schema, path: "#")
            return try c.b.seq([lead, value])
        }
    }

    /// `response_format: {"type": "json_schema"}`: JSON text valid against `schemaJSON` (the `schema` member).
    /// Throws ``GrammarError/invalidSchema(path:detail:)`` naming the offending keyword's path.
    public static func jsonSchema(_ schemaJSON: String, vocabulary: GrammarVocabulary) throws -> TokenGrammar {
        let schema = try JSONValue.parse(schemaJSON)
        return try build(vocabulary: vocabulary, markers: [], root: schema) { c in
            let lead = try c.b.ws()
            let value = try c.compile(schema, path: "#")
            return try c.b.seq([lead, value])
        }
    }

    /// A forced Pangu tool call: `open` marker, a JSON array of one or more `{"name": …, "arguments": {…}}`
    /// whose arguments validate against that tool's parameters schema, `close` marker, then end of sequence.
    /// `forcedName` restricts every call to that tool. Markers are matched as special tokens when the
    /// vocabulary has them, else as literal text.
    public static func toolCalls(_ tools: [(name: String, parametersJSON: String)], forcedName: String?,
                                 open: String, close: String, vocabulary: GrammarVocabulary) throws -> TokenGrammar {
        guard !tools.isEmpty else { throw GrammarError.invalidToolSpec("no tools given") }
        var seen = Set<String>()
        for t in tools where !seen.insert(t.name).inserted { throw GrammarError.invalidToolSpec("duplicate tool name \(t.name)") }
        if let forcedName, !seen.contains(forcedName) {
            throw GrammarError.invalidToolSpec("tool_choice names \(forcedName), which is not among the tools")
        }
        var schemas: [(name: String, schema: JSONValue, path: String)] = []
        for (i, t) in tools.enumerated() where forcedName == nil || t.name == forcedName {
            let path = "#/tools/\(i)/function/parameters"
            let text = t.parametersJSON.trimmingCharacters(in: .whitespacesAndNewlines)
            var schema: JSONValue
            do { schema = text.isEmpty ? .object([]) : try JSONValue.parse(text) } catch let GrammarError.invalidSchema(_, detail) {
                throw GrammarError.invalidSchema(path: path, detail: detail)
            }
            // Arguments are always an object: an unconstrained parameters schema means any object.
            if SchemaCompiler.isUnconstrained(schema) {
                schema = .object([("type", .string("object")), ("additionalProperties", .object([]))])
            } else if let ty = schema["type"], ty != .string("object"), ty != .array([.string("object")]) {
                throw GrammarError.invalidSchema(path: path + "/type", detail: "function parameters must be an object schema")
            }
            schemas.append((t.name, schema, path))
        }
        var markers: [String] = []
        for m in [open, close] where vocabulary.specialTokens[m] != nil { markers.append(m) }
        func marker(_ c: inout SchemaCompiler, _ m: String) throws -> NFABuilder.Frag {
            if let k = markers.firstIndex(of: m) { return try c.b.symbol(UInt16(256 + k)) }
            return try c.b.literal(m)
        }
        let root = JSONValue.null
        return try build(vocabulary: vocabulary, markers: markers, root: root) { c in
            func oneCall(_ c: inout SchemaCompiler) throws -> NFABuilder.Frag {
                var alts: [NFABuilder.Frag] = []
                for t in schemas {
                    var sub = SchemaCompiler(builder: c.b, anyValueCall: c.anyValueCall, root: t.schema)
                    c.b = NFABuilder()   // hand the builder over without copying its arrays
                    let parts = [try sub.b.literal(JSONValue.quote(t.name)), try sub.b.padded(","),
                                 try sub.b.literal("\"arguments\""), try sub.b.padded(":")]
                    let args = try sub.compile(t.schema, path: t.path)
                    c.b = sub.b
                    alts.append(try c.b.seq(parts + [args]))
                }
                return try c.b.seq([try c.b.literal("{"), try c.b.ws(), try c.b.literal("\"name\""), try c.b.padded(":"),
                                    try c.b.alt(alts), try c.b.ws(), try c.b.literal("}")])
            }
            let calls = try repeatFragments(&c, \.b, min: 1, max: nil, separator: { try $0.b.padded(",") }, oneCall)
            return try c.b.seq([try marker(&c, open), try c.b.ws(), try c.b.literal("["), try c.b.ws(), calls,
                                try c.b.ws(), try c.b.literal("]"), try c.b.ws(), try marker(&c, close)])
        }
    }

    /// A fresh per-sequence constraint. `eosTokenIds` end the sequence once the grammar is complete.
    /// `reasoning` (open, close token ids) lets the output start with a free reasoning block; see
    /// Docs/ConstrainedDecoding.md for the exact rules.
    public func makeConstraint(eosTokenIds: [Int], reasoning: (open: Int, close: Int)?) -> LogitsConstraint {
        GrammarConstraint(grammar: self, eosTokenIds: eosTokenIds, reasoning: reasoning)
    }

    /// Number of DFA states (diagnostics and tests).
    public var stateCount: Int { automaton.stateCount }

    /// The allowed tokens of a configuration, from the cache or by walking the vocabulary trie.
    func maskEntry(_ c: GrammarConfig, _ arena: inout StackArena) -> MaskEntry {
        let key = automaton.key(c, arena)
        if let hit = cache.withLock({ $0.entries[key] }) { return hit }
        let entry = computeMask(c, &arena)
        cache.withLock { cache in
            if cache.bytes + entry.bytes > MaskCache.budget {
                cache.entries.removeAll()
                cache.bytes = 0
            }
            cache.entries[key] = entry
            cache.bytes += entry.bytes
        }
        return entry
    }

    private func computeMask(_ c0: GrammarConfig, _ arena: inout StackArena) -> MaskEntry {
        let base = arena.count
        defer { arena.truncate(base) }
        let trie = vocabulary.trie
        let a = automaton
        let v = vocabulary.count
        var bits = [UInt64](repeating: 0, count: (v + 63) / 64)
        var count = 0
        // Configuration after each prefix length of the current path (index = trie depth).
        var path = [GrammarConfig](repeating: c0, count: 64)
        let n = trie.nodeCount
        trie.byte.withUnsafeBufferPointer { byte in
        trie.depth.withUnsafeBufferPointer { depth in
        trie.subtreeEnd.withUnsafeBufferPointer { subtreeEnd in
        trie.firstToken.withUnsafeBufferPointer { firstToken in
        trie.nextToken.withUnsafeBufferPointer { nextToken in
        a.classOf.withUnsafeBufferPointer { classOf in
        a.trans.withUnsafeBufferPointer { trans in
            let nc = a.classCount
            var i = 1
            while i < n {
                let d = Int(depth[i])
                if d >= path.count { path.append(contentsOf: repeatElement(c0, count: path.count)) }
                var next = path[d - 1]
                let cls = Int(classOf[Int(byte[i])])
                // Fast path: a direct transition (calls and returns go through `step`).
                let t = trans[Int(next.state) &* nc &+ cls]
                let ok: Bool
                if t >= 0 {
                    next.state = t
                    ok = true
                } else {
                    ok = a.step(&next, cls, &arena)
                }
                if ok {
                    path[d] = next
                    var t = firstToken[i]
                    while t >= 0 {
                        bits[Int(t) >> 6] |= 1 << UInt64(t & 63)
                        count += 1
                        t = nextToken[Int(t)]
                    }
                    i += 1
                } else {
                    i = Int(subtreeEnd[i])
                }
            }
        }}}}}}}
        for (k, id) in markerTokens.enumerated() {
            var next = c0
            if a.step(&next, Int(a.markerClass[k]), &arena), id < v {
                bits[id >> 6] |= 1 << UInt64(id & 63)
                count += 1
            }
        }
        let complete = a.isAccepting(c0, arena)
        if count * 32 > v { return MaskEntry(tokens: [], bits: bits, complete: complete) }
        var tokens: [Int32] = []
        tokens.reserveCapacity(count)
        for (w, word) in bits.enumerated() where word != 0 {
            var x = word
            while x != 0 {
                tokens.append(Int32(w << 6 | x.trailingZeroBitCount))
                x &= x - 1
            }
        }
        return MaskEntry(tokens: tokens, bits: nil, complete: complete)
    }
}
