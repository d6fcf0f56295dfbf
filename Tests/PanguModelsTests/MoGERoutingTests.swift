// Closed-form checks of the Mixture of Grouped Experts block with hand-set router, scales and one-unit experts:
// the expected outputs are computed here in Double from the definition (global softmax over all experts → best
// expert per contiguous group, first index on ties → weight = probability × router_scale, no renormalisation →
// plus the ungated shared expert).
import Foundation
@testable import PanguModels
import PanguTensor
import XCTest

final class MoGERoutingTests: XCTestCase {
    /// f32 matrices that live as long as the test.
    var buffers: [UnsafeMutablePointer<Float>] = []
    override func tearDown() { buffers.forEach { $0.deallocate() }; buffers = [] }

    func matrix(_ rows: Int, _ cols: Int, _ values: [Float]) -> WeightMatrix {
        precondition(values.count == rows * cols)
        let p = UnsafeMutablePointer<Float>.allocate(capacity: values.count)
        p.initialize(from: values, count: values.count)
        buffers.append(p)
        return WeightMatrix(rows: rows, cols: cols, dtype: .f32, data: UnsafeRawPointer(p))
    }

    // D = 2, E = 4 experts in G = 2 groups {0, 1} {2, 3}, expert and shared inner width 1.
    let router: [Float] = [1, 0.5,    // expert 0
                           1, 2,      // expert 1
                           0, -1,     // expert 2
                           2, 0.25]   // expert 3
    let scale: [Float] = [0.5, 2, 3, 1.5]
    // Expert e: gate row, up row, down column (each 2 values).
    let expertGate: [[Float]] = [[0.3, -0.2], [1.1, 0.4], [-0.5, 0.9], [0.7, 0.7]]
    let expertUp: [[Float]] = [[0.8, 0.1], [-0.6, 1.2], [0.2, 0.3], [1.0, -0.4]]
    let expertDown: [[Float]] = [[1.5, -0.5], [0.25, 2.0], [-1.0, 0.75], [0.6, 0.9]]
    let sharedGate: [Float] = [0.4, -0.3], sharedUp: [Float] = [0.9, 0.5], sharedDown: [Float] = [-0.7, 1.3]

    func block(dropping dropped: Set<Int> = []) -> MixtureOfGroupedExperts {
        let experts: [ExpertWeights?] = (0..<4).map { e in
            dropped.contains(e) ? nil : ExpertWeights(gate: matrix(1, 2, expertGate[e]), up: matrix(1, 2, expertUp[e]),
                                                       down: matrix(2, 1, expertDown[e]))
        }
        return MixtureOfGroupedExperts(
            router: matrix(4, 2, router), routerScale: scale, experts: experts,
            shared: SwiGLU(gate: matrix(1, 2, sharedGate), up: matrix(1, 2, sharedUp), down: matrix(2, 1, sharedDown),
                           scratchName: "shared"),
            groups: 2)
    }

    func silu(_ v: Double) -> Double { v / (1 + exp(-v)) }
    func dot(_ a: [Float], _ x: [Double]) -> Double { Double(a[0]) * x[0] + Double(a[1]) * x[1] }
    /// down · (silu(gate · x) · (up · x)) for a one-unit SwiGLU.
    func swiglu(_ g: [Float], _ u: [Float], _ d: [Float], _ x: [Double]) -> [Double] {
        let h = silu(dot(g, x)) * dot(u, x)
        return [Double(d[0]) * h, Double(d[1]) * h]
    }

    /// The definition, in Double. `renormalise` is the variant Pangu does NOT use (for discrimination).
    func expected(_ x: [Double], dropped: Set<Int> = [], renormalise: Bool = false) -> (out: [Double], chosen: [Int]) {
        let logits = (0..<4).map { e in dot([router[2 * e], router[2 * e + 1]], x) }
        let m = logits.max()!
        let ex = logits.map { exp($0 - m) }
        let p = ex.map { $0 / ex.reduce(0, +) }
        var chosen: [Int] = []
        for g in 0..<2 {
            let a = 2 * g, b = 2 * g + 1
            chosen.append(p[b] > p[a] ? b : a)  // first index on ties
        }
        let norm = renormalise ? chosen.reduce(0) { $0 + p[$1] } : 1
        var out = swiglu(sharedGate, sharedUp, sharedDown, x)
        for e in chosen where !dropped.contains(e) {
            let y = swiglu(expertGate[e], expertUp[e], expertDown[e], x)
            let w = p[e] / norm * Double(scale[e])
            out[0] += w * y[0]
            out[1] += w * y[1]
        }
        return (out, chosen)
    }

