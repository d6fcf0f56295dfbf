// The tokenizer stored in a GGUF file's metadata (llama.cpp `tokenizer.ggml.model = "llama"`: a SentencePiece
// vocabulary with scores and token types) rebuilt as our SentencePiece + Hugging Face tokenizer.
import Foundation
import PanguTokenizer
import PanguWeights

/// Builds tokenizers from GGUF metadata.
public enum GGUFTokenizer {
    /// The tokenizer of `source`. Control and user-defined tokens become Hugging Face added tokens (matched as whole
    /// strings before SentencePiece runs, as `[unused9]` is in the original tokenizer_config.json); the dummy
    /// prefix follows `tokenizer.ggml.add_space_prefix` as llama.cpp does.
    public static func load(_ source: GGUFTensorSource) throws -> HuggingFaceTokenizer {
        func fail(_ detail: String) -> EngineError { .noTokenizer(directory: source.path, reason: detail) }
        guard let model = source["tokenizer.ggml.model"]?.stringValue else { throw fail("tokenizer.ggml.model is missing") }
        guard model == "llama" else { throw fail("tokenizer.ggml.model \"\(model)\" is not a SentencePiece (\"llama\") vocabulary") }
        guard let tokens = source["tokenizer.ggml.tokens"]?.stringArray, !tokens.isEmpty else {
            throw fail("tokenizer.ggml.tokens is missing")
        }
        let scores = source["tokenizer.ggml.scores"]?.arrayValue?.compactMap { $0.doubleValue.map(Float.init) }
            ?? [Float](repeating: 0, count: tokens.count)
        let types = source["tokenizer.ggml.token_type"]?.arrayValue?.compactMap(\.intValue)
            ?? [Int](repeating: 1, count: tokens.count)
        guard scores.count == tokens.count, types.count == tokens.count else {
            throw fail("tokenizer.ggml.scores/token_type do not have one entry per token (\(tokens.count))")
        }
        var pieces: [SentencePieceModel.Piece] = []
        var added: [String: Any] = [:]
        let unknownId = source["tokenizer.ggml.unknown_token_id"]?.intValue ?? 0
        // llama.cpp's converter marks every special added token CONTROL, <unk> included; SentencePiece needs one
        // UNKNOWN piece, so the declared unknown id keeps that type.
        let hasUnknown = types.contains(SentencePieceModel.PieceType.unknown.rawValue)
        for (i, text) in tokens.enumerated() {
            let stored = SentencePieceModel.PieceType(rawValue: types[i]) ?? .normal
            var type = stored
            if !hasUnknown && i == unknownId { type = .unknown }
            // llama.cpp stores every special added token as CONTROL, which SentencePiece would decode to nothing;
            // Hugging Face decodes added tokens verbatim, so they become user-defined pieces here.
            if type == .control { type = .userDefined }
            pieces.append(.init(piece: text, score: scores[i], type: type))
            if type == .userDefined || type == .unknown {
                added[String(i)] = ["content": text, "special": stored != .userDefined]
            }
        }
        var trainer = SentencePieceModel.TrainerSpec()
        trainer.modelType = .bpe
        trainer.byteFallback = types.contains(SentencePieceModel.PieceType.byte.rawValue)
        trainer.vocabSize = tokens.count
        func id(_ key: String) -> Int? { source["tokenizer.ggml.\(key)"]?.intValue }
        trainer.unkId = id("unknown_token_id") ?? 0
        trainer.bosId = id("bos_token_id") ?? -1
        trainer.eosId = id("eos_token_id") ?? -1
        trainer.padId = id("padding_token_id") ?? -1
        var normalizer = SentencePieceModel.NormalizerSpec()
        normalizer.name = "identity"
        normalizer.addDummyPrefix = source["tokenizer.ggml.add_space_prefix"]?.boolValue ?? true
        normalizer.removeExtraWhitespaces = false
        normalizer.escapeWhitespaces = true
        let sp = try SentencePieceProcessor(model: SentencePieceModel(pieces: pieces, trainerSpec: trainer,
                                                                      normalizerSpec: normalizer))
        func piece(_ id: Int?) -> String? { id.flatMap { $0 >= 0 && $0 < tokens.count ? tokens[$0] : nil } }
        var config: [String: Any] = [
            "added_tokens_decoder": added,
            "add_bos_token": source["tokenizer.ggml.add_bos_token"]?.boolValue ?? true,
            "add_eos_token": source["tokenizer.ggml.add_eos_token"]?.boolValue ?? false,
        ]
        config["bos_token"] = piece(id("bos_token_id"))
        config["eos_token"] = piece(id("eos_token_id"))
        config["unk_token"] = piece(id("unknown_token_id"))
        config["pad_token"] = piece(id("padding_token_id"))
        config["chat_template"] = source["tokenizer.chat_template"]?.stringValue
        return try HuggingFaceTokenizer(sentencePiece: sp, config: TokenizerConfig(dictionary: config))
    }
}
