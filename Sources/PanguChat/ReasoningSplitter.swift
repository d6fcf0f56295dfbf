// Separates Pangu reasoning (`[unused16]…[unused17]`) from the answer in generated text, streaming or not.

/// Marker strings of a reasoning-capable output format.
public struct ReasoningMarkers: Sendable, Equatable {
    /// Opens the reasoning block (Pangu `[unused16]`, others `<think>`).
    public var open: String
    /// Closes the reasoning block (Pangu `[unused17]`, others `</think>`).
    public var close: String
    /// End-of-turn text; it and everything after it is dropped (Pangu `[unused10]`). `nil`: none.
    public var end: String?

    /// Creates markers.
    public init(open: String, close: String, end: String?) {
        self.open = open
        self.close = close
        self.end = end
    }

    /// openPangu markers: `[unused16]`, `[unused17]`, end `[unused10]`.
    public static let pangu = ReasoningMarkers(open: "[unused16]", close: "[unused17]", end: "[unused10]")
    /// `<think>`/`</think>` markers (DeepSeek-R1 / Qwen3 style), no end marker.
    public static let think = ReasoningMarkers(open: "<think>", close: "</think>", end: nil)
}

/// Reasoning and answer text of one output.
public struct ReasoningParse: Sendable, Equatable {
    /// The reasoning text (stripped).
    public var reasoning: String
    /// The answer text (stripped).
    public var content: String
    /// Creates a result.
    public init(reasoning: String, content: String) {
        self.reasoning = reasoning
        self.content = content
    }
}

/// Incremental output of ``ReasoningSplitter/feed(_:)``: text to append to each channel.
public struct ReasoningDelta: Sendable, Equatable {
    /// Newly available reasoning text.
    public var reasoning: String = ""
    /// Newly available answer text.
    public var content: String = ""
    /// True when nothing new is available.
    public var isEmpty: Bool { reasoning.isEmpty && content.isEmpty }
}

private func scalars(_ s: String) -> [Unicode.Scalar] { Array(s.unicodeScalars) }

private func find(_ hay: [Unicode.Scalar], _ needle: [Unicode.Scalar], from: Int = 0) -> Int? {
    guard !needle.isEmpty, hay.count >= needle.count, from <= hay.count - needle.count else { return nil }
    var i = from
    while i <= hay.count - needle.count {
        if hay[i] == needle[0] && Array(hay[i..<i + needle.count]) == needle { return i }
        i += 1
    }
    return nil
}

private func findLast(_ hay: [Unicode.Scalar], _ needle: [Unicode.Scalar]) -> Int? {
    guard !needle.isEmpty, hay.count >= needle.count else { return nil }
    var i = hay.count - needle.count
    while i >= 0 {
        if Array(hay[i..<i + needle.count]) == needle { return i }
        i -= 1
    }
    return nil
}

private func string(_ s: ArraySlice<Unicode.Scalar>) -> String {
    var v = String.UnicodeScalarView()
    v.append(contentsOf: s)
    return String(v)
}

/// The official non-streaming parse from the openPangu `generate.py` (PANGU.md §1.7), exactly:
/// `thinking = out.split(close)[0].split(open)[-1].strip()`,
/// `content = out.split(close)[-1].split(end)[0].strip()` (Python `str.strip()` whitespace).
/// Note: for an output with no markers at all both fields are the whole text (that is what the formula gives).
public func officialReasoningParse(_ output: String, markers: ReasoningMarkers = .pangu) -> ReasoningParse {
    let out = scalars(output), o = scalars(markers.open), c = scalars(markers.close)
    let beforeClose = find(out, c).map { out[..<$0] } ?? out[...]
    let bc = Array(beforeClose)
    let thinking = findLast(bc, o).map { bc[($0 + o.count)...] } ?? bc[...]
    let afterClose = findLast(out, c).map { out[($0 + c.count)...] } ?? out[...]
    var content = Array(afterClose)
    if let e = markers.end, let k = find(content, scalars(e)) { content = Array(content[..<k]) }
    return ReasoningParse(reasoning: (try? pyStrip(string(thinking), nil, mode: 0)) ?? "",
                          content: (try? pyStrip(string(content[...]), nil, mode: 0)) ?? "")
}