    func run(_ moe: MixtureOfGroupedExperts, _ rows: [[Double]]) -> [Float] {
        let x = rows.flatMap { $0.map(Float.init) }
        var out = [Float](repeating: .nan, count: x.count)
        x.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { op in
                moe.forward(xp.baseAddress!, tokens: rows.count, workspace: Workspace(), into: op.baseAddress!)
            }
        }
        return out
    }

    // Token 0 = [1, 0]: logits [1, 1, 0, 2] → exact tie in group 0 (expert 0 wins), expert 3 in group 1.
    // Token 1 = [0, 1]: logits [0.5, 2, -1, 0.25] → experts 1 and 3.
    // Token 2 = [0.3, -0.8]: logits [-0.1, -1.3, 0.8, 0.4] → experts 0 and 2.
    let tokens: [[Double]] = [[1, 0], [0, 1], [0.3, -0.8]]

    func testRoutingPicksTheBestExpertPerGroupFirstIndexOnTies() {
        var logits: [Float] = [1, 1, 0, 2,  0.5, 2, -1, 0.25,  3, 3, 3, 3]
        let r = logits.withUnsafeMutableBufferPointer {
            MixtureOfGroupedExperts.route($0.baseAddress!, tokens: 3, experts: 4, groups: 2, scale: scale)
        }
        XCTAssertEqual(r.experts, [0, 3, 1, 3, 0, 2])
        // Weights are softmax-over-all-4 probabilities times router_scale, not renormalised within the choice.
        func p(_ l: [Double], _ e: Int) -> Double { exp(l[e]) / l.map { exp($0) }.reduce(0, +) }
        let l0: [Double] = [1, 1, 0, 2], l1: [Double] = [0.5, 2, -1, 0.25]
        let want = [p(l0, 0) * 0.5, p(l0, 3) * 1.5, p(l1, 1) * 2, p(l1, 3) * 1.5, 0.25 * 0.5, 0.25 * 3]
        for (got, w) in zip(r.weights, want) { XCTAssertEqual(Double(got), w, accuracy: 1e-6) }
        // The all-equal token: every probability is 1/4, so the two weights sum to 0.25·(0.5 + 3), not 1.
        XCTAssertEqual(Double(r.weights[4] + r.weights[5]), 0.875, accuracy: 1e-6)
    }

    func testBlockOutputEqualsTheDefinition() {
        let out = run(block(), tokens)
        for (t, x) in tokens.enumerated() {
            let (want, chosen) = expected(x)
            XCTAssertEqual(chosen, [[0, 3], [1, 3], [0, 2]][t])
            for j in 0..<2 { XCTAssertEqual(Double(out[2 * t + j]), want[j], accuracy: 1e-5, "token \(t) dim \(j)") }
            // The renormalised variant differs clearly, so this test would catch it.
            let renormalised = expected(x, renormalise: true).out
            XCTAssertGreaterThan(abs(renormalised[0] - want[0]) + abs(renormalised[1] - want[1]), 1e-2)
        }
    }

    func testSharedExpertIsAlwaysOnAndUngated() {
        // With every routed expert owned elsewhere, the block computes exactly the shared expert.
        let out = run(block(dropping: [0, 1, 2, 3]), tokens)
        for (t, x) in tokens.enumerated() {
            let want = swiglu(sharedGate, sharedUp, sharedDown, x)
            for j in 0..<2 { XCTAssertEqual(Double(out[2 * t + j]), want[j], accuracy: 1e-6) }
        }
    }

    func testExpertsOwnedElsewhereAreLeftOut() {
        // Expert 3 (chosen by tokens 0 and 1) lives in another process: its share is missing here, the rest is not.
        let out = run(block(dropping: [3]), tokens)
        for (t, x) in tokens.enumerated() {
            let want = expected(x, dropped: [3]).out
            for j in 0..<2 { XCTAssertEqual(Double(out[2 * t + j]), want[j], accuracy: 1e-5) }
        }
    }

    func testRouterScaleMultipliesEachExpertsShare() {
        // Token 2 picks experts 0 and 2; doubling scale[2] adds exactly p[2]·scale[2]·f_2(x) once more.
        let base = run(block(), [tokens[2]])
        var doubled = scale
        doubled[2] *= 2
        let b = block()
        let moe = MixtureOfGroupedExperts(router: b.router, routerScale: doubled, experts: b.experts, shared: b.shared,
                                          groups: 2)
        let out = run(moe, [tokens[2]])
        let x = tokens[2]
        let logits = (0..<4).map { e in dot([router[2 * e], router[2 * e + 1]], x) }
        let p2 = exp(logits[2]) / logits.map { exp($0) }.reduce(0, +)
        let f2 = swiglu(expertGate[2], expertUp[2], expertDown[2], x)
        for j in 0..<2 { XCTAssertEqual(Double(out[j] - base[j]), p2 * 3 * f2[j], accuracy: 1e-5) }
    }
}
