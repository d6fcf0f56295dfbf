// The draft-length policy against hand-computed outcomes of its cost model (Docs/Speculative.md): a round with k
// drafts emits 1 + α + … + α^k tokens and costs k·t_draft + t_pass(k + 1); the policy takes the k with the most
// tokens per second. Timings are synthetic, so the tests are deterministic.
import XCTest
@testable import PanguRuntime

final class DraftLengthTests: XCTestCase {
    /// Feeds `rounds` rounds of `drafted` drafts with `accepted` kept, the drafter at `draft` seconds per token and
    /// the target pass over n positions at `pass(n)` seconds.
    private func feed(_ p: inout DraftLengthPolicy, rounds: Int, drafted: (Int) -> Int, accepted: (Int) -> Int,
                      draft: Double?, pass: ((Int) -> Double)?) {
        for i in 0..<rounds {
            let d = drafted(i)
            p.record(drafted: d, accepted: accepted(i), draftSeconds: draft.map { $0 * Double(d) },
                     passSeconds: pass?(d + 1))
        }
    }

    /// Cheap drafts that are nearly always right, and a pass whose cost barely grows: draft the most allowed.
    /// Rounds of 0 … 8 drafts, all accepted but one in nine rounds (α ≈ 0.97), t_draft = 0.01, t_pass(n) = 1 + 0.05 (n − 1): the rate
    /// rises with k up to 8 (k = 8: 7.7 tokens / 1.48 s = 5.2 per second; k = 0: 1).
    func testGoodCheapDraftsUseTheMaximum() {
        var p = DraftLengthPolicy(draftMax: 8)
        feed(&p, rounds: 45, drafted: { $0 % 9 }, accepted: { $0 % 9 == 8 ? 7 : $0 % 9 },
             draft: 0.01, pass: { 1 + 0.05 * Double($0 - 1) })
        XCTAssertGreaterThan(p.acceptance, 0.95)
        XCTAssertEqual(p.next, 8)
    }

    /// A draft that costs half a target step and is almost never right (α ≈ 0.02): one draft would emit 1.02
    /// tokens in 1.55 s against 1 token in 1 s plainly, so the policy decodes plainly. It drafts one token to
    /// re-measure the acceptance after 8 plain rounds, then 16, 32 … while the probes keep failing.
    func testCostlyWrongDraftsFallBackToPlainDecodingWithProbes() {
        var p = DraftLengthPolicy(draftMax: 8)
        let pass = { (n: Int) in 1 + 0.05 * Double(n - 1) }
        feed(&p, rounds: 20, drafted: { _ in 1 }, accepted: { _ in 0 }, draft: 0.5, pass: pass)
        XCTAssertEqual(p.next, 0)
        var probes: [Int] = []
        for round in 1...60 {
            let d = p.next
            if d > 0 { probes.append(round) }
            p.record(drafted: d, accepted: 0, draftSeconds: d > 0 ? 0.5 * Double(d) : nil, passSeconds: pass(d + 1))
        }
        // Round 1 measures the plain pass; the probes come 8, 16 and 32 rounds apart.
        XCTAssertEqual(probes, [9, 25, 57], "rounds that drafted")
    }

    /// Plain decoding is measured, not extrapolated: the first round after drafts and timings are known is plain.
    func testThePlainPassIsMeasuredOnce() {
        var p = DraftLengthPolicy(draftMax: 4)
        p.record(drafted: 4, accepted: 4, draftSeconds: 0.04, passSeconds: 1.2)
        XCTAssertEqual(p.next, 0)
        p.record(drafted: 0, accepted: 0, draftSeconds: nil, passSeconds: 1.0)
        XCTAssertGreaterThan(p.next, 0)
    }

    /// When the pass cost grows steeply long drafts stop paying. Every round of d = 1 … 8 drafts ends at a
    /// rejection after d − 1 acceptances (α ≈ 0.79), drafts are free: with t_pass(n) = 1 + 0.5 (n − 1) the tokens per second for
    /// k = 0 … 4 are 1.00, 1.19, 1.20, 1.16, 1.09 (k = 1 or 2); when every position costs a whole step
    /// (t_pass(n) = n) a round of k drafts emits fewer than k + 1 tokens in k + 1 steps, so plain decoding wins.
    func testSteepPassCostShortensTheDraft() {
        for (slope, expected) in [(0.5, 1...2), (1.0, 0...0)] {
            var p = DraftLengthPolicy(draftMax: 8)
            feed(&p, rounds: 45, drafted: { $0 % 9 }, accepted: { max(0, $0 % 9 - 1) }, draft: 0,
                 pass: { 1 + slope * Double($0 - 1) })
            XCTAssert((0.76...0.81).contains(p.acceptance), "\(p.acceptance)")
            XCTAssert(expected.contains(p.next), "slope \(slope): \(p.next)")
        }
    }

    /// Without timings (or with `costAware` false) the length follows acceptance alone: one more after a fully
    /// accepted round (up to the maximum), accepted + 1 after a rejection, never 0.
    func testWithoutTimingsTheLengthFollowsAcceptance() {
        for aware in [true, false] {
            var p = DraftLengthPolicy(draftMax: 4, costAware: aware)
            XCTAssertEqual(p.next, aware ? 2 : 4, "the first round drafts 2 when costs will be measured")
            p.record(drafted: 4, accepted: 1, draftSeconds: aware ? nil : 0.1, passSeconds: aware ? nil : 1)
            XCTAssertEqual(p.next, 2)
            p.record(drafted: 2, accepted: 2, draftSeconds: nil, passSeconds: nil)
            XCTAssertEqual(p.next, 3)
            p.record(drafted: 3, accepted: 0, draftSeconds: nil, passSeconds: nil)
            XCTAssertEqual(p.next, 1)
            for _ in 0..<5 { p.record(drafted: p.next, accepted: p.next, draftSeconds: nil, passSeconds: nil) }
            XCTAssertEqual(p.next, 4)
        }
    }

    /// Unmeasured pass lengths: interpolated between measured ones, extrapolated from the two nearest, flat from
    /// a single measurement.
    func testPassCostEstimates() {
        var p = DraftLengthPolicy(draftMax: 8, costAware: true)
        XCTAssertNil(p.pass(3))
        p.record(drafted: 0, accepted: 0, draftSeconds: nil, passSeconds: 1.0)
        XCTAssertEqual(p.pass(5), 1.0)
        p.record(drafted: 4, accepted: 4, draftSeconds: 0, passSeconds: 3.0)
        XCTAssertEqual(p.pass(3)!, 2.0, accuracy: 1e-12)
        XCTAssertEqual(p.pass(9)!, 5.0, accuracy: 1e-12)
        XCTAssertEqual(p.pass(1)!, 1.0, accuracy: 1e-12)
    }
}
