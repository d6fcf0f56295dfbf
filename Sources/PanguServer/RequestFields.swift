// Typed, validated access to the fields of a JSON request body. Every wrong type names its field (`param`)
// so the client gets a 400 it can act on.
import PanguChat

/// A JSON object from a request, with the path used in error messages (`messages[2]`).
struct RequestFields {
    let dict: OrderedDictionary
    let path: String

    /// Wraps `value`, which must be an object.
    init(_ value: JinjaValue, path: String) throws {
        guard case let .dict(d) = value else {
            throw APIError.invalid(path.isEmpty ? "The request body must be a JSON object"
                                   : "'\(path)' must be an object", param: path.isEmpty ? nil : path)
        }
        dict = d
        self.path = path
    }

    /// Parses a request body.
    static func parse(body: String) throws -> RequestFields {
        let value: JinjaValue
        do { value = try JSONCoding.parse(body) } catch {
            throw APIError.invalid("We could not parse the JSON body of your request: \(error)")
        }
        return try RequestFields(value, path: "")
    }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The raw value; JSON null counts as absent.
    func value(_ key: String) -> JinjaValue? {
        guard let v = dict[key] else { return nil }
        if case .none = v { return nil }
        return v
    }

    private func wrong(_ key: String, _ expected: String) -> APIError {
        APIError.invalid("'\(name(key))' must be \(expected)", param: name(key), code: "invalid_type")
    }

    func string(_ key: String) throws -> String? {
        guard let v = value(key) else { return nil }
        guard case let .string(s) = v else { throw wrong(key, "a string") }
        return s
    }

    func bool(_ key: String) throws -> Bool? {
        guard let v = value(key) else { return nil }
        guard case let .bool(b) = v else { throw wrong(key, "a boolean") }
        return b
    }

    /// An integer (a float with an integral value is accepted, as Python clients may send `1.0`).
    func int(_ key: String) throws -> Int? {
        guard let v = value(key) else { return nil }
        switch v {
        case let .int(i): return i
        case let .double(d) where d.rounded() == d && abs(d) < 9e15: return Int(d)
        default: throw wrong(key, "an integer")
        }
    }

    func double(_ key: String) throws -> Double? {
        guard let v = value(key) else { return nil }
        switch v {
        case let .int(i): return Double(i)
        case let .double(d) where d.isFinite: return d
        default: throw wrong(key, "a number")
        }
    }

    func array(_ key: String) throws -> [JinjaValue]? {
        guard let v = value(key) else { return nil }
        guard case let .array(a) = v else { throw wrong(key, "an array") }
        return a
    }

    func object(_ key: String) throws -> RequestFields? {
        guard let v = value(key) else { return nil }
        guard case .dict = v else { throw wrong(key, "an object") }
        return try RequestFields(v, path: name(key))
    }

    /// A number within `range`, or nil when absent.
    func double(_ key: String, in range: ClosedRange<Double>) throws -> Double? {
        guard let d = try double(key) else { return nil }
        guard range.contains(d) else {
            throw APIError.invalid("'\(name(key))' must be between \(range.lowerBound) and \(range.upperBound), got \(d)",
                                   param: name(key), code: "invalid_value")
        }
        return d
    }

    /// An integer within `range`, or nil when absent.
    func int(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let i = try int(key) else { return nil }
        guard range.contains(i) else {
            throw APIError.invalid("'\(name(key))' must be between \(range.lowerBound) and \(range.upperBound), got \(i)",
                                   param: name(key), code: "invalid_value")
        }
        return i
    }
}
