// Pangu tool-call output format (PANGU.md §10): preamble text, then `[unused11]` + JSON array of
// {"name", "arguments"} + `[unused12]`; several spans may follow each other and their arrays concatenate.

/// One parsed function call.
public struct ParsedToolCall: Sendable, Equatable {
    /// Function name.
    public var name: String
    /// Arguments as a value (an object normally; a JSON-string argument is decoded when it holds JSON).
    public var arguments: JinjaValue
    /// OpenAI-style `function.arguments`: the arguments object re-serialised as JSON (`json.dumps`,
    /// `ensure_ascii=False`).
    public var argumentsJSON: String {
        (try? JSONCoding.dumps(arguments)) ?? "{}"
    }
    /// Creates a call.
    public init(name: String, arguments: JinjaValue) {
        self.name = name
        self.arguments = arguments
    }
}

/// Tool-call markers.
public struct ToolCallMarkers: Sendable, Equatable {
    /// Span opener (`[unused11]`).
    public var open: String
    /// Span closer (`[unused12]`).
    public var close: String
    /// Creates markers.
    public init(open: String, close: String) {
        self.open = open
        self.close = close
    }
    /// openPangu V1 markers.
    public static let pangu = ToolCallMarkers(open: "[unused11]", close: "[unused12]")
    /// openPangu V2 vocabularies.
    public static let panguV2 = ToolCallMarkers(open: "<|tool_call_start|>", close: "<|tool_call_end|>")
}

/// Streaming events of ``ToolCallParser``.
public enum ToolCallEvent: Sendable, Equatable {
    /// Plain answer text outside tool-call spans.
    case content(String)
    /// A call's function name became complete (index counts calls across all spans).
    case name(index: Int, name: String)
    /// More raw argument JSON text of call `index`, as written by the model.
    case arguments(index: Int, delta: String)
    /// A span closed and parsed: its calls, fully decoded.
    case calls([ParsedToolCall])
    /// A span closed but its JSON was invalid; the raw span text (with markers) is reported as content.
    case invalid(String)
}

private func decodeCalls(_ json: String) -> [ParsedToolCall]? {
    guard let v = try? JSONCoding.parse(json) else { return nil }
    let items: [JinjaValue]
    switch v {
    case let .array(a): items = a
    case .dict: items = [v]
    default: return nil
    }
    var out: [ParsedToolCall] = []
    for item in items {
        guard case let .dict(d) = item, case let .string(name)? = d["name"] else { return nil }
        var args = d["arguments"] ?? d["parameters"] ?? .dict(OrderedDictionary())
        if case let .string(s) = args, let parsed = try? JSONCoding.parse(s) { args = parsed }
        out.append(ParsedToolCall(name: name, arguments: args))
    }
    return out
}

/// Parses tool calls from the answer text (run it on the ``ReasoningSplitter`` content channel).
///
/// Streaming: ``feed(_:)`` returns events; a partial marker at a chunk end is held back. Inside a span the
/// JSON is scanned incrementally: a call's name is emitted as soon as its string value is complete, then its
/// `arguments` value text streams as it arrives. When the span closes the whole array is parsed and a
/// ``ToolCallEvent/calls(_:)`` event gives the authoritative decoded calls.
public struct ToolCallParser: Sendable {
    /// Markers in use.
    public let markers: ToolCallMarkers
    private let open: [Unicode.Scalar], close: [Unicode.Scalar]
    private var inSpan = false
    private var pending: [Unicode.Scalar] = []
    private var span: [Unicode.Scalar] = []
    private var scanner = JSONSpanScanner()
    private var callBase = 0
    /// Calls decoded so far (all closed spans).
    public private(set) var calls: [ParsedToolCall] = []
    /// Content text emitted so far (outside spans).
    public private(set) var content = ""

    /// Creates a parser.
    public init(markers: ToolCallMarkers = .pangu) {
        self.markers = markers
        open = Array(markers.open.unicodeScalars)
        close = Array(markers.close.unicodeScalars)
    }

    /// Non-streaming parse: content outside spans (whitespace-stripped) and all calls in order.
    public static func parse(_ text: String, markers: ToolCallMarkers = .pangu) -> (content: String, calls: [ParsedToolCall]) {
        var p = ToolCallParser(markers: markers)
        _ = p.feed(text)
        _ = p.finish()
        return ((try? pyStrip(p.content, nil, mode: 0)) ?? p.content, p.calls)
    }

    private func findMarker(_ m: [Unicode.Scalar]) -> Int? {
        guard pending.count >= m.count else { return nil }
        for i in 0...(pending.count - m.count) where pending[i] == m[0] && Array(pending[i..<i + m.count]) == m {
            return i
        }
        return nil
    }

    private func held(_ m: [Unicode.Scalar]) -> Int {
        var n = min(m.count - 1, pending.count)
        while n > 0 {
            if Array(pending[(pending.count - n)...]) == Array(m[..<n]) { return n }
            n -= 1
        }
        return 0
    }

    private static func text<S: Sequence>(_ s: S) -> String where S.Element == Unicode.Scalar {
        var v = String.UnicodeScalarView()
        v.append(contentsOf: s)
        return String(v)
    }

    /// Feeds a chunk; returns the events it completes.
    public mutating func feed(_ chunk: String) -> [ToolCallEvent] {
        pending.append(contentsOf: chunk.unicodeScalars)
        return process(final: false)
    }

    /// Ends the stream. An unclosed span is parsed if it holds a complete JSON array, else reported invalid.
    public mutating func finish() -> [ToolCallEvent] {
        var ev = process(final: true)
        if inSpan {
            ev += closeSpan(unterminated: true)
        }
        return ev
    }

    private mutating func emitContent(_ s: String, _ ev: inout [ToolCallEvent]) {
        guard !s.isEmpty else { return }
        content += s
        ev.append(.content(s))
    }

    private mutating func closeSpan(unterminated: Bool) -> [ToolCallEvent] {
        let json = Self.text(span)
        inSpan = false
        span = []
        scanner = JSONSpanScanner()
        if let decoded = decodeCalls(json) {
            calls += decoded
            callBase = calls.count
            return [.calls(decoded)]
        }
        let raw = markers.open + json + (unterminated ? "" : markers.close)
        content += raw
        callBase = calls.count
        return [.invalid(raw)]
    }

    private mutating func process(final: Bool) -> [ToolCallEvent] {
        var ev: [ToolCallEvent] = []
        while true {
            if !inSpan {
                if let i = findMarker(open) {
                    emitContent(Self.text(pending[..<i]), &ev)
                    pending = Array(pending[(i + open.count)...])
                    inSpan = true
                    continue
                }
                let h = final ? 0 : held(open)
                emitContent(Self.text(pending[..<(pending.count - h)]), &ev)
                pending = Array(pending[(pending.count - h)...])
                return ev
            }
            let closeAt = findMarker(close)
            let h = closeAt == nil && !final ? held(close) : 0
            let take = closeAt ?? (pending.count - h)
            let piece = Array(pending[..<take])
            span += piece
            for e in scanner.scan(piece) {
                switch e {
                case let .name(i, n): ev.append(.name(index: callBase + i, name: n))
                case let .arguments(i, d): ev.append(.arguments(index: callBase + i, delta: d))
                }
            }
            if let c = closeAt {
                pending = Array(pending[(c + close.count)...])
                ev += closeSpan(unterminated: false)
                continue
            }
            pending = Array(pending[take...])
            return ev
        }
    }
}
