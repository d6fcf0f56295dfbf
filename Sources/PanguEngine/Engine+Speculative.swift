// Speculative decoding at the text level: a draft engine must share the target's vocabulary, piece for piece
// (same size and the same piece behind every id), or its proposals would mean other text.
import Foundation
import PanguModels
import PanguRuntime
import PanguTokenizer

extension Engine {
    /// Throws `EngineError.tokenizerMismatch` unless `draft`'s tokenizer maps every id to the same piece as this
    /// engine's and both models have the same vocabulary size.
    public func checkDraft(_ draft: Engine) throws {
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
    }

    /// A drafter backed by `draft`, after checking that both tokenizers map every id to the same piece.
    public func drafter(model draft: Engine) throws -> ModelDrafter {
        try checkDraft(draft)
        return ModelDrafter(model: draft.model)
    }

    /// Streams a plain completion of `prompt` with speculative decoding; `onText` gets UTF-8-complete pieces.
    /// `costAware` false: draft lengths follow acceptance alone, so sampled output repeats for a seed.
    public func completeSpeculatively(_ prompt: String, drafter: Drafter, draftMax: Int, costAware: Bool = true,
                                      sampling: SamplingParameters, maxTokens: Int, onText: (String) -> Bool)
        throws -> (text: String, tokens: [Int], finish: FinishReason, statistics: SpeculativeStatistics) {
        try SpeculativeDrafting.check(drafter, target: model)
        let drafting = try SpeculativeDrafting(drafter: drafter, draftMax: draftMax, costAware: costAware)
        let ids = tokenizer.encode(prompt, addSpecialTokens: true)
        let r = try stream(promptTokens: ids, cache: model.makeCache(), sampling: sampling, maxTokens: maxTokens,
                           drafting: drafting, onText: onText)
        return (r.text, r.tokens, r.finish, drafting.statistics)
    }
}
