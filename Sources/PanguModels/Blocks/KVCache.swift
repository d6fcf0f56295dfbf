// Paged key/value cache. Memory comes from a pool of fixed-size blocks (B positions × every layer's keys and
// values); each sequence holds a block table. Blocks are reference-counted, so sequences that start with the same
// tokens (multi-turn chat, a shared system prompt, n > 1 samples) share the blocks of that prefix without copying;
// a shared block is copied only when a sequence writes into it (copy on write). The pool's block budget bounds
// memory, and admission can check `freeBlocks` before a sequence starts.
//
// Block layout: for layer l, keys then values, each [Hkv][B][Dh] elements of the pool's element type.
import Foundation
import PanguTensor

/// Errors of the KV cache.
public enum KVCacheError: Error, CustomStringConvertible, Equatable {
    /// The pool's block budget is used up.
    case outOfBlocks(needed: Int, free: Int)

    public var description: String {
        switch self {
        case let .outOfBlocks(needed, free):
            return "KV cache memory exhausted: \(needed) more blocks needed, \(free) free"
        }
    }
}

/// A shared store of KV blocks for sequences of one model.
public final class KVBlockPool: @unchecked Sendable {
    /// Positions per block.
    public static let blockSize = 16
    public let layers: Int, kvHeads: Int, headDim: Int
    public let elementType: KVElementType
    /// Largest number of blocks the pool may hold at once.
    public let capacity: Int
    /// Bytes of one block (all layers, keys and values).
    public let blockBytes: Int

    private let lock = NSLock()
    private var storage: [UnsafeMutableRawPointer] = []  // every block ever allocated, by id
    private var references: [Int32] = []                // per block id; 0 = free
    private var freeList: [Int32] = []

    /// Creates a pool of at most `capacity` blocks (allocated lazily, kept for reuse).
    public init(layers: Int, kvHeads: Int, headDim: Int, elementType: KVElementType = .f32, capacity: Int) {
        self.layers = layers
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.elementType = elementType
        self.capacity = capacity
        blockBytes = layers * 2 * kvHeads * Self.blockSize * elementType.rowBytes(headDim)
    }

    /// A pool sized for `positions` tokens in all.
    public convenience init(layers: Int, kvHeads: Int, headDim: Int, elementType: KVElementType = .f32,
                            positions: Int) {
        self.init(layers: layers, kvHeads: kvHeads, headDim: headDim, elementType: elementType,
                  capacity: (positions + Self.blockSize - 1) / Self.blockSize)
    }

    /// Blocks not in use by any sequence.
    public var freeBlocks: Int { lock.withLock { capacity - (storage.count - freeList.count) } }
    /// Bytes of blocks currently allocated from the system (in use or kept for reuse).
    public var allocatedBytes: Int { lock.withLock { storage.count * blockBytes } }
    /// Blocks needed to hold `positions` positions.
    public static func blocks(for positions: Int) -> Int { (positions + blockSize - 1) / blockSize }

    /// Byte offsets of layer `l`'s keys and values inside a block.
    func offsets(layer l: Int) -> (keys: Int, values: Int) {
        let half = kvHeads * Self.blockSize * elementType.rowBytes(headDim)
        return (2 * l * half, (2 * l + 1) * half)
    }

    func pointer(_ id: Int32) -> UnsafeMutableRawPointer { lock.withLock { storage[Int(id)] } }

    /// Takes `n` blocks (reference count 1 each), or throws without taking any.
    func allocate(_ n: Int) throws -> [Int32] {
        try lock.withLock {
            let free = capacity - (storage.count - freeList.count)
            guard n <= free else { throw KVCacheError.outOfBlocks(needed: n, free: free) }
            var ids: [Int32] = []
            for _ in 0..<n {
                if let id = freeList.popLast() {
                    references[Int(id)] = 1
                    ids.append(id)
                } else {
                    storage.append(UnsafeMutableRawPointer.allocate(byteCount: blockBytes, alignment: 64))
                    references.append(1)
                    ids.append(Int32(storage.count - 1))
                }
            }
            return ids
        }
    }

    func retain(_ ids: some Sequence<Int32>) { lock.withLock { for id in ids { references[Int(id)] += 1 } } }

    func release(_ ids: some Sequence<Int32>) {
        lock.withLock {
            for id in ids {
                references[Int(id)] -= 1
                if references[Int(id)] == 0 { freeList.append(id) }
            }
        }
    }

    func isShared(_ id: Int32) -> Bool { lock.withLock { references[Int(id)] > 1 } }

    deinit { for p in storage { p.deallocate() } }
}

