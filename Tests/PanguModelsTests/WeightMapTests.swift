// The name table against the names llama.cpp's converter writes for `pangu-embedded` and the official HF names.
import PanguModels
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
        XCTAssertEqual(Set(roles), Set(TensorRole.allCases))
        for scheme in [NamingScheme.huggingFace, .gguf] {
            let names = map.global.map { $0.name(scheme) } + map.perLayer.map { $0.name(scheme, layer: 7) }
            XCTAssertEqual(Set(names).count, names.count)
        }
    }
}
