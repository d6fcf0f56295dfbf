// Helpers for numeric tests: comparing float arrays against golden references with a stated tolerance.
import Foundation

/// The result of comparing two float arrays.
public struct Comparison: CustomStringConvertible {
    /// Largest absolute difference.
    public let maxAbsDiff: Float
    /// Index where it occurs.
    public let worstIndex: Int
    /// Largest |reference| value (the scale the tolerance is relative to).
    public let referenceScale: Float

    public var description: String {
        String(format: "max |Δ| %.3g at %d (reference scale %.3g, relative %.3g)", maxAbsDiff, worstIndex,
               referenceScale, maxAbsDiff / max(1, referenceScale))
    }

    /// True when max |Δ| ≤ relative × max(1, max |reference|).
    public func within(relative: Float) -> Bool { maxAbsDiff <= relative * max(1, referenceScale) }
}

/// Compares `actual` with `reference` element by element (they must have equal counts).
public func compare(_ actual: [Float], _ reference: [Float]) -> Comparison {
    precondition(actual.count == reference.count, "count \(actual.count) vs \(reference.count)")
    var worst: Float = 0, at = 0, scale: Float = 0
    for i in actual.indices {
        let d = abs(actual[i] - reference[i])
        if !(d <= worst) { worst = d.isNaN ? .infinity : d; at = i }
        scale = max(scale, abs(reference[i]))
    }
    return Comparison(maxAbsDiff: worst, worstIndex: at, referenceScale: scale)
}

/// Deterministic pseudo-random floats in [-scale, scale] for kernel tests (LCG: reproducible everywhere).
public func randomFloats(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var s = seed &* 6364136223846793005 &+ 1442695040888963407
    return (0..<n).map { _ in
        s = s &* 6364136223846793005 &+ 1442695040888963407
        return (Float(s >> 40) / Float(1 << 24) * 2 - 1) * scale
    }
}

/// A fresh temporary directory removed by the caller when done.
public func makeTemporaryDirectory(_ label: String = "pangu-test") throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
