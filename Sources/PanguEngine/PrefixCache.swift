// Prefix reuse for the scheduler: hands out KV caches that already hold the start of a new prompt.
import PanguModels

/// Where prefix reuse plugs in: given a prompt, a cache already holding its longest reusable prefix. This simple
/// version keeps the caches of the last few finished sequences with their tokens and hands one out (truncated to
/// the common prefix) when a new prompt starts with the same tokens, as a multi-turn chat does. A paged cache with
/// shared blocks replaces this class without touching the scheduler.
final class PrefixCache {
    private let model: LanguageModel
    private let capacity: Int
    /// Idle caches with exactly the tokens whose keys/values they hold, oldest first.
    private var entries: [(tokens: [Int], cache: KVCache)] = []

    init(model: LanguageModel, capacity: Int) {
        self.model = model
        self.capacity = capacity
    }

    /// A cache for `prompt` and how many of its first tokens it already holds (at most `prompt.count - 1`, so the
    /// last prompt token always runs and gives logits).
    func acquire(prompt: [Int]) -> (cache: KVCache, reused: Int) {
        var best = 0, bestIndex: Int?
        for (i, e) in entries.enumerated() {
            let limit = min(e.tokens.count, prompt.count - 1)
            var n = 0
            while n < limit && e.tokens[n] == prompt[n] { n += 1 }
            if n > best { best = n; bestIndex = i }
        }
        guard let i = bestIndex else { return (model.makeCache(), 0) }
        let cache = entries.remove(at: i).cache
        cache.truncate(to: best)
        return (cache, best)
    }

    /// Offers a finished sequence's cache, holding `tokens`, for reuse; the oldest idle cache is freed when full.
    func release(_ cache: KVCache, tokens: [Int]) {
        guard capacity > 0, !tokens.isEmpty else { return }
        entries.append((tokens, cache))
        if entries.count > capacity { entries.removeFirst() }
    }

    /// Idle caches held, and their bytes.
    var count: Int { entries.count }
    var allocatedBytes: Int { entries.reduce(0) { $0 + $1.cache.allocatedBytes } }
}
