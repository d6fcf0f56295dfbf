// `pangu quantize`: an official checkpoint directory → a GGUF file (llama.cpp-compatible for `pangu-embedded`),
// with llama.cpp-style mixed recipes. The architecture comes from the registry: its WeightMap gives the HF and
// GGUF names side by side, its export hook the metadata.
import Foundation
import PanguModels
import PanguTensor
import PanguTokenizer
import PanguWeights

/// A quantisation recipe: the type of every weight matrix, by role and layer.
public struct QuantizationRecipe: Sendable {
    /// Name as given on the command line (`q8_0`, `q4_k_m`, …).
    public let name: String
    /// Main type for the large matrices.
    public let base: DType
    /// K-quant "mix" recipes raise some tensors to higher precision (llama.cpp's _M / _S variants).
    let mix: Mix
    enum Mix { case pure, mediumK }

    /// Recipes by command-line name.
    public static let all: [String: QuantizationRecipe] = [
        "f32": .init(name: "f32", base: .f32, mix: .pure), "f16": .init(name: "f16", base: .f16, mix: .pure),
        "bf16": .init(name: "bf16", base: .bf16, mix: .pure),
        "q8_0": .init(name: "q8_0", base: .q8_0, mix: .pure), "q4_0": .init(name: "q4_0", base: .q4_0, mix: .pure),
        "q4_1": .init(name: "q4_1", base: .q4_1, mix: .pure), "q5_0": .init(name: "q5_0", base: .q5_0, mix: .pure),
        "q5_1": .init(name: "q5_1", base: .q5_1, mix: .pure),
        "q4_k": .init(name: "q4_k", base: .q4_K, mix: .pure), "q5_k": .init(name: "q5_k", base: .q5_K, mix: .pure),
        "q6_k": .init(name: "q6_k", base: .q6_K, mix: .pure),
        "q4_k_m": .init(name: "q4_k_m", base: .q4_K, mix: .mediumK),
        "q5_k_m": .init(name: "q5_k_m", base: .q5_K, mix: .mediumK),
    ]

    /// The type for a matrix of `role` in `layer` of `layers`, with `cols` inputs. Vectors stay f32.
    /// Like llama.cpp: the output matrix gets q6_K unless the base is q8_0; _M mixes give attn_v and ffn_down q6_K
    /// in the first and last eighth of the layers and every third layer between; K-quants fall back to a legacy
    /// type when the row length is not a multiple of 256.
    func type(for role: TensorRole, layer: Int?, layers: Int, cols: Int) -> DType {
        // Routers stay f32, as llama.cpp's quantizer leaves ffn_gate_inp: they are tiny and decide the routing.
        if role == .router { return .f32 }
        var t = base
        if role == .output && base.isQuantized && base != .q8_0 { t = .q6_K }
        if mix == .mediumK, let l = layer, role == .v || role == .down || role == .expertDown || role == .sharedDown {
            let moreBits = l < layers / 8 || l >= 7 * layers / 8 || (l - layers / 8) % 3 == 2
            if moreBits { t = .q6_K }
        }
        if cols % t.blockSize != 0 {
            switch t {
            case .q4_K: t = .q5_0
            case .q5_K: t = .q5_1
            case .q6_K: t = .q8_0
            default: break
            }
            if cols % t.blockSize != 0 { t = .f16 }
        }
        return t
    }
}

/// Converts checkpoints to GGUF.
public enum Quantizer {
    /// Quantises the checkpoint in `directory` to `output` with `recipe`, reporting (bytes written, total).
    public static func quantize(directory: URL, recipe: QuantizationRecipe, output: String,
                                progress: ((Int, Int) -> Void)? = nil, pool: ThreadPool = .shared) throws {
        let configURL = directory.appendingPathComponent("config.json")
        let architecture = try ModelRegistry.architecture(configURL: configURL)
        let checkpoint = try SafetensorsCheckpoint(directory: directory)
        // Validate the checkpoint against the architecture before writing anything.
        try architecture.validate(configURL, checkpoint)
        let export = try architecture.ggufExport(configURL, directory.lastPathComponent,
                                                 GGMLType.fileType(for: recipe.base))
        let map = architecture.weightMap
        let writer = try GGUFWriter(path: output)
        let layers = export.layers
        writer.set(export.metadata)
        writer.set(try vocabularyMetadata(directory: directory, vocabularySize: export.vocabularySize))

        // Every tensor in table order. A layer's routed experts (one HF matrix each) become one stacked GGUF
        // tensor [E, rows, cols], written expert after expert.
        var plan: [(parts: [TensorInfo], name: String, dims: [Int], type: DType)] = []
        func add(_ entry: WeightName, _ layer: Int?) {
            let parts: [TensorInfo]
            if entry.perExpert {
                parts = (0..<export.experts).compactMap { checkpoint.tensor(entry.name(.huggingFace, layer: layer, expert: $0)) }
                guard parts.count == export.experts, let first = parts.first else { return }
                let type = recipe.type(for: entry.role, layer: layer, layers: layers, cols: first.shape[1])
                plan.append((parts, entry.name(.gguf, layer: layer), first.shape.reversed() + [parts.count], type))
                return
            }
            guard let t = checkpoint.tensor(entry.name(.huggingFace, layer: layer)) else { return }
            let isVector = entry.role.isNormOrBias || t.shape.count == 1
            let type = isVector ? .f32 : recipe.type(for: entry.role, layer: layer, layers: layers, cols: t.shape[1])
            plan.append(([t], entry.name(.gguf, layer: layer), t.shape.reversed(), type))
        }
        for e in map.global where e.role != .output { add(e, nil) }
        for l in 0..<layers { for e in map.perLayer { add(e, l) } }
        if !export.tiedOutput, let e = map.global.first(where: { $0.role == .output }) { add(e, nil) }
        for p in plan {
            try writer.addTensor(name: p.name, dims: p.dims, dtype: p.type)
        }
        try writer.writeHeader()
        let total = plan.reduce(0) { sum, p in sum + p.parts.reduce(0) { $0 + type(bytesOf: $1, as: p.type) } }
        var done = 0
        for p in plan {
            for t in p.parts {
                try write(t, as: p.type, to: writer, pool: pool) { n in
                    done += n
                    progress?(done, total)
                }
            }
        }
        try writer.finish()
    }

