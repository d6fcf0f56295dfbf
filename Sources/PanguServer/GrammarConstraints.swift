// Constrained decoding for the server through PanguGrammar (token-level JSON-schema and tool-call automata).
import PanguEngine
import PanguRuntime
import PanguTokenizer

import PanguGrammar

/// ``ConstraintBuilder`` backed by PanguGrammar. The vocabulary index is built once per model.
public struct GrammarConstraintBuilder: ConstraintBuilder {
    let vocabulary: GrammarVocabulary
    let eosTokenIds: [Int]
    /// Reasoning markers the grammar lets through before the constrained text (`[unused16]`/`[unused17]`).
    let reasoning: (open: Int, close: Int)?

    /// Indexes `engine`'s vocabulary.
    public init(engine: Engine) {
        self.init(tokenizer: engine.tokenizer, eosTokenIds: engine.eosTokenIds)
    }

    /// Indexes `tokenizer`'s vocabulary; `eosTokenIds` end a constrained reply once it is complete.
    public init(tokenizer: HuggingFaceTokenizer, eosTokenIds: [Int]) {
        vocabulary = GrammarVocabulary(tokenizer: tokenizer)
        self.eosTokenIds = eosTokenIds
        if let open = tokenizer.pieceToId("[unused16]"), let close = tokenizer.pieceToId("[unused17]") {
            reasoning = (open, close)
        } else {
            reasoning = nil
        }
    }

    func factory(_ grammar: TokenGrammar, allowReasoning: Bool) -> @Sendable () throws -> LogitsConstraint {
        let (eos, reasoning) = (eosTokenIds, allowReasoning ? reasoning : nil)
        return { grammar.makeConstraint(eosTokenIds: eos, reasoning: reasoning) }
    }

    public func jsonObject(allowReasoning: Bool) throws -> @Sendable () throws -> LogitsConstraint {
        factory(try TokenGrammar.jsonObject(vocabulary: vocabulary), allowReasoning: allowReasoning)
    }

    public func jsonSchema(_ schemaJSON: String, allowReasoning: Bool) throws -> @Sendable () throws -> LogitsConstraint {
        factory(try TokenGrammar.jsonSchema(schemaJSON, vocabulary: vocabulary), allowReasoning: allowReasoning)
    }

    public func toolCalls(_ tools: [(name: String, parametersJSON: String)], forcedName: String?, allowReasoning: Bool) throws
        -> @Sendable () throws -> LogitsConstraint {
        factory(try TokenGrammar.toolCalls(tools, forcedName: forcedName, open: "[unused11]", close: "[unused12]",
                                           vocabulary: vocabulary), allowReasoning: allowReasoning)
    }
}

extension ServerModel {
    /// PanguGrammar constraints for `engine`.
    public static func grammarConstraints(engine: Engine) -> (any ConstraintBuilder)? {
        GrammarConstraintBuilder(engine: engine)
    }
}
