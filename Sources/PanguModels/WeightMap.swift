// Tensor names live here as data, one table per architecture and naming scheme (Hugging Face safetensors and
// llama.cpp GGUF side by side), never as strings scattered through model code.
import PanguTensor
import PanguWeights

/// What a tensor is for, independent of how a file names it.
public enum TensorRole: String, Sendable, Hashable, CaseIterable {
    case tokenEmbedding, outputNorm, output
    case attnNorm, q, qBias, k, kBias, v, vBias, o, oBias
    case ffnNorm, gate, up, down
    /// Mixture-of-experts: router matrix, per-expert router scale, routed experts, always-on shared expert.
    case router, routerScale, expertGate, expertUp, expertDown, sharedGate, sharedUp, sharedDown

    /// Roles repeated once per routed expert.
    public var isExpert: Bool { self == .expertGate || self == .expertUp || self == .expertDown }
}

/// Which naming scheme a tensor source uses.
public enum NamingScheme: Sendable {
    /// Hugging Face names (`model.layers.3.self_attn.q_proj.weight`).
    case huggingFace
    /// llama.cpp GGUF names (`blk.3.attn_q.weight`).
    case gguf
}

/// The names of one tensor role in both schemes. `{L}` stands for the layer index and, in Hugging Face names,
/// `{E}` for the expert index: a checkpoint stores one 2-D matrix per expert, while GGUF stacks a layer's experts
/// into one 3-D tensor `[E, rows, cols]` (llama.cpp's `*_exps` convention) whose name has no `{E}`.
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

    /// The name in `scheme` for `layer` (nil for global tensors) and `expert` (routed experts, HF scheme).
    public func name(_ scheme: NamingScheme, layer: Int? = nil, expert: Int? = nil) -> String {
        var name = scheme == .huggingFace ? hf : gguf
        if let layer { name = name.replacingOccurrences(of: "{L}", with: String(layer)) }
        if let expert { name = name.replacingOccurrences(of: "{E}", with: String(expert)) }
        return name
    }

    /// True when the role has one tensor per routed expert.
    public var perExpert: Bool { hf.contains("{E}") }
}

/// Which weights this process holds when a model is split across processes (expert parallelism): tensors another
/// rank owns are still validated (names, shapes, types) but never resolved, so their pages are never read.
public typealias WeightOwnership = @Sendable (_ role: TensorRole, _ layer: Int?, _ expert: Int?) -> Bool

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
    /// Per-layer routed-expert matrices by role, indexed by expert; nil where another rank owns the expert.
    /// A GGUF stacked tensor is split into per-expert views of its rows (no copy).
    public let experts: [[TensorRole: [TensorInfo?]]]

    /// Every resolved tensor once (for parameter and byte counts).
    public var all: [TensorInfo] {
        var seen = Set<String>(), out: [TensorInfo] = []
        let tensors = Array(global.values) + layers.flatMap { Array($0.values) }
            + experts.flatMap { $0.values.flatMap { $0.compactMap { $0 } } }
        for t in tensors where seen.insert(t.name).inserted { out.append(t) }
        return out
    }
}

