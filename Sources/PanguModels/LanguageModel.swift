// The interface every architecture implements: token ids in, logits out, with per-sequence KV caches.
// No text here: tokenizers and chat templates live in other modules.
import PanguTensor

/// One sequence's share of a batched forward step.
public struct SequenceStep {
    /// New token ids to append to this sequence (a prompt for prefill, one token for decode).
    public var tokens: [Int]
    /// The sequence's cache; the tokens are placed at positions cache.count, cache.count + 1, …
    public let cache: KVCache
    /// True to get logits for every new token, false for the last one only.
    public var allLogits: Bool

    /// Creates a step.
    public init(tokens: [Int], cache: KVCache, allLogits: Bool = false) {
        self.tokens = tokens
        self.cache = cache
        self.allLogits = allLogits
    }
}

/// Static facts about a loaded model.
public struct ModelInfo: Sendable {
    /// Architecture key from config.json (e.g. `PanguEmbeddedForCausalLM`).
    public let architecture: String
    public let vocabularySize: Int
    public let hiddenSize: Int
    public let layers: Int
    public let heads: Int
    public let kvHeads: Int
    public let headDim: Int
    public let intermediateSize: Int
    public let contextLength: Int
    /// Number of parameters (elements of every used tensor).
    public let parameterCount: Int
    /// Bytes of weight data the kernels read per decoded token: the *active* weights (for a mixture of experts,
    /// only the selected experts; the embedding matrix contributes one row, so it is not counted unless it is
    /// also the output matrix). This is what bounds decode speed by memory bandwidth.
    public let weightBytes: Int
    /// Storage types of the weights and how many tensors use each.
    public let dtypes: [String: Int]
    /// EOS token ids from config.json.
    public let eosTokenIds: [Int]
    /// BOS token id from config.json, if any.
    public let bosTokenId: Int?
    /// Bytes of weights repacked at load time into a faster in-memory layout (`WeightArena`); 0 when none.
    public var repackedBytes: Int = 0
    /// Bytes of all weight tensors this process holds (for a mixture of experts, every expert).
    public var totalWeightBytes: Int = 0
    /// Routed experts per layer and experts selected per token (0 and 0 for dense models).
    public var experts: Int = 0, expertsPerToken: Int = 0

    /// KV-cache bytes per position with f32 keys and values.
    public var kvBytesPerToken: Int { kvBytesPerToken(.f32) }
    /// KV-cache bytes per position of every layer's keys and values stored as `type`.
    public func kvBytesPerToken(_ type: KVElementType) -> Int { layers * 2 * kvHeads * type.rowBytes(headDim) }
}

/// A causal language model that can run several independent sequences in one forward step.
public protocol LanguageModel: AnyObject, Sendable {
    /// Facts about the model.
    var info: ModelInfo { get }
    /// Storage type of the caches `makeCache()` creates (f32 unless a `--cache-type` asked otherwise).
    var kvCacheType: KVElementType { get set }
    /// A new empty cache sized for this model.
    func makeCache() -> KVCache
    /// Runs one step for every sequence in `batch` and appends the new tokens to their caches.
    /// Returns, per sequence, logits as a flat [n, vocab] array where n is the token count or 1.
    func forward(_ batch: [SequenceStep]) throws -> [[Float]]
}

extension LanguageModel {
    /// Sets the cache storage type, or throws when the model's head size does not fit it.
    public func setCacheType(_ type: KVElementType) throws {
        guard type.supports(headDim: info.headDim) else {
            throw ModelError.invalidArgument("cache type \(type.rawValue) needs a head size that is a multiple of 32; "
                                             + "this model's is \(info.headDim)")
        }
        kvCacheType = type
    }

    /// A block pool for `positions` cached tokens in all, shared by the caches made from it.
    public func makePool(elementType: KVElementType = .f32, positions: Int) -> KVBlockPool {
        KVBlockPool(layers: info.layers, kvHeads: info.kvHeads, headDim: info.headDim, elementType: elementType,
                    positions: positions)
    }

    /// An empty cache drawing from `pool`, holding at most `maxPositions` (default: the context length).
    public func makeCache(pool: KVBlockPool, maxPositions: Int? = nil) -> KVCache {
        KVCache(pool: pool, maxPositions: min(maxPositions ?? info.contextLength, info.contextLength))
    }
}