/// The keys and values of one sequence, for every layer, in blocks of a `KVBlockPool`.
public final class KVCache: @unchecked Sendable {
    /// The pool the blocks come from.
    public let pool: KVBlockPool
    /// Largest number of positions this cache may hold.
    public let maxPositions: Int
    /// Positions currently filled (the next token is written at this position).
    public private(set) var count = 0
    private var table: [Int32] = []
    /// Block addresses in table order, for the attention kernel (a stable buffer the kernel may point into).
    private var addresses: UnsafeMutablePointer<UnsafeMutableRawPointer>

    /// Creates an empty cache drawing blocks from `pool`.
    public init(pool: KVBlockPool, maxPositions: Int) {
        self.pool = pool
        self.maxPositions = maxPositions
        addresses = .allocate(capacity: max(1, KVBlockPool.blocks(for: maxPositions)))
    }

    /// A cache with a private pool large enough for `maxPositions` (a single sequence: CLI, chat).
    public convenience init(layers: Int, kvHeads: Int, headDim: Int, maxPositions: Int,
                            elementType: KVElementType = .f32) {
        self.init(pool: KVBlockPool(layers: layers, kvHeads: kvHeads, headDim: headDim, elementType: elementType,
                                    positions: maxPositions),
                  maxPositions: maxPositions)
    }

    /// Layers in the model.
    public var layers: Int { pool.layers }
    /// Bytes of the blocks this cache holds (shared blocks counted in full).
    public var allocatedBytes: Int { table.count * pool.blockBytes }
    /// Blocks this cache holds.
    public var blockCount: Int { table.count }

    /// Makes room for `needed` positions in total, and makes the block the next write lands in private to this
    /// cache. Throws `ModelError.contextOverflow` past `maxPositions` and `KVCacheError.outOfBlocks` when the
    /// pool is exhausted; on a throw nothing changes.
    public func reserve(_ needed: Int) throws {
        guard needed <= maxPositions else { throw ModelError.contextOverflow(needed: needed, limit: maxPositions) }
        let b = KVBlockPool.blockSize
        let writeBlock = count / b
        let copyOnWrite = needed > count && writeBlock < table.count && pool.isShared(table[writeBlock])
        let more = max(0, KVBlockPool.blocks(for: needed) - table.count)
        let fresh = try pool.allocate(more + (copyOnWrite ? 1 : 0))
        if copyOnWrite {
            let copy = fresh[0]
            pool.pointer(copy).copyMemory(from: addresses[writeBlock], byteCount: pool.blockBytes)
            pool.release([table[writeBlock]])
            table[writeBlock] = copy
            addresses[writeBlock] = pool.pointer(copy)
        }
        for id in fresh.dropFirst(copyOnWrite ? 1 : 0) {
            addresses[table.count] = pool.pointer(id)
            table.append(id)
        }
    }

    /// Layer `layer`'s keys and values as the attention kernel reads them. Valid until the next `reserve`.
    public func paged(layer: Int) -> PagedKV {
        let o = pool.offsets(layer: layer)
        return PagedKV(blocks: addresses, blockSize: KVBlockPool.blockSize, keyOffset: o.keys, valueOffset: o.values,
                       type: pool.elementType)
    }

    /// Marks `n` more positions as filled (called by the model after writing them in every layer).
    public func advance(by n: Int) { count += n }

    /// Forgets every position from `length` on (e.g. to reuse a shared prefix, or to undo rejected draft
    /// tokens), returning the blocks no longer needed to the pool.
    public func truncate(to length: Int) {
        count = min(count, max(0, length))
        let keep = KVBlockPool.blocks(for: count)
        if keep < table.count {
            pool.release(table[keep...])
            table.removeSubrange(keep...)
        }
    }

    /// Empties this cache and makes it hold the first `length` positions of `other` by sharing its blocks (no
    /// copy). Both caches must use the same pool.
    public func share(prefix length: Int, of other: KVCache) throws {
        guard other.pool === pool else { throw ModelError.invalidArgument("caches of different pools cannot share blocks") }
        guard length <= other.count, length <= maxPositions else {
            throw ModelError.invalidArgument("cannot share \(length) positions of a cache holding \(other.count)")
        }
        reset()
        let n = KVBlockPool.blocks(for: length)
        table = Array(other.table[0..<n])
        addresses.update(from: other.addresses, count: n)
        pool.retain(table)
        count = length
    }

    /// Returns every block to the pool and empties the cache.
    public func reset() {
        pool.release(table)
        table = []
        count = 0
    }

    deinit {
        pool.release(table)
        addresses.deallocate()
    }
}
