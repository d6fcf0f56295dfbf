import Foundation
import XCTest

/// Locates and loads the golden fixtures written by scripts/tokenizer/make_tokenizer_goldens.py.
enum Fixtures {
    static var root: URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    }

    static func url(_ path: String) -> URL { root.appendingPathComponent(path) }

    static func json(_ path: String) throws -> [String: Any] {
        let data = try Data(contentsOf: url(path))
        guard let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw NSError(domain: "Fixtures", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(path) is not an object"])
        }
        return obj
    }

    /// Names of the SentencePiece golden models (`sp/<name>.model` + `sp/<name>.json`).
    static let spModels = ["bpe-bytefallback-nfkc", "bpe-identity-nodummy", "bpe-suffix-nfkc", "bpe-nfkc-cf-nows",
                           "unigram-bytefallback-nfkc", "unigram-identity-nodummy", "unigram-nfkc-nobf",
                           "bpe-custom-rules", "bpe-denormalizer", "char-identity", "word-identity"]
}

/// Byte-exact string comparison (Swift `==` uses canonical equivalence, which would hide NFC/NFD differences).
func sameBytes(_ a: String, _ b: String) -> Bool { Array(a.utf8) == Array(b.utf8) }

func ints(_ any: Any?) -> [Int] { (any as? [Any] ?? []).map { ($0 as! NSNumber).intValue } }
