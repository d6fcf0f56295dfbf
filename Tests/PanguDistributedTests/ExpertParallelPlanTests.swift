// The expert-parallel split: hand-computed ranges for Pangu Pro MoE's dimensions, partition properties, clear
// errors for splits that do not fit, and a numeric check that the partial outputs of the planned slices sum to the
// unsplit computation (plain loops written here, independent of any engine code).
import PanguDistributed
import XCTest

final class ExpertParallelPlanTests: XCTestCase {
    /// Pangu Pro MoE: 64 experts in 8 groups, 40 query / 8 KV heads of 128, shared expert 5376.
    let proMoE = ExpertParallelShape(experts: 64, groups: 8, heads: 40, kvHeads: 8, headDim: 128,
                                     sharedIntermediate: 5376, vocabulary: 153_376)

    func testProMoEFourRanksByHand() throws {
        let p = try ExpertParallelPlan(ranks: 4, rank: 2, shape: proMoE)
        XCTAssertEqual(p.groups, 4..<6)
        XCTAssertEqual(p.experts, 32..<48)
        XCTAssertEqual(p.kvHeads, 4..<6)
        XCTAssertEqual(p.queryHeads, 20..<30)  // 5 query heads per KV head
        XCTAssertEqual(p.qRows, 2560..<3840)
        XCTAssertEqual(p.kvRows, 512..<768)
        XCTAssertEqual(p.oColumns, 2560..<3840)
        XCTAssertEqual(p.sharedRows, 2688..<4032)  // 5376 / 4 = 1344 rows each
        XCTAssertEqual(p.outputRows, 76688..<115_032)  // 153376 / 4 = 38344 rows each
        XCTAssertFalse(p.addsOutputBias)
        XCTAssertTrue(try ExpertParallelPlan(ranks: 4, rank: 0, shape: proMoE).addsOutputBias)
    }

    func testProMoEOneAndEightRanksByHand() throws {
        let one = try ExpertParallelPlan(ranks: 1, rank: 0, shape: proMoE)
        XCTAssertEqual(one.experts, 0..<64)
        XCTAssertEqual(one.qRows, 0..<5120)
        XCTAssertEqual(one.kvRows, 0..<1024)
        XCTAssertEqual(one.sharedRows, 0..<5376)
        let last = try ExpertParallelPlan(ranks: 8, rank: 7, shape: proMoE)
        XCTAssertEqual(last.groups, 7..<8)
        XCTAssertEqual(last.experts, 56..<64)
        XCTAssertEqual(last.kvHeads, 7..<8)
        XCTAssertEqual(last.queryHeads, 35..<40)
        XCTAssertEqual(last.qRows, 4480..<5120)
        XCTAssertEqual(last.kvRows, 896..<1024)
        XCTAssertEqual(last.sharedRows, 4704..<5376)
        XCTAssertEqual(last.outputRows, 134_200..<153_376)  // 19172 groups of 8 rows: 2396 or 2397 groups each
    }

    /// Every dimension is cut into contiguous, disjoint slices that cover it, and every query head a rank computes
    /// reads a KV head of the same rank (query head j uses KV head j / (H/Hkv)).
    func testSlicesPartitionEveryDimension() throws {
        for ranks in [1, 2, 4, 8] {
            for alignment in [1, 32, 256] {
                let plans = try ExpertParallelPlan.all(ranks: ranks, shape: proMoE, sharedAlignment: alignment)
                XCTAssertEqual(plans.count, ranks)
                func assertPartition(_ ranges: [Range<Int>], _ total: Int, _ what: String) {
                    XCTAssertEqual(ranges.first?.lowerBound, 0, what)
                    XCTAssertEqual(ranges.last?.upperBound, total, what)
                    for (a, b) in zip(ranges, ranges.dropFirst()) { XCTAssertEqual(a.upperBound, b.lowerBound, what) }
                    XCTAssertTrue(ranges.allSatisfy { !$0.isEmpty }, what)
                }
                assertPartition(plans.map(\.experts), 64, "experts N=\(ranks)")
                assertPartition(plans.map(\.qRows), 5120, "q rows N=\(ranks)")
                assertPartition(plans.map(\.kvRows), 1024, "kv rows N=\(ranks)")
                assertPartition(plans.map(\.sharedRows), 5376, "shared rows N=\(ranks) alignment \(alignment)")
                assertPartition(plans.map(\.outputRows), 153_376, "vocabulary rows N=\(ranks)")
                for p in plans {
                    XCTAssertEqual(p.experts.count, 64 / ranks)
                    for j in p.queryHeads { XCTAssertTrue(p.kvHeads.contains(j / 5), "head \(j) rank \(p.rank)") }
                    for edge in [p.sharedRows.lowerBound, p.sharedRows.upperBound] where edge != 5376 {
                        XCTAssertEqual(edge % alignment, 0, "shared split at \(edge), alignment \(alignment)")
                    }
                    XCTAssertEqual(p.outputRows.lowerBound % 8, 0, "vocabulary split at \(p.outputRows)")
                }
            }
        }
    }

