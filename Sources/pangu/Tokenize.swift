import ArgumentParser
import Foundation
import PanguEngine
import PanguTokenizer
import PanguWeights

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the token ids and pieces of a text; with --json, one JSON string per input line → one id array.")

    @Option(help: "Checkpoint or tokenizer directory (tokenizer.model + tokenizer_config.json). Default: built-in.")
    var model: String?
    @Argument(help: "Text to tokenize (omit with --json).") var text: String?
    @Flag(help: "Read one JSON-encoded string per line on standard input; write one JSON array of ids per line.")
    var json = false
    @Flag(help: "Do not add BOS/EOS.") var noSpecialTokens = false

    func run() throws {
        let path = try model.map { URL(fileURLWithPath: $0) } ?? BuiltinModel.directory()
        let tokenizer: HuggingFaceTokenizer
        if path.pathExtension == "gguf" {
            tokenizer = try GGUFTokenizer.load(GGUFTensorSource(path: path.path))
        } else {
            tokenizer = try HuggingFaceTokenizer(directory: path)
        }
        if json {
            var lineNumber = 0
            while let line = readLine(strippingNewline: true) {
                lineNumber += 1
                guard let data = line.data(using: .utf8),
                      let s = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) as? String
                else { throw ValidationError("line \(lineNumber) is not a JSON string") }
                let ids = tokenizer.encode(s, addSpecialTokens: !noSpecialTokens)
                print("[" + ids.map(String.init).joined(separator: ",") + "]")
            }
            return
        }
        guard let text else { throw ValidationError("give a text, or --json to read lines from standard input") }
        let ids = tokenizer.encode(text, addSpecialTokens: !noSpecialTokens)
        for id in ids {
            let piece = tokenizer.idToPiece(id) ?? "?"
            let quoted = String(data: try JSONSerialization.data(withJSONObject: piece, options: [.fragmentsAllowed]),
                                encoding: .utf8) ?? piece
            print("\(id)\t\(quoted)")
        }
        FileHandle.standardError.write(Data("\(ids.count) tokens\n".utf8))
    }
}
