// The text-level state of one sequence being generated, on top of the token-level `SequenceDecoder`: streaming
// detokenizer (every chunk valid UTF-8), stop strings (never emitted; text is held back only while it could still
// be the start of one), reasoning splitter and tool-call parser, producing `GenerationDelta`s. The CLI, chat
// sessions and the scheduler all use it (Docs/Serving.md).
import Foundation
import PanguChat
import PanguModels
import PanguRuntime
import PanguTokenizer

/// One sequence's generation state: token choice, stopping and text.
public final class GenerationState {
    /// Token-level part (sampler, penalties, EOS, budget, constraint, logprobs).
    public let decoder: SequenceDecoder
    private let tokenizer: HuggingFaceTokenizer
    private var detokenizer: StreamingDetokenizer
    private let stops: [[Unicode.Scalar]]
    /// Decoded text not yet emitted because it may be the start of a stop string.
    private var held: [Unicode.Scalar] = []
    private var splitter: ReasoningSplitter?
    private var toolParser: ToolCallParser?
    /// Everything emitted so far before reasoning/tool-call splitting (markers included, stop string excluded).
    public private(set) var rawText = ""
    /// True once the tool-call parser decoded at least one call.
    public private(set) var sawToolCalls = false
    /// True once the last delta was produced.
    public private(set) var isDone = false

