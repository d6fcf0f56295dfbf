// Tensor names live here as data, one table per architecture and naming scheme (Hugging Face safetensors and
// llama.cpp GGUF side by side), never as strings scattered through model code.
import PanguTensor
import PanguWeights

/// What a tensor is for, independent of how a file names it.
public enum TensorRole: String, Sendable, Hashable, CaseIterable {
    case tokenEmbedding, outputNorm, output
    case attnNorm, q, qBias, k, kBias, v, vBias, o, oBias
    case ffnNorm, gate, up, down
}

/// Which naming scheme a tensor source uses.
public enum NamingScheme: Sendable {
    /// Hugging Face names (`model.layers.3.self_attn.q_proj.weight`).
    case huggingFace
    /// llama.cpp GGUF names (`blk.3.attn_q.weight`).
    case gguf
}

/// The names of one tensor role in both schemes. `{L}` stands for the layer index.
public struct WeightName: Sendable {
    public let role: TensorRole
    public let hf: String
    public let gguf: String
    /// False for tensors that may be absent (the output matrix when embeddings are tied).
    public let required: Bool

    /// Creates a table row.
    public init(_ role: TensorRole, hf: String, gguf: String, required: Bool = true) {
        self.role = role
        self.hf = hf
        self.gguf = gguf
        self.required = required
    }

    /// The name in `scheme` for `layer` (nil for global tensors).
    public func name(_ scheme: NamingScheme, layer: Int? = nil) -> String {
        let template = scheme == .huggingFace ? hf : gguf
        guard let layer else { return template }
        return template.replacingOccurrences(of: "{L}", with: String(layer))
    }
}

/// The full name table of an architecture.
public struct WeightMap: Sendable {
    /// Tensors without a layer index.
    public let global: [WeightName]
    /// Tensors repeated in every layer.
    public let perLayer: [WeightName]
    /// Substrings of names that are present in real checkpoints but never used (e.g. `rotary_emb.inv_freq`).
    public let ignored: [String]

    /// Creates a table.
    public init(global: [WeightName], perLayer: [WeightName], ignored: [String] = []) {
        self.global = global
        self.perLayer = perLayer
        self.ignored = ignored
    }
}

/// Tensors of a checkpoint resolved by role, after validation.
public struct ResolvedWeights: @unchecked Sendable {
    /// Global tensors by role (optional ones may be absent).
    public let global: [TensorRole: TensorInfo]
    /// Per-layer tensors by role.
    public let layers: [[TensorRole: TensorInfo]]
}

/// Matches a tensor source against a `WeightMap`, checking every name, shape and dtype, and reports every
/// problem in one `ModelError.tensorMismatch` (like a strict `load_state_dict`).
public enum WeightResolver {
    /// Resolves `map` in `source`.
    /// - Parameter expectedShape: the PyTorch-order shape each role must have (nil = do not check).
    /// - Parameter allowedTypes: dtypes the kernels accept for each role.
    public static func resolve(_ map: WeightMap, in source: TensorSource, scheme: NamingScheme, layers: Int,
                               expectedShape: (TensorRole) -> [Int]?,
                               allowedTypes: (TensorRole) -> Set<DType>) throws -> ResolvedWeights {
        var missing: [String] = [], wrongShape: [String] = [], wrongType: [String] = []
        var used = Set<String>()
        func lookup(_ entry: WeightName, _ layer: Int?) -> TensorInfo? {
            let name = entry.name(scheme, layer: layer)
            guard let t = source.tensor(name) else {
                if entry.required { missing.append(name) }
                return nil
            }
            used.insert(name)
            if let want = expectedShape(entry.role), want != t.shape {
                wrongShape.append("\(name) is \(t.shape), expected \(want)")
            }
            if !allowedTypes(entry.role).contains(t.dtype) {
                wrongType.append("\(name) has dtype \(t.dtype)")
            }
            return t
        }
        var global: [TensorRole: TensorInfo] = [:]
        for e in map.global { global[e.role] = lookup(e, nil) }
        var perLayer: [[TensorRole: TensorInfo]] = []
        for l in 0..<layers {
            var roles: [TensorRole: TensorInfo] = [:]
            for e in map.perLayer { roles[e.role] = lookup(e, l) }
            perLayer.append(roles)
        }
        let unexpected = source.tensorNames.filter { name in
            !used.contains(name) && !map.ignored.contains { name.contains($0) }
        }
        if !missing.isEmpty || !unexpected.isEmpty || !wrongShape.isEmpty || !wrongType.isEmpty {
            throw ModelError.tensorMismatch(missing: missing, unexpected: unexpected, wrongShape: wrongShape,
                                            wrongType: wrongType)
        }
        return ResolvedWeights(global: global, layers: perLayer)
    }
}