    /// Converts `t` row by row to `type` and appends it to the writer, in chunks of ≤ 64 MB.
    private static func write(_ t: TensorInfo, as type: DType, to writer: GGUFWriter, pool: ThreadPool,
                              wrote: (Int) -> Void) throws {
        let cols = t.shape.count == 1 ? t.shape[0] : t.shape[t.shape.count - 1]
        let rows = t.elementCount / cols
        let rowBytes = type.rowBytes(cols)
        let chunkRows = max(1, min(rows, (64 << 20) / max(1, rowBytes)))
        let out = UnsafeMutableRawPointer.allocate(byteCount: chunkRows * rowBytes, alignment: 64)
        defer { out.deallocate() }
        var r0 = 0
        while r0 < rows {
            let n = min(chunkRows, rows - r0)
            pool.parallelFor(chunks: n) { i in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: cols) { row in
                    let src = t.data + (r0 + i) * cols * t.dtype.bytesPerBlock
                    for c in 0..<cols { row[c] = HalfConversion.load(src, c, t.dtype) }
                    QuantReference.quantize(row.baseAddress!, k: cols, as: type, into: out + i * rowBytes)
                }
            }
            try writer.writeTensorData(UnsafeRawBufferPointer(start: out, count: n * rowBytes))
            wrote(n * rowBytes)
            r0 += n
        }
    }

    private static func type(bytesOf t: TensorInfo, as type: DType) -> Int {
        let cols = t.shape[t.shape.count - 1]
        return type.rowBytes(cols) * (t.elementCount / cols)
    }

    /// `tokenizer.ggml.*` metadata from tokenizer.model + tokenizer_config.json, as llama.cpp's converter writes
    /// it: SentencePiece pieces, scores and types, with `added_tokens_decoder` entries marked control (special) or
    /// user-defined, padded with unused pieces up to the model's vocabulary size.
    static func vocabularyMetadata(directory: URL, vocabularySize: Int) throws -> [(String, GGUFValue)] {
        let tokenizer = try HuggingFaceTokenizer(directory: directory)
        let model = tokenizer.sentencePiece.model
        var tokens = model.pieces.map(\.piece), scores = model.pieces.map(\.score)
        var types = model.pieces.map { Int32($0.type.rawValue) }
        for t in tokenizer.config.addedTokens {
            while tokens.count <= t.id { tokens.append("[PAD\(tokens.count)]"); scores.append(-1000); types.append(5) }
            tokens[t.id] = t.content
            // Keep the unknown piece's type: SentencePiece needs exactly one.
            if types[t.id] != Int32(SentencePieceModel.PieceType.unknown.rawValue) { types[t.id] = t.special ? 3 : 4 }
        }
        while tokens.count < vocabularySize { tokens.append("[PAD\(tokens.count)]"); scores.append(-1000); types.append(5) }
        let vocab = PanguGGUFVocabulary(
            tokens: tokens, scores: scores, tokenTypes: types,
            bosID: UInt32(tokenizer.bosTokenId ?? 1), eosID: UInt32(tokenizer.eosTokenIds.first ?? 2),
            unknownID: UInt32(tokenizer.unkTokenId), paddingID: UInt32(tokenizer.padTokenId ?? tokenizer.unkTokenId),
            addBOS: tokenizer.config.addBosToken, addEOS: tokenizer.config.addEosToken,
            addSpacePrefix: model.normalizerSpec.addDummyPrefix, chatTemplate: tokenizer.chatTemplate)
        return PanguGGUF.tokenizerMetadata(vocab)
    }
}