    /// Prepares a sequence for `request`. `history`: tokens already in the sequence's cache before `request.prompt`
    /// (they count for the penalties); `eosTokenIds`: ids that end it.
    public init(request: GenerationRequest, history: [Int] = [], eosTokenIds: [Int],
                tokenizer: HuggingFaceTokenizer) throws {
        var settings = DecodeSettings(sampling: request.sampling, eosTokenIds: eosTokenIds,
                                      maxTokens: request.maxTokens, logprobs: request.logprobs)
        settings.presencePenalty = request.presencePenalty
        settings.frequencyPenalty = request.frequencyPenalty
        decoder = try SequenceDecoder(context: history + request.prompt, settings: settings,
                                      constraint: try request.constraint?())
        self.tokenizer = tokenizer
        detokenizer = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: false)
        if request.stop.contains(where: \.isEmpty) { throw RuntimeError.invalidRequest("a stop string is empty") }
        stops = request.stop.map { Array($0.unicodeScalars) }
        if request.splitReasoning {
            splitter = ReasoningSplitter(markers: .pangu, startsInReasoning: request.startsInReasoning)
        }
        if request.parseToolCalls { toolParser = ToolCallParser(markers: .pangu) }
    }

    /// Why the sequence ended, in OpenAI's words (nil while running).
    public var finish: GenerationFinish? {
        switch decoder.finish {
        case nil: return nil
        case .stop?: return sawToolCalls ? .toolCalls : .stop
        case .length?: return .length
        case .cancelled?: return .cancelled
        }
    }

    /// Consumes the model's logits for the last position. Returns the new output (possibly empty) and the token to
    /// feed back to the model next, or nil when the sequence has ended (`isDone`).
    public func step(_ logits: [Float]) throws -> (delta: GenerationDelta, next: Int?) {
        var delta = GenerationDelta()
        let next = handle(try decoder.step(logits), into: &delta)
        return (delta, next)
    }

    /// Consumes one speculative round (Docs/Speculative.md): `rows` are the target's logits ([drafts.count + 1,
    /// vocab]) for the last token fed and each draft. Tokens are checked and turned into text one at a time, so
    /// a stop string or the token budget ends the round exactly where plain decoding would end. Returns the new
    /// output, the token to feed next (nil when the sequence ended) and how many drafts were accepted (their
    /// keys/values stay in the cache; the caller rolls back the rest).
    public func step(rows: [Float], drafts: [DraftToken], vocabularySize: Int) throws
        -> (delta: GenerationDelta, next: Int?, accepted: Int) {
        var delta = GenerationDelta()
        var next: Int?
        let accepted = try decoder.verify(drafts: drafts, rows: rows, vocabularySize: vocabularySize) { s in
            next = handle(s, into: &delta)
            return next != nil
        }
        return (delta, next, accepted)
    }

    /// Turns one decoder step into output; returns the token to feed next, or nil when the sequence ended.
    private func handle(_ step: DecodeStep, into delta: inout GenerationDelta) -> Int? {
        switch step {
        case .end:
            // The end-of-sequence id is not output, so it gets no logprob entry: `logprobs` lines up with the
            // generated tokens (`completionTokens`).
            flush(into: &delta, decodeTail: true)
            return nil
        case let .token(id, lp, finish):
            if let lp { delta.logprobs.append(logprob(lp)) }
            if feedText(detokenizer.append(id), into: &delta) {
                decoder.stopByText()
                flush(into: &delta, decodeTail: false)
                return nil
            }
            if finish != nil {
                flush(into: &delta, decodeTail: true)
                return nil
            }
            return id
        }
    }

    /// Ends the sequence early (client gone, caller said stop) and returns the text still held back.
    public func cancel() -> GenerationDelta {
        var delta = GenerationDelta()
        guard !isDone else { return delta }
        decoder.cancel()
        flush(into: &delta, decodeTail: true)
        return delta
    }

    /// Adds decoded `text`; emits all of it but the longest suffix that could begin a stop string. Returns true
    /// when a stop string completed (the text from it on is dropped).
    private func feedText(_ text: String, into delta: inout GenerationDelta) -> Bool {
        held.append(contentsOf: text.unicodeScalars)
        if let at = firstStop() {
            emit(held[..<at], into: &delta)
            held = []
            return true
        }
        var keep = 0
        for s in stops {
            var n = min(s.count - 1, held.count)
            while n > keep {
                if held[(held.count - n)...].elementsEqual(s[..<n]) { keep = n; break }
                n -= 1
            }
        }
        emit(held[..<(held.count - keep)], into: &delta)
        held.removeFirst(held.count - keep)
        return false
    }

    /// Start of the earliest complete stop string in `held`.
    private func firstStop() -> Int? {
        var best: Int?
        for s in stops where s.count <= held.count {
            var i = 0
            while i + s.count <= held.count, i < (best ?? Int.max) {
                if held[i] == s[0] && held[i..<(i + s.count)].elementsEqual(s) { best = i; break }
                i += 1
            }
        }
        return best
    }

    private func flush(into delta: inout GenerationDelta, decodeTail: Bool) {
        if decodeTail {
            if feedText(detokenizer.finish(), into: &delta) { decoder.stopByText() }
            emit(held[...], into: &delta)
        }
        held = []
        if var s = splitter {
            route(s.finish(), into: &delta)
            splitter = s
        }
        if var p = toolParser {
            for e in p.finish() { add(e, into: &delta) }
            toolParser = p
        }
        isDone = true
    }

    private func emit(_ scalars: ArraySlice<Unicode.Scalar>, into delta: inout GenerationDelta) {
        guard !scalars.isEmpty else { return }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        let text = String(view)
        rawText += text
        if splitter != nil {
            route(splitter!.feed(text), into: &delta)
        } else {
            content(text, into: &delta)
        }
    }

    private func route(_ r: ReasoningDelta, into delta: inout GenerationDelta) {
        delta.reasoning += r.reasoning
        content(r.content, into: &delta)
    }

    private func content(_ text: String, into delta: inout GenerationDelta) {
        guard !text.isEmpty else { return }
        if toolParser != nil {
            for e in toolParser!.feed(text) { add(e, into: &delta) }
        } else {
            delta.content += text
        }
    }

    /// Plain text goes to `content` (an invalid span is reported as its raw text there); call progress to `toolCalls`.
    private func add(_ e: ToolCallEvent, into delta: inout GenerationDelta) {
        switch e {
        case let .content(s): delta.content += s
        case let .invalid(raw): delta.content += raw
        case let .calls(c):
            if !c.isEmpty { sawToolCalls = true }
            delta.toolCalls.append(e)
        case .name, .arguments: delta.toolCalls.append(e)
        }
    }

    private func logprob(_ lp: TokenLogprobs) -> TokenLogprob {
        func entry(_ id: Int) -> (text: String, bytes: [UInt8]) {
            let b = GenerationState.tokenBytes(tokenizer, id)
            return (String(decoding: b, as: UTF8.self), b)
        }
        let chosen = entry(lp.token)
        return TokenLogprob(token: lp.token, text: chosen.text, bytes: chosen.bytes, logprob: lp.logprob,
                            top: lp.top.map { (token: $0.token, text: entry($0.token).text, logprob: $0.logprob) })
    }

    /// The bytes one token stands for: a byte-fallback piece `<0xHH>` is that byte, a SentencePiece piece has `▁`
    /// as a space, an added (special) token is its text.
    public static func tokenBytes(_ tokenizer: HuggingFaceTokenizer, _ id: Int) -> [UInt8] {
        guard let piece = tokenizer.idToPiece(id) else { return [] }
        if tokenizer.isAddedToken(id) { return Array(piece.utf8) }
        let u = Array(piece.utf8)
        if u.count == 6, piece.hasPrefix("<0x"), piece.hasSuffix(">"), let b = UInt8(piece.dropFirst(3).prefix(2), radix: 16) {
            return [b]
        }
        return Array(piece.replacingOccurrences(of: "\u{2581}", with: " ").utf8)
    }
}

extension GenerationDelta {
    /// True when the delta carries nothing.
    public var isEmpty: Bool { reasoning.isEmpty && content.isEmpty && toolCalls.isEmpty && logprobs.isEmpty }
}
