// Per-sequence key/value cache. Each layer keeps K and V as [positions, Hkv, Dh] f32 rows, grown in chunks so
// a short chat does not reserve the whole context up front.

/// The attention keys and values of one sequence, for every layer.
public final class KVCache: @unchecked Sendable {
    /// Layers in the model.
    public let layers: Int
    /// Floats per position per layer (Hkv × Dh).
    public let rowWidth: Int
    /// Largest number of positions this cache may hold (the model's context length).
    public let maxPositions: Int
    /// Positions currently filled (the next token is written at this position).
    public private(set) var count = 0
    private(set) var capacity = 0
    private var keys: [UnsafeMutablePointer<Float>] = []
    private var values: [UnsafeMutablePointer<Float>] = []
    private static let growth = 256

    /// Creates an empty cache for `layers` layers of `kvHeads × headDim` floats per position.
    public init(layers: Int, kvHeads: Int, headDim: Int, maxPositions: Int) {
        self.layers = layers
        self.rowWidth = kvHeads * headDim
        self.maxPositions = maxPositions
    }

    /// Bytes currently allocated.
    public var allocatedBytes: Int { capacity * rowWidth * 4 * 2 * layers }

    /// Makes room for `needed` positions in total. Throws `ModelError.contextOverflow` past `maxPositions`.
    public func reserve(_ needed: Int) throws {
        guard needed <= maxPositions else { throw ModelError.contextOverflow(needed: needed, limit: maxPositions) }
        guard needed > capacity else { return }
        let newCapacity = min(maxPositions, max(needed, capacity * 2, KVCache.growth))
        for l in 0..<layers {
            let k = UnsafeMutablePointer<Float>.allocate(capacity: newCapacity * rowWidth)
            let v = UnsafeMutablePointer<Float>.allocate(capacity: newCapacity * rowWidth)
            if capacity > 0 {
                k.update(from: keys[l], count: count * rowWidth)
                v.update(from: values[l], count: count * rowWidth)
                keys[l].deallocate()
                values[l].deallocate()
                keys[l] = k
                values[l] = v
            } else {
                keys.append(k)
                values.append(v)
            }
        }
        capacity = newCapacity
    }

    /// Keys of `layer`: [capacity, Hkv, Dh].
    public func keys(_ layer: Int) -> UnsafeMutablePointer<Float> { keys[layer] }
    /// Values of `layer`: [capacity, Hkv, Dh].
    public func values(_ layer: Int) -> UnsafeMutablePointer<Float> { values[layer] }

    /// Marks `n` more positions as filled (called by the model after writing them in every layer).
    public func advance(by n: Int) { count += n }

    /// Forgets every position from `length` on (e.g. to reuse a shared prefix, or to undo rejected draft tokens).
    public func truncate(to length: Int) { count = min(count, max(0, length)) }

    /// Frees all memory and empties the cache.
    public func reset() {
        for p in keys { p.deallocate() }
        for p in values { p.deallocate() }
        keys = []
        values = []
        capacity = 0
        count = 0
    }

    deinit { reset() }
}
