import Foundation
import PanguGrammar
import PanguRuntime
import PanguTokenizer

/// Deterministic RNG for the sampling tests (SplitMix64).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum GrammarFixtures {
    /// Ids of the special tokens in ``byteVocabulary``.
    static let eos = 256, toolOpen = 257, toolClose = 258, thinkOpen = 259, thinkClose = 260, otherSpecial = 261
    /// Multi-byte tokens added after the specials, so tokens span structure and text.
    static let chunks = ["{\"", "\":", "\": ", ",\"", ", \"", "\"}", "}]", "]}", "true", "false", "null", "abc", " the",
                         "é", "日本", "\u{1F600}", "\\n", "\\u00", "12", "-3", ".5", "e+", "\n  ", "[{", "\"name\"",
                         "\"arguments\"", "  ", "\"\"", "0", "{}", "[]"]

    /// Every single byte as a token (ids 0...255), specials, then `chunks`.
    static func byteVocabulary() -> GrammarVocabulary {
        var bytes = (0..<256).map { [UInt8($0)] }
        bytes += [[], [], [], [], [], []]
        bytes += chunks.map { Array($0.utf8) }
        return GrammarVocabulary(tokenBytes: bytes, specialTokens: [
            "</s>": eos, "[unused11]": toolOpen, "[unused12]": toolClose, "[unused16]": thinkOpen,
            "[unused17]": thinkClose, "[unused9]": otherSpecial,
        ])
    }

    static func fixtureURL(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name)
    }
}

/// Feeds `tokens` to a fresh constraint, checking at every step that `mask` and `accept` agree. Returns whether
/// the whole sequence was accepted and end of sequence is then allowed.
func recognizes(_ grammar: TokenGrammar, tokens: [Int], vocabularySize: Int, eos: Int) throws -> Bool {
    let c = grammar.makeConstraint(eosTokenIds: [eos], reasoning: nil)
    for t in tokens {
        var logits = [Float](repeating: 0, count: vocabularySize)
        c.mask(&logits)
        let allowed = logits[t].isFinite
        do {
            try c.accept(t)
        } catch {
            if allowed { throw AgreementError(detail: "mask allowed token \(t) but accept refused it") }
            return false
        }
        if !allowed { throw AgreementError(detail: "mask refused token \(t) but accept took it") }
    }
    var logits = [Float](repeating: 0, count: vocabularySize)
    c.mask(&logits)
    return logits[eos].isFinite
}

struct AgreementError: Error, CustomStringConvertible {
    var detail: String
    var description: String { detail }
}

/// Samples until end of sequence (or `maxTokens`): uniform random logits plus `bias`, masked, argmax.
/// Returns the ids (EOS excluded) and whether the sequence ended; throws if the mask ever allowed nothing.
func sample(_ constraint: LogitsConstraint, vocabularySize: Int, eos: Int, seed: UInt64, maxTokens: Int,
            bias: [Float]? = nil) throws -> (ids: [Int], finished: Bool) {
    var rng = SplitMix64(seed: seed)
    var ids: [Int] = []
    for _ in 0..<maxTokens {
        var logits = (0..<vocabularySize).map { i in Float.random(in: 0..<1, using: &rng) + (bias?[i] ?? 0) }
        constraint.mask(&logits)
        var best = -1
        for i in 0..<vocabularySize where logits[i].isFinite && (best < 0 || logits[i] > logits[best]) { best = i }
        guard best >= 0 else { throw AgreementError(detail: "dead end: no token allowed after \(ids)") }
        try constraint.accept(best)
        if best == eos {
            if !constraint.isComplete { throw AgreementError(detail: "EOS accepted but isComplete is false") }
            return (ids, true)
        }
        ids.append(best)
    }
    return (ids, false)
}

/// Validates documents against schemas with Python's `jsonschema` when python3 has it. Returns nil when
/// unavailable, else the indices of invalid documents.
func pythonInvalidIndices(_ pairs: [(schema: String, document: String)]) throws -> [Int]? {
    let probe = Process()
    probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    probe.arguments = ["python3", "-c", "import jsonschema"]
    probe.standardError = FileHandle.nullDevice
    probe.standardOutput = FileHandle.nullDevice
    do { try probe.run() } catch { return nil }
    probe.waitUntilExit()
    guard probe.terminationStatus == 0 else {
        print("note: python3 with jsonschema not available; skipping the independent validation")
        return nil
    }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("grammar-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let input = dir.appendingPathComponent("docs.json")
    let payload = pairs.map { ["schema": $0.schema, "document": $0.document] }
    try JSONSerialization.data(withJSONObject: payload).write(to: input)
    let script = """
    import json, sys, jsonschema
    bad = []
    for i, p in enumerate(json.load(open(sys.argv[1]))):
        try:
            doc = json.loads(p["document"])
            jsonschema.validate(doc, json.loads(p["schema"]), cls=jsonschema.Draft202012Validator)
        except Exception as e:
            bad.append(i)
            print(i, repr(e)[:300], file=sys.stderr)
    print(json.dumps(bad))
    """
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", script, input.path]
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0, let bad = try JSONSerialization.jsonObject(with: data) as? [Int] else {
        throw AgreementError(detail: "python validation failed to run")
    }
    return bad
}
