// The weight-ownership filter: for a checkpoint tensor, which part of it one rank loads under expert parallelism.

/// The part of a tensor a rank needs. Ranges are in PyTorch order (rows = output features of an `[out, in]` matrix
/// or elements of a bias vector; columns = input features). A GGUF file stores the same matrices with the
/// dimensions listed the other way round; the ranges refer to the same output/input features.
public enum TensorShare: Sendable, Equatable {
    /// The whole tensor: replicated on every rank, or an expert this rank owns.
    case whole
    /// Nothing: another rank's expert, or a bias that only rank 0 adds.
    case none
    /// These rows (output features) of a matrix, or these elements of a bias.
    case rows(Range<Int>)
    /// These columns (input features) of a matrix.
    case columns(Range<Int>)
    /// These experts (first dimension) of a stacked `[E, out, in]` expert tensor (GGUF `*_exps`).
    case experts(Range<Int>)
}

/// What a tensor is to the expert-parallel split, independent of the file's naming scheme.
public enum ParallelTensorRole: Sendable, Equatable {
    /// Embeddings, norms, router, router scale: every rank holds all of it.
    case replicated
    /// The output head (lm_head), split by vocabulary rows.
    case output
    case q, qBias, k, kBias, v, vBias, o, oBias
    /// One routed expert's gate/up/down matrix (Hugging Face stores one tensor per expert).
    case expert(Int)
    /// All experts' gate/up/down matrices stacked along a leading expert dimension (GGUF).
    case stackedExperts
    case sharedGate, sharedUp, sharedDown

    /// Classifies a Hugging Face (`model.layers.3.mlp.experts.17.up_proj.weight`) or GGUF
    /// (`blk.3.ffn_up_exps.weight`) tensor name of a Pangu Pro MoE checkpoint.
    /// - Throws: `DistributedError.unknownTensor` for a name of neither table, so a new tensor cannot silently be
    ///   treated as replicated (a sliced tensor counted whole on every rank would be summed N times).
    public init(tensorName name: String) throws {
        if let role = Self.global[name] {
            self = role
            return
        }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        // model.layers.{i}.<rest>
        if parts.count > 3, parts[0] == "model", parts[1] == "layers", Int(parts[2]) != nil {
            let rest = parts[3...].joined(separator: ".")
            if let role = Self.huggingFaceLayer[rest] {
                self = role
                return
            }
            // mlp.experts.{j}.{gate,up,down}_proj.weight
            if parts.count == 8, parts[3] == "mlp", parts[4] == "experts", let j = Int(parts[5]), j >= 0,
               ["gate_proj", "up_proj", "down_proj"].contains(parts[6]), parts[7] == "weight"
            {
                self = .expert(j)
                return
            }
            if rest.hasSuffix("rotary_emb.inv_freq") {
                self = .replicated
                return
            }
        }
        // blk.{i}.<rest>
        if parts.count > 2, parts[0] == "blk", Int(parts[1]) != nil,
           let role = Self.ggufLayer[parts[2...].joined(separator: ".")]
        {
            self = role
            return
        }
        throw DistributedError.unknownTensor(name)
    }

    static let global: [String: ParallelTensorRole] = [
        "model.embed_tokens.weight": .replicated, "model.norm.weight": .replicated, "lm_head.weight": .output,
        "token_embd.weight": .replicated, "output_norm.weight": .replicated, "output.weight": .output,
    ]

    static let huggingFaceLayer: [String: ParallelTensorRole] = [
        "input_layernorm.weight": .replicated, "post_attention_layernorm.weight": .replicated,
        "self_attn.q_proj.weight": .q, "self_attn.q_proj.bias": .qBias,
        "self_attn.k_proj.weight": .k, "self_attn.k_proj.bias": .kBias,
        "self_attn.v_proj.weight": .v, "self_attn.v_proj.bias": .vBias,
        "self_attn.o_proj.weight": .o, "self_attn.o_proj.bias": .oBias,
        "mlp.gate.weight": .replicated, "mlp.router_scale": .replicated,
        "mlp.shared_expert.gate_proj.weight": .sharedGate, "mlp.shared_expert.up_proj.weight": .sharedUp,
        "mlp.shared_expert.down_proj.weight": .sharedDown,
    ]

    // llama.cpp's MoE names (ffn_gate_inp, *_exps, *_shexp); the router scale's GGUF name is ours.
    static let ggufLayer: [String: ParallelTensorRole] = [
        "attn_norm.weight": .replicated, "ffn_norm.weight": .replicated,
        "attn_q.weight": .q, "attn_q.bias": .qBias, "attn_k.weight": .k, "attn_k.bias": .kBias,
        "attn_v.weight": .v, "attn_v.bias": .vBias, "attn_output.weight": .o, "attn_output.bias": .oBias,
        "ffn_gate_inp.weight": .replicated, "ffn_router_scale.weight": .replicated,
        "ffn_gate_exps.weight": .stackedExperts, "ffn_up_exps.weight": .stackedExperts,
        "ffn_down_exps.weight": .stackedExperts,
        "ffn_gate_shexp.weight": .sharedGate, "ffn_up_shexp.weight": .sharedUp,
        "ffn_down_shexp.weight": .sharedDown,
    ]
}

extension ExpertParallelPlan {
    /// The part of a tensor with this role that this rank loads.
    /// - Throws: `DistributedError.invalidArgument` for an expert index outside 0..<experts.
    public func share(of role: ParallelTensorRole) throws -> TensorShare {
        switch role {
        case .replicated: return .whole
        case .output: return .rows(outputRows)
        case .q, .qBias: return .rows(qRows)
        case .k, .kBias, .v, .vBias: return .rows(kvRows)
        case .o: return .columns(oColumns)
        case .oBias: return addsOutputBias ? .whole : .none
        case let .expert(j):
            guard (0..<shape.experts).contains(j) else {
                throw DistributedError.invalidArgument("expert \(j) is outside 0..<\(shape.experts)")
            }
            return experts.contains(j) ? .whole : .none
        case .stackedExperts: return .experts(experts)
        case .sharedGate, .sharedUp: return .rows(sharedRows)
        case .sharedDown: return .columns(sharedRows)
        }
    }

    /// The part of the tensor named `name` (Hugging Face or GGUF) that this rank loads; `.none` means the rank
    /// does not need it at all.
    public func share(ofTensorNamed name: String) throws -> TensorShare {
        let role = try ParallelTensorRole(tensorName: name)
        do {
            return try share(of: role)
        } catch DistributedError.invalidArgument(let detail) {
            throw DistributedError.invalidArgument("\(name): \(detail)")
        }
    }

    /// Whether this rank needs any part of the tensor named `name`.
    public func needs(tensorNamed name: String) throws -> Bool {
        try share(ofTensorNamed: name) != .none
    }
}
