// The name table against the names llama.cpp's converter writes for `pangu-embedded` and the official HF names.
import PanguModels
import PanguTensor
import PanguWeights
import XCTest

final class WeightMapTests: XCTestCase {
    func name(_ role: TensorRole, _ scheme: NamingScheme, layer: Int? = nil) -> String? {
        let map = PanguEmbedded.weightMap
        return (layer == nil ? map.global : map.perLayer).first { $0.role == role }?.name(scheme, layer: layer)
    }

    func testKnownNames() {
        XCTAssertEqual(name(.tokenEmbedding, .gguf), "token_embd.weight")
        XCTAssertEqual(name(.output, .huggingFace), "lm_head.weight")
        XCTAssertEqual(name(.output, .gguf), "output.weight")
        XCTAssertEqual(name(.oBias, .huggingFace, layer: 33), "model.layers.33.self_attn.o_proj.bias")
        XCTAssertEqual(name(.oBias, .gguf, layer: 33), "blk.33.attn_output.bias")
        XCTAssertEqual(name(.ffnNorm, .gguf, layer: 0), "blk.0.ffn_norm.weight")
        XCTAssertEqual(name(.down, .huggingFace, layer: 12), "model.layers.12.mlp.down_proj.weight")
        XCTAssertEqual(name(.down, .gguf, layer: 12), "blk.12.ffn_down.weight")
    }

    func testEveryRoleAppearsOnceWithDistinctNames() {
        let map = PanguEmbedded.weightMap
        let roles = (map.global + map.perLayer).map(\.role)
        XCTAssertEqual(Set(roles).count, roles.count)
        let moe: Set<TensorRole> = [.router, .routerScale, .expertGate, .expertUp, .expertDown, .sharedGate, .sharedUp,
                                    .sharedDown]
        XCTAssertEqual(Set(roles), Set(TensorRole.allCases).subtracting(moe))
        for scheme in [NamingScheme.huggingFace, .gguf] {
            let names = map.global.map { $0.name(scheme) } + map.perLayer.map { $0.name(scheme, layer: 7) }
            XCTAssertEqual(Set(names).count, names.count)
        }
    }

    /// Tensors in memory, for resolver tests.
    final class MemorySource: TensorSource, @unchecked Sendable {
        var tensors: [String: TensorInfo] = [:]
        let storage = UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 64)
        func add(_ name: String, _ shape: [Int], offset: Int = 0) {
            tensors[name] = TensorInfo(name: name, dtype: .f32, shape: shape, data: storage + offset,
                                       byteCount: shape.reduce(4, *), file: "mem")
        }
        var tensorNames: [String] { tensors.keys.sorted() }
        func tensor(_ name: String) -> TensorInfo? { tensors[name] }
        var totalBytes: Int { tensors.values.reduce(0) { $0 + $1.byteCount } }
        deinit { storage.deallocate() }
    }

    static let moeMap = WeightMap(global: [], perLayer: [
        WeightName(.router, hf: "l{L}.router", gguf: "blk.{L}.ffn_gate_inp.weight"),
        WeightName(.expertUp, hf: "l{L}.experts.{E}.up", gguf: "blk.{L}.ffn_up_exps.weight"),
    ])

    func testExpertPlaceholderResolvesPerExpertAndReportsEveryMissingOne() throws {
        let src = MemorySource()
        src.add("l0.router", [4, 8])
        src.add("l0.experts.0.up", [3, 8])
        src.add("l0.experts.2.up", [3, 8])
        src.add("l0.experts.3.up", [5, 8])
        XCTAssertThrowsError(try WeightResolver.resolve(
            Self.moeMap, in: src, scheme: .huggingFace, layers: 1, experts: 4,
            expectedShape: { $0 == .router ? [4, 8] : [3, 8] }, allowedTypes: { _ in [.f32] })) { e in
            guard case let ModelError.tensorMismatch(missing, _, wrongShape, _) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(missing, ["l0.experts.1.up"])
            XCTAssertEqual(wrongShape, ["l0.experts.3.up is [5, 8], expected [3, 8]"])
        }
        src.add("l0.experts.1.up", [3, 8])
        src.add("l0.experts.3.up", [3, 8])
        // Rank that owns experts 2 and 3 only: the others are validated but not resolved.
        let r = try WeightResolver.resolve(
            Self.moeMap, in: src, scheme: .huggingFace, layers: 1, experts: 4,
            expectedShape: { $0 == .router ? [4, 8] : [3, 8] }, allowedTypes: { _ in [.f32] },
            owns: { role, _, expert in expert.map { $0 >= 2 } ?? true })
        XCTAssertEqual(r.experts[0][.expertUp]?.map { $0?.name }, [nil, nil, "l0.experts.2.up", "l0.experts.3.up"])
        XCTAssertEqual(r.layers[0][.router]?.name, "l0.router")
    }

    func testStackedGGUFExpertsAreSlicedByRows() throws {
        let src = MemorySource()
        src.add("blk.0.ffn_gate_inp.weight", [4, 8])
        src.add("blk.0.ffn_up_exps.weight", [4, 3, 8], offset: 1024)
        let r = try WeightResolver.resolve(
            Self.moeMap, in: src, scheme: .gguf, layers: 1, experts: 4,
            expectedShape: { $0 == .router ? [4, 8] : [3, 8] }, allowedTypes: { _ in [.f32] })
        let slices = try XCTUnwrap(r.experts[0][.expertUp])
        XCTAssertEqual(slices.count, 4)
        for (x, s) in slices.enumerated() {
            XCTAssertEqual(s?.shape, [3, 8])
            XCTAssertEqual(s?.byteCount, 3 * 8 * 4)
            XCTAssertEqual(s.map { $0.data - UnsafeRawPointer(src.storage) }, 1024 + x * 96)
        }
        // A stack with the wrong expert count is named, not sliced.
        src.add("blk.0.ffn_up_exps.weight", [2, 3, 8])
        XCTAssertThrowsError(try WeightResolver.resolve(
            Self.moeMap, in: src, scheme: .gguf, layers: 1, experts: 4,
            expectedShape: { $0 == .router ? [4, 8] : [3, 8] }, allowedTypes: { _ in [.f32] })) { e in
            XCTAssertTrue("\(e)".contains("blk.0.ffn_up_exps.weight is [2, 3, 8], expected [4, 3, 8]"), "\(e)")
        }
    }
}
