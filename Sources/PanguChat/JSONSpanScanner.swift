// Incremental scanner over a streamed JSON array of {"name", "arguments"} objects, used by ToolCallParser to
// emit a call's name once complete and its arguments text as it arrives.

/// Events of the incremental scan (call index is relative to the span).
enum SpanScanEvent: Equatable {
    case name(Int, String)
    case arguments(Int, String)
}

struct JSONSpanScanner: Sendable {
    private var stack: [Unicode.Scalar] = []
    private var objectDepth = 0  // depth at which call objects live (2 inside an array, 1 for a bare object)
    private var inString = false
    private var escape = false
    private var stringBuf = String.UnicodeScalarView()
    private var expectKey = false
    private var currentKey: String? = nil
    private var index = -1
    private var inArgs = false
    private var argsStarted = false
    private var nameKnown = false
    private var argBuffer = ""

    private mutating func emitArgs(_ s: String, _ out: inout [SpanScanEvent]) {
        guard !s.isEmpty else { return }
        if nameKnown { out.append(.arguments(index, s)) } else { argBuffer += s }
    }

    mutating func scan(_ piece: [Unicode.Scalar]) -> [SpanScanEvent] {
        var out: [SpanScanEvent] = []
        var argRun = String.UnicodeScalarView()
        func flush(_ me: inout JSONSpanScanner) {
            me.emitArgs(String(argRun), &out)
            argRun = String.UnicodeScalarView()
        }
        for c in piece {
            let depth = stack.count
            // Argument value text (everything inside the value, including nested containers and strings).
            if inArgs {
                let endsValue = !inString && depth == objectDepth && (c == "," || c == "}")
                if endsValue {
                    inArgs = false
                    flush(&self)
                } else if argsStarted || !pyIsSpace(c) {
                    argsStarted = true
                    argRun.append(c)
                }
            }
            if inString {
                if inArgs { /* already captured */ }
                stringBuf.append(c)
                if escape { escape = false; continue }
                if c == "\\" { escape = true; continue }
                if c == "\"" {
                    inString = false
                    if depth == objectDepth {
                        let decoded: String? = {
                            if case let .string(s)? = try? JSONCoding.parse(String(stringBuf)) { return s }
                            return nil
                        }()
                        if expectKey {
                            currentKey = decoded
                        } else if currentKey == "name", let n = decoded, !nameKnown {
                            nameKnown = true
                            flush(&self)
                            out.append(.name(index, n))
                            if !argBuffer.isEmpty { out.append(.arguments(index, argBuffer)); argBuffer = "" }
                        }
                    }
                }
                continue
            }
            switch c {
            case "\"":
                inString = true
                stringBuf = String.UnicodeScalarView(["\""])
            case "[", "{":
                if stack.isEmpty { objectDepth = c == "[" ? 2 : 1 }
                stack.append(c)
                if stack.count == objectDepth && c == "{" {
                    flush(&self)
                    index += 1
                    expectKey = true
                    currentKey = nil
                    nameKnown = false
                    argBuffer = ""
                }
            case "]", "}":
                if !stack.isEmpty { stack.removeLast() }
            case ":":
                if depth == objectDepth {
                    expectKey = false
                    if currentKey == "arguments" || currentKey == "parameters" {
                        inArgs = true
                        argsStarted = false
                    }
                }
            case ",":
                if depth == objectDepth { expectKey = true; currentKey = nil }
            default: break
            }
        }
        if inArgs { flush(&self) }
        return out
    }
}