    /// With 256-value blocks, 5376 = 21 blocks: 4 ranks get 5, 5, 5, 6 blocks.
    func testSharedSplitOnBlockBoundaries() throws {
        let plans = try ExpertParallelPlan.all(ranks: 4, shape: proMoE, sharedAlignment: 256)
        XCTAssertEqual(plans.map(\.sharedRows), [0..<1280, 1280..<2560, 2560..<3840, 3840..<5376])
        let two = try ExpertParallelPlan.all(ranks: 2, shape: proMoE, sharedAlignment: 256)
        XCTAssertEqual(two.map(\.sharedRows), [0..<2560, 2560..<5376])
    }

    func testColumnBlocks() throws {
        // 8 ranks: 5 heads × 128 = 640 o_proj columns per rank, not whole 256-value blocks.
        let eight = try ExpertParallelPlan(ranks: 8, rank: 1, shape: proMoE, sharedAlignment: 256)
        XCTAssertThrowsError(try eight.checkColumnBlocks(outputBlock: 256, sharedDownBlock: 256)) { error in
            XCTAssertTrue("\(error)".contains("o_proj"), "\(error)")
            XCTAssertTrue("\(error)".contains("640"), "\(error)")
        }
        XCTAssertNoThrow(try eight.checkColumnBlocks(outputBlock: 32, sharedDownBlock: 256))
        // 4 ranks, unaligned shared split: 1344 is not a multiple of 256.
        let four = try ExpertParallelPlan(ranks: 4, rank: 1, shape: proMoE)
        XCTAssertNoThrow(try four.checkColumnBlocks(outputBlock: 256, sharedDownBlock: 32))
        XCTAssertThrowsError(try four.checkColumnBlocks(outputBlock: 256, sharedDownBlock: 256)) { error in
            XCTAssertTrue("\(error)".contains("shared-expert down_proj"), "\(error)")
        }
    }

    func testSplitsThatDoNotFitAreNamed() {
        func assertSplitError(_ ranks: Int, _ shape: ExpertParallelShape, _ needle: String,
                              line: UInt = #line) {
            XCTAssertThrowsError(try ExpertParallelPlan(ranks: ranks, rank: 0, shape: shape), line: line) { error in
                guard case let DistributedError.invalidSplit(detail) = error else {
                    return XCTFail("\(error)", line: line)
                }
                XCTAssertTrue(detail.contains(needle), detail, line: line)
            }
        }
        assertSplitError(3, proMoE, "3 ranks do not divide the 8 expert groups")
        assertSplitError(16, proMoE, "16 ranks do not divide the 8 expert groups")
        var moreGroups = proMoE
        moreGroups.groups = 16
        assertSplitError(16, moreGroups, "16 ranks do not divide the 8 KV heads")
        var uneven = proMoE
        uneven.experts = 60
        assertSplitError(2, uneven, "60 experts do not form 8 equal groups")
        var badGQA = proMoE
        badGQA.kvHeads = 6
        assertSplitError(2, badGQA, "40 query heads are not a multiple of 6 KV heads")
        assertSplitError(0, proMoE, "number of ranks is 0")
        var tinyShared = proMoE
        tinyShared.sharedIntermediate = 300
        XCTAssertThrowsError(try ExpertParallelPlan(ranks: 4, rank: 0, shape: tinyShared, sharedAlignment: 256))
        XCTAssertThrowsError(try ExpertParallelPlan(ranks: 4, rank: 4, shape: proMoE)) { error in
            XCTAssertEqual(error as? DistributedError, .invalidArgument("rank 4 is outside 0..<4"))
        }
    }

    /// Logits gathered from 3 ranks (vocabulary 7: rows 0..<2, 2..<4, 4..<7) for 2 tokens go back to [T, V].
    func testAssembleRows() throws {
        var tiny = proMoE
        tiny.vocabulary = 7
        tiny.groups = 3
        tiny.experts = 3
        tiny.kvHeads = 3
        tiny.heads = 3
        let plans = try ExpertParallelPlan.all(ranks: 3, shape: tiny)
        XCTAssertEqual(plans.map(\.outputRows), [0..<2, 2..<4, 4..<7])
        // Rank blocks [T, rows] in rank order; value 10·t + v marks token t, vocabulary row v.
        let gathered: [Float] = [0, 1, 10, 11] + [2, 3, 12, 13] + [4, 5, 6, 14, 15, 16]
        XCTAssertEqual(try ExpertParallelPlan.assembleRows(gathered, tokens: 2, plans: plans),
                       [0, 1, 2, 3, 4, 5, 6, 10, 11, 12, 13, 14, 15, 16])
        XCTAssertThrowsError(try ExpertParallelPlan.assembleRows(Array(gathered.dropLast()), tokens: 2, plans: plans))
    }

