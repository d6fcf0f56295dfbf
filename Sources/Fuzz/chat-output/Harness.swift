// Fuzz harness `chat-output`: untrusted model output through the tool-call parser and the reasoning splitter,
// whole and streamed in chunks cut at input-chosen places. See Docs/Fuzzing.md.
import Foundation
import PanguChat
import PanguFuzzSupport

@main enum Harness {
    static func main() {
        runHarness { bytes in
            guard let first = bytes.first else { return }
            let body = Array(bytes.dropFirst())
            let text = String(decoding: body, as: UTF8.self)
            let markers: ToolCallMarkers = first & 1 == 0 ? .pangu : .panguV2
            // Bit 2 of the first byte: whole-text parsers, or the streaming ones (one path per input keeps each
            // run short; the fuzzer flips the bit).
            if first & 4 == 0 {
                _ = ToolCallParser.parse(text, markers: markers)
                _ = officialReasoningParse(text)
                return
            }
            // Streamed: chunk lengths 1 + (first >> 1) % 7 scalars for the parser, bytes for the splitter.
            let step = 1 + Int(first >> 1) % 7
            var parser = ToolCallParser(markers: markers)
            let scalars = Array(text.unicodeScalars)
            var i = 0
            while i < scalars.count {
                var v = String.UnicodeScalarView()
                v.append(contentsOf: scalars[i..<min(i + step, scalars.count)])
                _ = parser.feed(String(v))
                i += step
            }
            _ = parser.finish()
            do {
                let startsInReasoning = first & 8 != 0
                var splitter = ReasoningSplitter(markers: first & 2 == 0 ? .pangu : .think, startsInReasoning: startsInReasoning)
                var j = 0
                while j < body.count {
                    _ = splitter.feed(bytes: Array(body[j..<min(j + step, body.count)]))
                    j += step
                }
                _ = splitter.finish()
                _ = splitter.result
            }
        }
    }
}
