import Foundation
import XCTest
@testable import PanguTokenizer

/// Resource limits (Docs/Fuzzing.md): hostile vocabularies and added-token ids are errors, not huge allocations
/// or integer overflow.
final class LimitsTests: XCTestCase {
    func testAddedTokenIdNearIntMaxIsAnError() {
        // vocabularySize computes max(id) + 1: id Int.max would overflow.
        let json = #"{"added_tokens_decoder": {"9223372036854775807": {"content": "x", "special": true}}}"#
        XCTAssertThrowsError(try TokenizerConfig(configJSON: Data(json.utf8))) { e in
            XCTAssertTrue("\(e)".contains("9223372036854775807") && "\(e)".contains("limit"), "\(e)")
        }
    }

    func testVocabularyBeyondTheLimitIsAnError() {
        let piece = SentencePieceModel.Piece(piece: "a", score: 0, type: .normal)
        let model = SentencePieceModel(pieces: [SentencePieceModel.Piece](repeating: piece, count: SentencePieceModel.maxVocabularySize + 1),
                                       trainerSpec: .init(), normalizerSpec: .init())
        XCTAssertThrowsError(try SentencePieceProcessor(model: model)) { e in
            XCTAssertTrue("\(e)".contains("vocabulary limit"), "\(e)")
        }
    }
}
