// NumPy .npy (format 1.0) for float32 arrays: the interchange format for logits checked against references.
import Foundation

/// Reads and writes little-endian float32 `.npy` files.
public enum NPYFile {
    /// Writes `values` with `shape` (C order) to `path`.
    public static func write(_ values: [Float], shape: [Int], to path: String) throws {
        guard shape.reduce(1, *) == values.count else {
            throw WeightsError.writeFailed(path: path, reason: "shape \(shape) does not hold \(values.count) values")
        }
        let dims = shape.count == 1 ? "\(shape[0])," : shape.map(String.init).joined(separator: ", ")
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(dims)), }"
        // Magic (6) + version (2) + header length (2) + header must be a multiple of 64, ending in '\n'.
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let n = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(n & 0xFF), UInt8(n >> 8)])
        data.append(contentsOf: Array(header.utf8))
        values.withUnsafeBytes { data.append(contentsOf: $0) }
        guard FileManager.default.createFile(atPath: path, contents: data) else {
            throw WeightsError.writeFailed(path: path, reason: "cannot create file")
        }
    }

    /// Reads a float32 C-order `.npy` file, returning its values and shape.
    public static func read(_ path: String) throws -> (values: [Float], shape: [Int]) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw WeightsError.cannotOpen(path: path, reason: "file missing or unreadable")
        }
        let bytes = [UInt8](data)
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1..<6]) == Array("NUMPY".utf8) else {
            throw WeightsError.malformedHeader(path: path, detail: "not a .npy file")
        }
        let major = bytes[6]
        let headerStart = major == 1 ? 10 : 12
        let headerLength = major == 1 ? Int(bytes[8]) | Int(bytes[9]) << 8
            : Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        guard headerStart + headerLength <= bytes.count else { throw WeightsError.truncated(path: path, detail: "header") }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        guard header.contains("'<f4'"), header.contains("'fortran_order': False") else {
            throw WeightsError.malformedHeader(path: path, detail: "only little-endian float32 C-order arrays are supported")
        }
        guard let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")") else {
            throw WeightsError.malformedHeader(path: path, detail: "no shape")
        }
        let shape = header[open.upperBound..<close].split(separator: ",")
            .compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let count = shape.reduce(1, *)
        let start = headerStart + headerLength
        guard start + count * 4 <= bytes.count else {
            throw WeightsError.truncated(path: path, detail: "needs \(count * 4) data bytes")
        }
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBytes { dst in
            bytes.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[start..<(start + count * 4)])) }
        }
        return (values, shape)
    }
}
