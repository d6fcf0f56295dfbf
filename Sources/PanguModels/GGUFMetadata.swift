// Typed reading of an architecture's GGUF metadata (`<architecture>.<key>`), shared by the configurations that
// read GGUF files: every missing or mistyped key is an error naming the key and the file.
import PanguWeights

struct GGUFArchitectureMetadata {
    let source: GGUFTensorSource
    /// `general.architecture`, one of the supported values.
    let architecture: String
    var file: String { source.path }

    /// Reads `general.architecture` and checks it is one of `supported`.
    init(_ source: GGUFTensorSource, supported: [String]) throws {
        guard let arch = source["general.architecture"]?.stringValue else {
            throw ModelError.unsupportedConfig(file: source.path, field: "general.architecture", detail: "missing")
        }
        guard supported.contains(arch) else { throw ModelError.unsupportedArchitecture(arch, supported: supported) }
        self.source = source
        architecture = arch
    }

    /// `<architecture>.<key>` as an integer, or nil when absent or not an integer.
    func optionalInt(_ key: String) -> Int? { source["\(architecture).\(key)"]?.intValue }

    /// `<architecture>.<key>` as an integer; throws naming the key when it is missing or not an integer.
    func int(_ key: String) throws -> Int {
        guard let v = optionalInt(key) else {
            throw ModelError.unsupportedConfig(file: file, field: "\(architecture).\(key)", detail: "missing or not an integer")
        }
        return v
    }

    /// `<architecture>.<key>` as a number, `value` when absent; throws naming the key when it is missing without a
    /// default or not a number.
    func double(_ key: String, default value: Double? = nil) throws -> Double {
        if let v = source["\(architecture).\(key)"]?.doubleValue { return v }
        if let value, source["\(architecture).\(key)"] == nil { return value }
        throw ModelError.unsupportedConfig(file: file, field: "\(architecture).\(key)", detail: "missing or not a number")
    }
}
