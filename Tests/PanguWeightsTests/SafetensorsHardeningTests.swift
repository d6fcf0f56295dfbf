// Hostile safetensors inputs found or motivated by fuzzing (Docs/Fuzzing.md): each is a thrown WeightsError
// naming the file and tensor, never a trap, an out-of-bounds pointer, or a file opened outside the checkpoint.
import Foundation
import PanguWeights
import XCTest

extension SafetensorsTests {
    /// Fuzzer find (safetensors): a header length above Int.max trapped converting UInt64 to Int.
    func testHeaderLengthAboveIntMaxIsAnError() {
        let path = dir.appendingPathComponent("huge.safetensors").path
        var bytes = withUnsafeBytes(of: UInt64(0xFFFF_FFFF_FFFF_FF00).littleEndian) { Array($0) }
        bytes += Array(#"{}"#.utf8)
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        assertThrows(path) { if case .malformedHeader = $0 { return $0.description.contains("header length") } else { return false } }
    }

    /// A shape whose element count fits in Int but whose byte count (× 4 for F32) does not.
    func testShapeWhoseByteCountOverflowsIsAnError() {
        let p = writeRaw("ov.safetensors",
                         header: #"{"x":{"dtype":"F32","shape":[4611686018427387904,2],"data_offsets":[0,0]}}"#, dataBytes: 0)
        assertThrows(p) { if case .badTensorExtent(_, "x", _) = $0 { return true } else { return false } }
        let q = writeRaw("ov2.safetensors",
                         header: #"{"x":{"dtype":"F32","shape":[2305843009213693952],"data_offsets":[0,0]}}"#, dataBytes: 0)
        assertThrows(q) { if case .badTensorExtent(_, "x", _) = $0 { return $0.description.contains("overflows") } else { return false } }
    }

    /// Like the safetensors library: tensors tile the data section, no overlap, no gap, nothing left over.
    func testOverlappingGappedOrShortTensorsAreErrors() {
        let overlap = writeRaw("overlap.safetensors", header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, dataBytes: 12)
        assertThrows(overlap) { if case .badTensorExtent(_, "b", _) = $0 { return $0.description.contains("overlap") } else { return false } }
        let gap = writeRaw("gap.safetensors", header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, dataBytes: 8)
        assertThrows(gap) { if case .badTensorExtent(_, "a", _) = $0 { return $0.description.contains("gap") } else { return false } }
        let extra = writeRaw("extra.safetensors", header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, dataBytes: 12)
        assertThrows(extra) { if case .badTensorExtent = $0 { return $0.description.contains("cover 4") } else { return false } }
    }

    /// JSON keeps the last of two equal keys; the first tensor's bytes are then a gap the tiling check reports.
    func testDuplicateTensorNameIsAnError() {
        let p = writeRaw("dup.safetensors", header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, dataBytes: 8)
        assertThrows(p) { if case .badTensorExtent(_, "a", _) = $0 { return true } else { return false } }
    }

    /// An index from the internet must not make the loader open files outside the checkpoint directory.
    func testIndexShardNamesMustBeFileNamesInTheDirectory() throws {
        _ = writeRaw("s1.safetensors", header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, dataBytes: 4)
        for shard in ["../s1.safetensors", "/dev/zero", "sub/s1.safetensors", "..", ""] {
            let index = #"{"weight_map":{"a":"s1.safetensors","b":"# + "\"\(shard)\"}}"
            try index.write(to: dir.appendingPathComponent("model.safetensors.index.json"), atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try SafetensorsCheckpoint(directory: dir), shard) { e in
                guard case .indexMismatch = e as? WeightsError else { return XCTFail("\(e)") }
                XCTAssertTrue("\(e)".contains("'b'") && "\(e)".contains("not a file name"), "\(e)")
            }
        }
    }
}