/// Emits the `.strip()`ped version of a stream incrementally: leading whitespace is dropped, inner
/// whitespace is held back until more non-whitespace text arrives, trailing whitespace never appears.
private struct StrippedStream {
    private var started = false
    private var held = String.UnicodeScalarView()
    private(set) var total = ""

    mutating func push<S: Sequence>(_ text: S) -> String where S.Element == Unicode.Scalar {
        var out = String.UnicodeScalarView()
        for c in text {
            if pyIsSpace(c) {
                if started { held.append(c) }
            } else {
                out.append(contentsOf: held)
                held = String.UnicodeScalarView()
                out.append(c)
                started = true
            }
        }
        let s = String(out)
        total += s
        return s
    }
}

/// Streaming splitter of generated text into reasoning and answer.
///
/// Feed decoded text chunks of any size (markers may be split across chunks; partial markers are held back
/// and never leak). Rules:
/// * Leading whitespace, then `open` → reasoning until `close`, then answer until `end` (the rest is dropped).
/// * No `open` at the start → the whole output is answer, unless `startsInReasoning` (the prompt already
///   opened the block), in which case it is reasoning until `close`.
/// * Never closed → everything after `open` is reasoning, also at ``finish()``; `end` inside reasoning ends it.
/// * Both channels are `.strip()`ped incrementally, so the concatenated deltas equal ``result``.
/// For well-formed outputs (`ws* open … close … [end …]`) ``result`` equals ``officialReasoningParse(_:markers:)``.
/// Markers appearing again later are dropped from reasoning and passed through verbatim in the answer.
public struct ReasoningSplitter: Sendable {
    private enum State: Sendable { case start, reasoning, content, ended }

    /// The markers in use.
    public let markers: ReasoningMarkers
    private let open: [Unicode.Scalar], close: [Unicode.Scalar], end: [Unicode.Scalar]
    private let startsInReasoning: Bool
    private var state: State = .start
    private var pending: [Unicode.Scalar] = []
    private var reasoningOut = StrippedStream()
    private var contentOut = StrippedStream()
    private var utf8Pending: [UInt8] = []
    /// True once the close marker was seen.
    public private(set) var reasoningClosed = false
    /// True once the reasoning block was opened (by marker or by `startsInReasoning`).
    public private(set) var reasoningOpened = false

    /// Creates a splitter.
    /// - Parameters:
    ///   - markers: marker strings (default Pangu).
    ///   - startsInReasoning: the prompt already ended with the open marker, so output starts inside reasoning.
    public init(markers: ReasoningMarkers = .pangu, startsInReasoning: Bool = false) {
        self.markers = markers
        open = scalars(markers.open)
        close = scalars(markers.close)
        end = markers.end.map(scalars) ?? []
        self.startsInReasoning = startsInReasoning
    }

    /// Creates a splitter for the output of `prompt`: starts inside reasoning when the prompt itself ends with an
    /// unclosed open marker (e.g. templates whose generation prompt ends with `<think>\n`).
    public init(prompt: String, markers: ReasoningMarkers = .pangu) {
        let p = scalars(prompt), o = scalars(markers.open), c = scalars(markers.close)
        var opened = false
        if let lastOpen = findLast(p, o) {
            let tail = Array(p[(lastOpen + o.count)...])
            opened = find(tail, c) == nil && tail.allSatisfy(pyIsSpace)
        }
        self.init(markers: markers, startsInReasoning: opened)
    }

    /// The stripped reasoning and answer seen so far (final after ``finish()``).
    public var result: ReasoningParse { ReasoningParse(reasoning: reasoningOut.total, content: contentOut.total) }

