// Rank 0's distributed model and the followers' loop without MPI: a recording channel stands in for the broadcast,
// and both sides run a whole (unsplit) model, so a follower that mirrors rank 0's caches correctly must produce
// exactly rank 0's logits at every step. Covers what a server scheduler does to caches: batches of several
// sequences, rollback by truncation, releasing a cache, and the prefix sharing this mode refuses.
import Foundation
import PanguDistributed
import PanguModels
import PanguParallel
import PanguTestSupport
import PanguWeights
import XCTest

/// Records rank 0's messages; replays them to a follower.
final class RecordingChannel: StepChannel, @unchecked Sendable {
    let rank: Int
    var messages: [[Int64]] = []
    var closed = false
    init(rank: Int, replay: [[Int64]] = []) {
        self.rank = rank
        messages = replay
    }
    func broadcast(_ words: inout [Int64]) throws {
        if rank == 0 { messages.append(words) } else { words = messages.removeFirst() }
    }
    func close() throws { closed = true }
    func abort(code: Int32) -> Never { fatalError("abort(\(code))") }
}

final class ExpertParallelModelTests: XCTestCase {
    var fixture: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("PanguModelsTests/Fixtures/moe-f32")
    }

    func load() throws -> PanguProMoE {
        let model = try ModelRegistry.load(directory: fixture)
        return try XCTUnwrap(model as? PanguProMoE)
    }

    func testFollowerMirrorsCachesThroughBatchesRollbackAndRelease() throws {
        let channel = RecordingChannel(rank: 0)
        let model = ExpertParallelModel(local: try load(), channel: channel)
        XCTAssertFalse(model.supportsPrefixSharing)
        var expected: [[[Float]]] = []
        let pool = model.makePool(elementType: .f16, positions: 1024)  // one pool, as a server scheduler has
        let a = model.makeCache(pool: pool)
        expected.append(try model.forward([SequenceStep(tokens: [1, 17, 93, 5, 211], cache: a, allLogits: true)]))
        var b: KVCache? = model.makeCache(pool: pool)
        expected.append(try model.forward([SequenceStep(tokens: [42], cache: a),
                                           SequenceStep(tokens: [7, 64, 255], cache: b!, allLogits: true)]))
        a.truncate(to: 4)  // rollback, as after rejected draft tokens
        expected.append(try model.forward([SequenceStep(tokens: [33, 99], cache: a, allLogits: true),
                                           SequenceStep(tokens: [3], cache: b!)]))
        b = nil  // released: the next message tells the followers to drop their mirror
        let c = model.makeCache(pool: pool)
        expected.append(try model.forward([SequenceStep(tokens: [11, 254], cache: c), SequenceStep(tokens: [150], cache: a)]))
        XCTAssertEqual(channel.messages.count, 4)
        XCTAssertEqual(channel.messages[3][1], 1, "one dropped cache id in \(channel.messages[3])")
        XCTAssertEqual(channel.messages[3][2], 2, "cache b had id 2")

        // Rejected before anything is sent: a token outside the vocabulary, a cache that gained positions
        // outside forward (prefix sharing).
        XCTAssertThrowsError(try model.forward([SequenceStep(tokens: [256], cache: a)]))
        let d = model.makeCache(pool: pool)
        try d.share(prefix: 3, of: a)
        XCTAssertThrowsError(try model.forward([SequenceStep(tokens: [5], cache: d)])) { error in
            XCTAssertTrue("\(error)".contains("cannot share prefixes"), "\(error)")
        }
        XCTAssertEqual(channel.messages.count, 4)
        try model.shutdown()
        XCTAssertTrue(channel.closed)
        XCTAssertEqual(channel.messages.last, [0])

        // A follower replaying the messages on its own copy of the model computes the same logits at every step.
        var got: [[[Float]]] = []
        let follower = RecordingChannel(rank: 1, replay: channel.messages)
        try ExpertParallelFollower.run(try load(), channel: follower) { _, logits in got.append(logits) }
        XCTAssertEqual(got.count, expected.count)
        for (g, e) in zip(got, expected) { XCTAssertEqual(g, e) }
        XCTAssertTrue(follower.messages.isEmpty)
    }

    func testTruncatedMessageIsAnError() throws {
        let follower = RecordingChannel(rank: 1, replay: [[1, 0, 1, 1, 0, 0, 0, 4096, 3, 1]])
        XCTAssertThrowsError(try ExpertParallelFollower.run(try load(), channel: follower)) { error in
            XCTAssertTrue("\(error)".contains("message ends after 10 words"), "\(error)")
        }
    }

    /// Every tensor name of Pro MoE, in both naming schemes, gets the same role from the name classifier of
    /// PanguDistributed as from the role mapping the shard planner uses.
    func testEveryProMoETensorNameIsClassified() throws {
        let plan = try ExpertParallelPlan(ranks: 2, rank: 1, shape: ExpertParallelShape(
            experts: 16, groups: 4, heads: 4, kvHeads: 2, headDim: 16, sharedIntermediate: 48, vocabulary: 256))
        for entry in PanguProMoE.weightMap.global + PanguProMoE.weightMap.perLayer {
            for scheme in [NamingScheme.huggingFace, .gguf] {
                let expert: Int? = entry.perExpert && scheme == .huggingFace ? 9 : nil
                let name = entry.name(scheme, layer: 3, expert: expert)
                let byName = try plan.share(ofTensorNamed: name)
                let owns = ExpertParallel.ownership(plan)(entry.role, 3, expert)
                XCTAssertEqual(byName != .none, owns, name)
            }
        }
        XCTAssertEqual(try plan.share(ofTensorNamed: "blk.3.exp_probs_scale.weight"), .whole)
    }
}
