// Reading a config.json into an architecture's throwing `Codable` configuration: every decoding failure becomes a
// `ModelError.unsupportedConfig` naming the file and the field.
import Foundation

enum ConfigFile {
    /// Decodes `url` as `T`, naming the field of a missing key, a wrong type or a null.
    static func decode<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ModelError.unsupportedConfig(file: url.path, field: "-", detail: "cannot read: \(error.localizedDescription)")
        }
        func field(_ context: DecodingError.Context) -> String { context.codingPath.map(\.stringValue).joined(separator: ".") }
        do { return try JSONDecoder().decode(T.self, from: data) } catch let DecodingError.keyNotFound(key, _) {
            throw ModelError.unsupportedConfig(file: url.path, field: key.stringValue, detail: "missing")
        } catch let DecodingError.typeMismatch(_, context) {
            throw ModelError.unsupportedConfig(file: url.path, field: field(context),
                                               detail: "wrong type: \(context.debugDescription)")
        } catch let DecodingError.valueNotFound(_, context) {
            throw ModelError.unsupportedConfig(file: url.path, field: field(context), detail: "null where a value is needed")
        } catch {
            throw ModelError.unsupportedConfig(file: url.path, field: "-", detail: "not valid JSON: \(error)")
        }
    }
}
