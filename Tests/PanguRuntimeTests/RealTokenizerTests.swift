// Checks that need Huawei's real tokenizer files, which cannot be downloaded here. Set PANGU_REAL_TOKENIZER_DIR to
// a directory holding the official `tokenizer.model` + `tokenizer_config.json` to run them; skipped otherwise.
import Foundation
import PanguChat
import PanguTokenizer
import XCTest

final class RealTokenizerTests: XCTestCase {
    func realTokenizer() throws -> HuggingFaceTokenizer {
        guard let dir = ProcessInfo.processInfo.environment["PANGU_REAL_TOKENIZER_DIR"] else {
            throw XCTSkip("PANGU_REAL_TOKENIZER_DIR not set (needs the official openPangu tokenizer files)")
        }
        return try HuggingFaceTokenizer(directory: URL(fileURLWithPath: dir))
    }

    /// Spec §1.6: the rendered default chat prompt encodes to these ids (third-party test vector).
    func testSpecChatPromptIds() throws {
        let tok = try realTokenizer()
        let prompt = try ChatTemplate.pangu.render(
            messages: [.user("Give me a short introduction to large language model.")], addGenerationPrompt: true)
        XCTAssertEqual(prompt, "[unused9]系统：[unused10][unused9]用户：Give me a short introduction to large language model.[unused10][unused9]助手：")
        XCTAssertEqual(tok.encode(prompt, addSpecialTokens: true),
                       [1, 45887, 70914, 89246, 45892, 45887, 62205, 89246, 38805, 42624, 45509, 24759, 739, 41839, 21500,
                        6138, 20257, 49, 45892, 45887, 74458, 89246])
    }

    /// Spec §5.2: pieces of a math snippet (no dummy prefix, byte pieces for ',' and ')').
    func testSpecPieces() throws {
        let tok = try realTokenizer()
        let text = "so yes, 1/3 = 4/12.\n\nAnd 5/12 is already in twelfths.\n\nSo, P(C) = 12/12 - 4/12 - 5/12\n\nNow,"
        let pieces = tok.encode(text, addSpecialTokens: false).compactMap { tok.idToPiece($0) }
        XCTAssertEqual(pieces, ["so", "▁yes", "<0x2C>", "▁1", "/3", "▁=", "▁4", "/12", ".\n\n", "And", "▁5", "/12", "▁is",
                                "▁already", "▁in", "▁tw", "elf", "ths", ".\n\n", "So", "<0x2C>", "▁P", "(C", "<0x29>", "▁=",
                                "▁12", "/12", "▁-", "▁4", "/12", "▁-", "▁5", "/12", "\n\n", "Now", "<0x2C>"])
    }
}
