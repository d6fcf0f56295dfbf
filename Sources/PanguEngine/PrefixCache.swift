// Prefix reuse for the scheduler: every sequence's cache draws from one shared block pool, and a new prompt that
// starts with tokens another cache already holds (a finished chat turn, a shared system prompt, a running sibling
// of an `n` > 1 request) shares those blocks without copying (copy on write protects the owner).
import PanguModels

/// A cache whose tokens are known, offered for prefix sharing.
struct CachedTokens {
    let cache: KVCache
    /// The tokens whose keys/values the cache holds (at least its first `cache.count`).
    let tokens: [Int]
}

/// Where prefix reuse plugs in: given a prompt, a cache already holding its longest reusable prefix. Keeps the
/// caches of the last few finished sequences (their blocks stay allocated until evicted) and can also share from
/// running sequences the scheduler passes in.
final class PrefixCache {
    private let model: LanguageModel
    /// The pool every cache draws from.
    let pool: KVBlockPool
    private let maxPositions: Int
    private let capacity: Int
    /// Idle caches of finished sequences, oldest first.
    private var entries: [CachedTokens] = []

    init(model: LanguageModel, pool: KVBlockPool, maxPositions: Int, capacity: Int) {
        self.model = model
        self.pool = pool
        self.maxPositions = maxPositions
        self.capacity = capacity
    }

    /// A new cache for `prompt` and how many of its first tokens it already holds (at most `prompt.count - 1`, so
    /// the last prompt token always runs and gives logits). `running`: caches of running sequences that may be
    /// shared from too.
    func acquire(prompt: [Int], running: [CachedTokens]) -> (cache: KVCache, reused: Int) {
        let cache = model.makeCache(pool: pool, maxPositions: maxPositions)
        var best = 0, bestIndex = -1
        let candidates = entries + running
        for (i, e) in candidates.enumerated() {
            let limit = min(e.cache.count, e.tokens.count, prompt.count - 1)
            var n = 0
            while n < limit && e.tokens[n] == prompt[n] { n += 1 }
            if n > best { best = n; bestIndex = i }
        }
        guard best > 0 else { return (cache, 0) }
        let source = candidates[bestIndex]
        if bestIndex < entries.count { entries.append(entries.remove(at: bestIndex)) }  // most recently used last
        do { try cache.share(prefix: best, of: source.cache) } catch { return (cache, 0) }
        return (cache, best)
    }

    /// Offers a finished sequence's cache, holding `tokens`, for reuse; the oldest idle cache is dropped when full.
    func release(_ cache: KVCache, tokens: [Int]) {
        guard capacity > 0, !tokens.isEmpty else { return }
        entries.append(CachedTokens(cache: cache, tokens: tokens))
        if entries.count > capacity { entries.removeFirst() }
    }

    /// Drops the least recently used idle cache (its blocks go back to the pool unless shared); false when none.
    @discardableResult
    func evictOne() -> Bool {
        guard !entries.isEmpty else { return false }
        entries.removeFirst()
        return true
    }

    /// Idle caches held.
    var count: Int { entries.count }
}