    /// Feeds raw UTF-8 bytes (chunks may split multi-byte characters; incomplete sequences are held back).
    public mutating func feed(bytes: [UInt8]) -> ReasoningDelta {
        utf8Pending += bytes
        var cut = utf8Pending.count
        // Keep back an incomplete trailing UTF-8 sequence.
        var k = utf8Pending.count - 1
        var back = 0
        while k >= 0 && back < 4 && utf8Pending[k] & 0xC0 == 0x80 { k -= 1; back += 1 }
        if k >= 0 {
            let lead = utf8Pending[k]
            let need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
            if utf8Pending.count - k < need { cut = k }
        }
        let text = String(decoding: utf8Pending[..<cut], as: UTF8.self)
        utf8Pending.removeFirst(cut)
        return feed(text)
    }

    /// Feeds a chunk of decoded text and returns what can be emitted safely.
    public mutating func feed(_ text: String) -> ReasoningDelta {
        pending.append(contentsOf: text.unicodeScalars)
        return process(final: false)
    }

    /// Flushes held-back text (a partial marker at the very end is real text) and returns the last delta.
    public mutating func finish() -> ReasoningDelta {
        if !utf8Pending.isEmpty {
            pending.append(contentsOf: String(decoding: utf8Pending, as: UTF8.self).unicodeScalars)
            utf8Pending = []
        }
        return process(final: true)
    }

    /// Length of the longest suffix of `pending` that is a proper prefix of one of `markers`.
    private func heldSuffix(_ ms: [[Unicode.Scalar]]) -> Int {
        var best = 0
        for m in ms where !m.isEmpty {
            var n = min(m.count - 1, pending.count)
            while n > best {
                if Array(pending[(pending.count - n)...]) == Array(m[..<n]) { best = n; break }
                n -= 1
            }
        }
        return best
    }

    private mutating func process(final: Bool) -> ReasoningDelta {
        var delta = ReasoningDelta()
        while true {
            switch state {
            case .ended:
                pending = []
                return delta
            case .start:
                let firstNonSpace = pending.firstIndex { !pyIsSpace($0) } ?? pending.count
                let rest = Array(pending[firstNonSpace...])
                if rest.count >= open.count && Array(rest[..<open.count]) == open {
                    pending = Array(rest[open.count...])
                    state = .reasoning
                    reasoningOpened = true
                    continue
                }
                if !final && (rest.isEmpty || (rest.count < open.count && Array(open[..<rest.count]) == rest)) {
                    return delta  // still ambiguous
                }
                if startsInReasoning {
                    state = .reasoning
                    reasoningOpened = true
                } else {
                    state = .content
                }
                continue
            case .reasoning:
                let c = find(pending, close), e = end.isEmpty ? nil : find(pending, end)
                let o = find(pending, open)
                let hits = [(c, 0), (e, 1), (o, 2)].compactMap { h in h.0.map { ($0, h.1) } }
                if let (at, kind) = hits.min(by: { $0.0 < $1.0 }) {
                    delta.reasoning += reasoningOut.push(pending[..<at])
                    switch kind {
                    case 0:
                        pending = Array(pending[(at + close.count)...])
                        reasoningClosed = true
                        state = .content
                    case 1: state = .ended
                    default: pending = Array(pending[(at + open.count)...])  // stray re-open: drop marker
                    }
                    continue
                }
                let hold = final ? 0 : heldSuffix([close, end, open])
                delta.reasoning += reasoningOut.push(pending[..<(pending.count - hold)])
                pending = Array(pending[(pending.count - hold)...])
                return delta
            case .content:
                if !end.isEmpty, let e = find(pending, end) {
                    delta.content += contentOut.push(pending[..<e])
                    state = .ended
                    continue
                }
                let hold = final || end.isEmpty ? 0 : heldSuffix([end])
                delta.content += contentOut.push(pending[..<(pending.count - hold)])
                pending = Array(pending[(pending.count - hold)...])
                return delta
            }
        }
    }

    /// Convenience: split a complete output with the streaming rules (same result as feeding it in one chunk).
    public static func split(_ output: String, markers: ReasoningMarkers = .pangu,
                             startsInReasoning: Bool = false) -> ReasoningParse {
        var s = ReasoningSplitter(markers: markers, startsInReasoning: startsInReasoning)
        _ = s.feed(output)
        _ = s.finish()
        return s.result
    }
}
