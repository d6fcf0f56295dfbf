/// Minimal protobuf wire-format reader over a byte buffer (varint, fixed32/64, length-delimited; groups rejected).
///
/// Only what `sentencepiece_model.proto` needs. Every read is bounds-checked and throws
/// ``TokenizerError/corruptModel(_:)`` naming the offset instead of trapping.
struct ProtobufReader {
    /// Protobuf wire types.
    enum WireType: UInt64 { case varint = 0, fixed64 = 1, lengthDelimited = 2, startGroup = 3, endGroup = 4, fixed32 = 5 }

    let bytes: [UInt8]
    private(set) var position: Int
    let end: Int
    /// Name of the message being read, used in error messages.
    let context: String

    init(bytes: [UInt8], range: Range<Int>, context: String) {
        self.bytes = bytes
        self.position = range.lowerBound
        self.end = range.upperBound
        self.context = context
    }

    var isAtEnd: Bool { position >= end }

    private func fail(_ what: String) -> TokenizerError {
        .corruptModel("\(what) in \(context) at byte \(position)")
    }

    mutating func readVarint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw fail("truncated varint") }
            let b = bytes[position]
            position += 1
            if shift == 63 && b > 1 { throw fail("varint overflows 64 bits") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw fail("varint longer than 10 bytes") }
        }
    }

    /// Reads the next field key; nil at the end of the message.
    mutating func readTag() throws -> (field: Int, wireType: WireType)? {
        if isAtEnd { return nil }
        let key = try readVarint()
        let field = key >> 3
        guard field > 0, field <= 0x1FFF_FFFF else { throw fail("invalid field number \(field)") }
        guard let wt = WireType(rawValue: key & 7) else { throw fail("invalid wire type \(key & 7)") }
        return (Int(field), wt)
    }

    mutating func readFixed32() throws -> UInt32 {
        guard end - position >= 4 else { throw fail("truncated fixed32") }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[position + i]) << (8 * UInt32(i)) }
        position += 4
        return v
    }

    mutating func readFloat() throws -> Float { Float(bitPattern: try readFixed32()) }

    /// Reads a length prefix and returns the byte range of the payload.
    mutating func readLengthDelimited() throws -> Range<Int> {
        let len = try readVarint()
        guard len <= UInt64(end - position) else { throw fail("length \(len) runs past the end of the message") }
        let start = position
        position += Int(len)
        return start..<position
    }

    mutating func readBytes() throws -> [UInt8] { Array(bytes[try readLengthDelimited()]) }

    /// Reads a protobuf `string`; invalid UTF-8 is rejected.
    mutating func readString(_ field: String) throws -> String {
        let r = try readLengthDelimited()
        guard let s = String(validating: bytes[r], as: UTF8.self) else {
            throw TokenizerError.corruptModel("\(field) is not valid UTF-8 in \(context) at byte \(r.lowerBound)")
        }
        return s
    }

    mutating func readInt32() throws -> Int { Int(Int32(truncatingIfNeeded: try readVarint())) }

    mutating func readBool() throws -> Bool { try readVarint() != 0 }

    /// Checks the wire type of a known field.
    func expect(_ wt: WireType, _ actual: WireType, field: String) throws {
        guard wt == actual else { throw fail("field \(field) has wire type \(actual.rawValue), expected \(wt.rawValue)") }
    }

    /// Skips an unknown field.
    mutating func skip(_ wt: WireType) throws {
        switch wt {
        case .varint: _ = try readVarint()
        case .fixed64:
            guard end - position >= 8 else { throw fail("truncated fixed64") }
            position += 8
        case .fixed32: _ = try readFixed32()
        case .lengthDelimited: _ = try readLengthDelimited()
        case .startGroup, .endGroup: throw fail("unsupported group wire type")
        }
    }
}
