// Speculative decoding at the text level: a draft engine must share the target's vocabulary, piece for piece
// (same size and the same piece behind every id), or its proposals would mean other text.
import Foundation
import PanguModels
import PanguRuntime
import PanguTokenizer

extension Engine {
    /// A drafter backed by `draft`, after checking that both tokenizers map every id to the same piece.
    public func drafter(model draft: Engine) throws -> ModelDrafter {
        let a = tokenizer, b = draft.tokenizer
        guard a.vocabularySize == b.vocabularySize, model.info.vocabularySize == draft.model.info.vocabularySize else {
            throw EngineError.tokenizerMismatch(detail: "the draft model's vocabulary (\(b.vocabularySize) pieces, "
                + "\(draft.model.info.vocabularySize) ids) differs from the target's (\(a.vocabularySize) pieces, "
                + "\(model.info.vocabularySize) ids)")
        }
        for id in 0..<a.vocabularySize where a.idToPiece(id) != b.idToPiece(id) {
            throw EngineError.tokenizerMismatch(detail: "token \(id) is '\(a.idToPiece(id) ?? "-")' for the target "
                + "but '\(b.idToPiece(id) ?? "-")' for the draft model")
        }
        return ModelDrafter(model: draft.model)
    }

    /// Streams a plain completion of `prompt` with speculative decoding; `onText` gets UTF-8-complete pieces.
    public func completeSpeculatively(_ prompt: String, drafter: Drafter, draftMax: Int, sampling: SamplingParameters,
                                      maxTokens: Int, onText: (String) -> Bool)
        throws -> (text: String, tokens: [Int], finish: FinishReason, statistics: SpeculativeStatistics) {
        let ids = tokenizer.encode(prompt, addSpecialTokens: true)
        let cache = model.makeCache()
        if ids.count >= cache.maxPositions { throw EngineError.promptTooLong(tokens: ids.count, contextLength: cache.maxPositions) }
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: false)
        var text = ""
        let generator = try SpeculativeGenerator(model: model, drafter: drafter, eosTokenIds: eosTokenIds,
                                                 draftMax: draftMax)
        let result = try generator.generate(prompt: ids, cache: cache, sampling: sampling,
                                            maxTokens: min(maxTokens, cache.maxPositions - ids.count)) { id in
            let piece = detokenizer.append(id)
            text += piece
            return piece.isEmpty || onText(piece)
        }
        let tail = detokenizer.finish()
        if !tail.isEmpty { text += tail; _ = onText(tail) }
        return (text, result.tokens, result.finish, result.statistics)
    }
}