/// Matches a tensor source against a `WeightMap`, checking every name, shape and dtype, and reports every
/// problem in one `ModelError.tensorMismatch` (like a strict `load_state_dict`).
public enum WeightResolver {
    /// Resolves `map` in `source`.
    /// - Parameter experts: routed experts per layer (0 for dense models); roles whose name has `{E}` repeat this often.
    /// - Parameter expectedShape: the PyTorch-order shape each role must have, per expert for expert roles
    ///   (nil = do not check).
    /// - Parameter allowedTypes: dtypes the kernels accept for each role.
    /// - Parameter owns: which tensors this process keeps (nil = all).
    public static func resolve(_ map: WeightMap, in source: TensorSource, scheme: NamingScheme, layers: Int,
                               experts: Int = 0, expectedShape: (TensorRole) -> [Int]?,
                               allowedTypes: (TensorRole) -> Set<DType>,
                               owns: WeightOwnership? = nil) throws -> ResolvedWeights {
        var missing: [String] = [], wrongShape: [String] = [], wrongType: [String] = []
        var used = Set<String>()
        func lookup(_ entry: WeightName, _ layer: Int?, expert: Int? = nil, shape: [Int]?) -> TensorInfo? {
            let name = entry.name(scheme, layer: layer, expert: expert)
            guard let t = source.tensor(name) else {
                if entry.required { missing.append(name) }
                return nil
            }
            used.insert(name)
            if let shape, shape != t.shape { wrongShape.append("\(name) is \(t.shape), expected \(shape)") }
            if !allowedTypes(entry.role).contains(t.dtype) { wrongType.append("\(name) has dtype \(t.dtype)") }
            return t
        }
        func keep(_ role: TensorRole, _ layer: Int?, _ expert: Int?) -> Bool { owns?(role, layer, expert) ?? true }
        var global: [TensorRole: TensorInfo] = [:]
        for e in map.global {
            let t = lookup(e, nil, shape: expectedShape(e.role))
            if keep(e.role, nil, nil) { global[e.role] = t }
        }
        var perLayer: [[TensorRole: TensorInfo]] = []
        var perLayerExperts: [[TensorRole: [TensorInfo?]]] = []
        for l in 0..<layers {
            var roles: [TensorRole: TensorInfo] = [:]
            var expertRoles: [TensorRole: [TensorInfo?]] = [:]
            for e in map.perLayer {
                let want = expectedShape(e.role)
                if !e.perExpert {
                    let t = lookup(e, l, shape: want)
                    if keep(e.role, l, nil) { roles[e.role] = t }
                } else if scheme == .huggingFace {
                    var list: [TensorInfo?] = []
                    for x in 0..<experts {
                        let t = lookup(e, l, expert: x, shape: want)
                        list.append(keep(e.role, l, x) ? t : nil)
                    }
                    expertRoles[e.role] = list
                } else {
                    let stacked = lookup(e, l, shape: want.map { [experts] + $0 })
                    expertRoles[e.role] = (0..<experts).map { x in
                        // Sliced only when the stacked shape is right (a wrong one is reported below).
                        guard keep(e.role, l, x), let s = stacked, s.shape.count == 3, s.shape[0] == experts
                        else { return nil }
                        return expertSlice(s, x)
                    }
                }
            }
            perLayer.append(roles)
            perLayerExperts.append(expertRoles)
        }
        let unexpected = source.tensorNames.filter { name in
            !used.contains(name) && !map.ignored.contains { name.contains($0) }
        }
        if !missing.isEmpty || !unexpected.isEmpty || !wrongShape.isEmpty || !wrongType.isEmpty {
            throw ModelError.tensorMismatch(missing: missing, unexpected: unexpected, wrongShape: wrongShape,
                                            wrongType: wrongType)
        }
        return ResolvedWeights(global: global, layers: perLayer, experts: perLayerExperts)
    }

    /// Expert `x` of a stacked `[E, rows, cols]` tensor: its rows are contiguous, whatever the block format.
    static func expertSlice(_ s: TensorInfo, _ x: Int) -> TensorInfo {
        let bytes = s.byteCount / s.shape[0]
        return TensorInfo(name: "\(s.name)[\(x)]", dtype: s.dtype, shape: Array(s.shape.dropFirst()),
                          data: s.data + x * bytes, byteCount: bytes, file: s.file)
    }
}

extension TensorRole {
    /// Norm weights, biases and the router scale: read as float vectors, never as matmul operands.
    public var isNormOrBias: Bool {
        switch self {
        case .outputNorm, .attnNorm, .ffnNorm, .qBias, .kBias, .vBias, .oBias, .routerScale: return true
        default: return false
        }
    }
}

extension DType {
    /// Storage types the matmul kernels accept for weight matrices (the q8_1/q8_K activation formats excluded).
    public static let matrixTypes: Set<DType> = Set(DType.allCases.filter { $0 != .q8_1 && $0 != .q8_K })
    /// Storage types accepted for vectors (norms, biases, router scales).
    public static let vectorTypes: Set<DType> = [.f32, .f16, .bf16]
}