    func testOwnershipOfHuggingFaceNames() throws {
        let p = try ExpertParallelPlan(ranks: 4, rank: 1, shape: proMoE)  // experts 16..<32, q heads 10..<20
        let layer = "model.layers.7."
        XCTAssertEqual(try p.share(ofTensorNamed: layer + "mlp.experts.16.gate_proj.weight"), .whole)
        XCTAssertEqual(try p.share(ofTensorNamed: layer + "mlp.experts.31.down_proj.weight"), .whole)
        XCTAssertEqual(try p.share(ofTensorNamed: layer + "mlp.experts.15.up_proj.weight"), TensorShare.none)
        XCTAssertEqual(try p.share(ofTensorNamed: layer + "mlp.experts.32.up_proj.weight"), TensorShare.none)
        XCTAssertFalse(try p.needs(tensorNamed: layer + "mlp.experts.0.up_proj.weight"))
        XCTAssertEqual(try p.share(ofTensorNamed: layer + "self_attn.q_proj.weight"), .rows(1280..<2560))
        XCTAssertEqual(try p.share(ofTensorNamed: layer + "self_attn.q_proj.bias"), .rows(1280..<2560))
        XCTAssertEqual(try p.share(ofTensorNamed: layer + "self_attn.k_proj.weight"), .rows(256..<512))
        XCTAssertEqual(try p.share(ofTensorNamed: layer + "self_attn.v_proj.bias"), .rows(256..<512))
        XCTAssertEqual(try p.share(ofTensorNamed: layer + "self_attn.o_proj.weight"), .columns(1280..<2560))
        XCTAssertEqual(try p.share(ofTensorNamed: layer + "self_attn.o_proj.bias"), TensorShare.none)
        XCTAssertEqual(try p.share(ofTensorNamed: layer + "mlp.shared_expert.gate_proj.weight"), .rows(1344..<2688))
        XCTAssertEqual(try p.share(ofTensorNamed: layer + "mlp.shared_expert.up_proj.weight"), .rows(1344..<2688))
        XCTAssertEqual(try p.share(ofTensorNamed: layer + "mlp.shared_expert.down_proj.weight"),
                       .columns(1344..<2688))
        XCTAssertEqual(try p.share(ofTensorNamed: "lm_head.weight"), .rows(38344..<76688))
        for name in ["model.embed_tokens.weight", "model.norm.weight", layer + "mlp.gate.weight",
                     layer + "mlp.router_scale", layer + "input_layernorm.weight",
                     layer + "post_attention_layernorm.weight", layer + "self_attn.rotary_emb.inv_freq"]
        {
            XCTAssertEqual(try p.share(ofTensorNamed: name), .whole, name)
        }
        let rank0 = try ExpertParallelPlan(ranks: 4, rank: 0, shape: proMoE)
        XCTAssertEqual(try rank0.share(ofTensorNamed: layer + "self_attn.o_proj.bias"), .whole)
    }

    func testOwnershipOfGGUFNames() throws {
        let p = try ExpertParallelPlan(ranks: 2, rank: 1, shape: proMoE)  // experts 32..<64, KV heads 4..<8
        XCTAssertEqual(try p.share(ofTensorNamed: "blk.0.ffn_gate_exps.weight"), .experts(32..<64))
        XCTAssertEqual(try p.share(ofTensorNamed: "blk.47.ffn_down_exps.weight"), .experts(32..<64))
        XCTAssertEqual(try p.share(ofTensorNamed: "blk.3.attn_q.weight"), .rows(2560..<5120))
        XCTAssertEqual(try p.share(ofTensorNamed: "blk.3.attn_k.bias"), .rows(512..<1024))
        XCTAssertEqual(try p.share(ofTensorNamed: "blk.3.attn_output.weight"), .columns(2560..<5120))
        XCTAssertEqual(try p.share(ofTensorNamed: "blk.3.attn_output.bias"), TensorShare.none)
        XCTAssertEqual(try p.share(ofTensorNamed: "blk.3.ffn_up_shexp.weight"), .rows(2688..<5376))
        XCTAssertEqual(try p.share(ofTensorNamed: "blk.3.ffn_down_shexp.weight"), .columns(2688..<5376))
        XCTAssertEqual(try p.share(ofTensorNamed: "output.weight"), .rows(76688..<153_376))
        for name in ["token_embd.weight", "output_norm.weight", "blk.3.attn_norm.weight",
                     "blk.3.ffn_norm.weight", "blk.3.ffn_gate_inp.weight"]
        {
            XCTAssertEqual(try p.share(ofTensorNamed: name), .whole, name)
        }
    }

    func testUnknownNamesAreErrors() throws {
        let p = try ExpertParallelPlan(ranks: 2, rank: 0, shape: proMoE)
        for name in ["model.layers.0.mlp.experts.3.gate_proj.bias", "model.layers.x.self_attn.q_proj.weight",
                     "blk.0.ffn_gate.weight", "model.layers.0.mlp.shared_expert_gate.weight", "transformer.wte"]
        {
            XCTAssertThrowsError(try p.share(ofTensorNamed: name)) { error in
                XCTAssertEqual(error as? DistributedError, .unknownTensor(name))
            }
        }
        XCTAssertThrowsError(try p.share(ofTensorNamed: "model.layers.0.mlp.experts.64.up_proj.weight")) { error in
            XCTAssertEqual(error as? DistributedError,
                           .invalidArgument("model.layers.0.mlp.experts.64.up_proj.weight: expert 64 is outside 0..<64"))
        }
    }
}
