// How many tokens to draft next round. Drafting pays only when the tokens it wins are worth more than it costs:
// a round with k drafts emits on average 1 + α + … + α^k tokens (α: the chance that a draft is accepted, each
// draft checked only after the previous one was accepted) and costs k draft steps plus one target pass over
// k + 1 positions. Plain decoding is the round with k = 0. With both costs measured as the sequence runs, the
// policy takes the k (0 … draftMax) with the most tokens per second, so a drafter that keeps missing (a draft
// model that disagrees with the target, prompt lookup on text that does not repeat) costs a few probe rounds
// instead of halving the speed. Docs/Speculative.md explains the model and its limits.
import Foundation

/// Chooses the number of draft tokens per round from the measured acceptance and costs (see the file comment).
public struct DraftLengthPolicy: Sendable {
    /// Most draft tokens per round.
    public let draftMax: Int
    /// Whether costs are used; without, the length follows acceptance alone: one more after a fully accepted
    /// round, one more than the accepted count after a rejection (never fewer than one).
    public let costAware: Bool
    /// Draft tokens asked for next round.
    public private(set) var next: Int

    /// Decayed counts of accepted drafts and of rounds that ended at a rejection: α = accepted / (accepted + rejections)
    /// is the maximum-likelihood estimate when each draft is accepted independently with probability α.
    private var acceptedWeight = 0.0, rejectedWeight = 0.0
    /// Seconds per drafted token, and of a target pass over n positions (index n − 1); exponential moving averages.
    private var draftSeconds: Double?
    private var passSeconds: [Double?]
    /// Whether the cost model chose plain rounds, how many since the last probe, and after how many the next
    /// probe drafts one token to re-measure α (doubling after every probe that did not pay, since a model drafter
    /// that fell behind must first catch up on the tokens it missed).
    private var plain = false, plainRun = 0, probeAfter = DraftLengthPolicy.firstProbe

    /// Weight of a new measurement in the moving averages, and the decay of the acceptance counts per round
    /// (about the last 20 rounds count).
    static let smoothing = 0.3, decay = 0.95
    static let firstProbe = 8, lastProbe = 128

    /// `draftMax` must be ≥ 1 (checked by `SpeculativeDrafting`).
    public init(draftMax: Int, costAware: Bool = true) {
        self.draftMax = draftMax
        self.costAware = costAware
        // Nothing is known yet: a short first draft measures the drafter's cost without betting much on it.
        next = costAware ? min(draftMax, 2) : draftMax
        passSeconds = Array(repeating: nil, count: draftMax + 1)
    }

    /// The estimated probability that a draft is accepted (0.5 before any round: one pseudo-count each way).
    public var acceptance: Double { (acceptedWeight + 0.5) / (acceptedWeight + rejectedWeight + 1) }

    /// Records a round: `drafted` proposals of which the first `accepted` were kept, the seconds the drafter took
    /// (nil: not measured) and the seconds of the target pass over `drafted + 1` positions (nil: not measured, e.g.
    /// shared with other sequences), then chooses `next`.
    public mutating func record(drafted: Int, accepted: Int, draftSeconds d: Double?, passSeconds p: Double?) {
        if drafted > 0 {
            acceptedWeight = acceptedWeight * Self.decay + Double(accepted)
            rejectedWeight = rejectedWeight * Self.decay + (accepted < drafted ? 1 : 0)
            if let d { draftSeconds = Self.average(draftSeconds, d / Double(drafted)) }
        }
        if let p, drafted < passSeconds.count { passSeconds[drafted] = Self.average(passSeconds[drafted], p) }
        next = choose(drafted: drafted, accepted: accepted)
    }

    private static func average(_ old: Double?, _ new: Double) -> Double {
        guard let old else { return new }
        return old + smoothing * (new - old)
    }

    private mutating func choose(drafted: Int, accepted: Int) -> Int {
        // Acceptance alone: grow after a full round, shrink to what was accepted plus one after a rejection.
        let reactive = drafted == 0 ? next
            : accepted == drafted ? min(draftMax, next + 1) : max(1, accepted + 1)
        guard costAware, let td = draftSeconds, passSeconds.contains(where: { $0 != nil }) else { return reactive }
        // A plain round is the yardstick: measure it once rather than extrapolate it from longer passes.
        guard let t1 = passSeconds[0] else { return 0 }
        let a = min(acceptance, 0.999)
        var best = 0, bestRate = 1 / t1
        var emitted = 1.0, power = 1.0
        for k in 1...draftMax {
            power *= a
            emitted += power
            guard let tk = pass(k + 1) else { break }
            let rate = emitted / (Double(k) * td + tk)
            if rate > bestRate { (best, bestRate) = (k, rate) }
        }
        if best > 0 {
            (plain, plainRun, probeAfter) = (false, 0, Self.firstProbe)
            return best
        }
        if plain && drafted > 0 { probeAfter = min(Self.lastProbe, probeAfter * 2) }  // a probe that did not pay
        plain = true
        plainRun += 1
        // Acceptance is only measured while drafting: now and then draft one token to see whether it changed.
        if plainRun >= probeAfter { plainRun = 0; return 1 }
        return 0
    }

    /// The estimated seconds of a target pass over `n` positions: measured, else interpolated linearly between
    /// the nearest measured lengths (extrapolated from the two nearest, never decreasing), else nil.
    func pass(_ n: Int) -> Double? {
        if let t = passSeconds[n - 1] { return t }
        let known = passSeconds.indices.compactMap { i in passSeconds[i].map { (n: Double(i + 1), t: $0) } }
        guard let first = known.first else { return nil }
        guard known.count > 1 else { return first.t }
        let x = Double(n)
        let lower = known.last { $0.n < x }, upper = known.first { $0.n > x }
        let (p, q): ((n: Double, t: Double), (n: Double, t: Double))
        switch (lower, upper) {
        case let (l?, u?): (p, q) = (l, u)
        case (nil, _): (p, q) = (known[0], known[1])
        case (_, nil): (p, q) = (known[known.count - 2], known[known.count - 1])
        }
        let slope = max(0, (q.t - p.t) / (q.n - p.n))
        return max(0, p.t + slope * (x - p.n))
    }
}
