import Foundation

/// A loaded SentencePiece model that encodes text to ids and decodes ids to text exactly like the C++ library's
/// `SentencePieceProcessor` (`encode(text)` / `decode(ids)`, no BOS/EOS, no sampling).
public struct SentencePieceProcessor: Sendable {
    /// The parsed model file.
    public let model: SentencePieceModel
    /// Piece bytes by id.
    let pieceBytes: [[UInt8]]
    /// Piece type raw values by id (`SentencePieceModel.PieceType.rawValue`).
    let types: [UInt8]
    let scores: [Float]
    /// NORMAL, USER_DEFINED and UNUSED pieces (the library's `pieces_`).
    let pieceTrie: ByteTrie
    /// CONTROL, UNKNOWN and BYTE pieces (the library's `reserved_id_map_`).
    let reserved: [[UInt8]: Int32]
    /// USER_DEFINED pieces (the library's prefix matcher).
    let userTrie: ByteTrie
    let normalizer: SentencePieceNormalizer
    let denormalizer: SentencePieceNormalizer?
    /// Id of `<0xNN>` for each byte (the unknown id when the model lacks it).
    let byteIds: [Int32]
    /// Byte value of each BYTE piece, -1 for other pieces.
    let byteValues: [Int16]
    /// Scores range over NORMAL pieces (Unigram user-symbol bonus and unknown penalty).
    let minScore: Float, maxScore: Float
    /// Id of the unknown piece.
    public let unkId: Int
    /// Whether any piece is UNUSED (BPE then records merges for re-segmentation).
    let hasUnusedPieces: Bool
    /// BPE merge lookup by piece-id pair (empty for other model types).
    let pairs: PiecePairTable?
    /// Id of the mergeable piece made of one byte, -1 if none (fast path for ASCII characters).
    let singleByteIds: [Int32]

    /// Loads a model file (`tokenizer.model`).
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TokenizerError.fileNotReadable(path: url.path, reason: "\(error.localizedDescription)")
        }
        try self.init(model: SentencePieceModel(data: data))
    }

    /// Loads a serialized `ModelProto`.
    public init(data: Data) throws {
        try self.init(model: SentencePieceModel(data: data))
    }

    /// Builds the lookup tables; throws for the same inconsistencies the library rejects.
    public init(model: SentencePieceModel) throws {
        self.model = model
        let n = model.pieces.count
        guard n <= SentencePieceModel.maxVocabularySize else {
            throw TokenizerError.invalidModel("\(n) pieces is more than the vocabulary limit \(SentencePieceModel.maxVocabularySize)")
        }
        var bytes: [[UInt8]] = [], types: [UInt8] = [], scores: [Float] = []
        bytes.reserveCapacity(n); types.reserveCapacity(n); scores.reserveCapacity(n)
        var trie = ByteTrie(capacity: n * 6)
        var user = ByteTrie()
        var reserved: [[UInt8]: Int32] = [:]
        var unk = -1
        var byteIds = [Int32](repeating: -1, count: 256)
        var byteValues = [Int16](repeating: -1, count: n)
        var minS = Float.greatestFiniteMagnitude, maxS = Float.leastNormalMagnitude
        for (i, p) in model.pieces.enumerated() {
            let b = Array(p.piece.utf8)
            guard !b.isEmpty else { throw TokenizerError.invalidModel("piece \(i) is empty") }
            bytes.append(b); types.append(UInt8(p.type.rawValue)); scores.append(p.score)
            let duplicate = { TokenizerError.invalidModel("piece \(i) \"\(p.piece)\" is already defined") }
            switch p.type {
            case .normal, .userDefined, .unused:
                guard reserved[b] == nil, trie.insert(b, value: Int32(i)) < 0 else { throw duplicate() }
                if p.type == .userDefined { user.insert(b, value: Int32(i)) }
                if p.type == .normal { minS = min(minS, p.score); maxS = max(maxS, p.score) }
            case .unknown, .control, .byte:
                let node = trie.walk(b)
                guard node < 0 || trie.value(node) < 0, reserved.updateValue(Int32(i), forKey: b) == nil else {
                    throw duplicate()
                }
                if p.type == .unknown {
                    guard unk < 0 else { throw TokenizerError.invalidModel("unk is already defined (ids \(unk) and \(i))") }
                    unk = i
                }
                if p.type == .byte {
                    guard model.trainerSpec.byteFallback else {
                        throw TokenizerError.invalidModel("byte piece \(p.piece) found although byte_fallback is false")
                    }
                    guard let v = Self.parseBytePiece(b) else {
                        throw TokenizerError.invalidModel("byte piece \(i) \"\(p.piece)\" is not of the form <0xNN>")
                    }
                    byteValues[i] = Int16(v)
                    byteIds[Int(v)] = Int32(i)
                }
            }
        }
        guard unk >= 0 else { throw TokenizerError.invalidModel("no piece of type UNKNOWN (<unk>) is defined") }
        for b in 0..<256 where byteIds[b] < 0 { byteIds[b] = Int32(unk) }
        pieceBytes = bytes; self.types = types; self.scores = scores
        pieceTrie = trie; userTrie = user; self.reserved = reserved
        self.byteIds = byteIds; self.byteValues = byteValues
        minScore = minS; maxScore = maxS; unkId = unk
        hasUnusedPieces = model.pieces.contains { $0.type == .unused }
        singleByteIds = (0..<256).map { b in
            let nd = trie.child(ByteTrie.root, UInt8(b))
            return nd >= 0 ? trie.value(nd) : -1
        }
        pairs = model.trainerSpec.modelType == .bpe ? PiecePairTable(pieces: bytes, types: types, trie: trie) : nil
        normalizer = try SentencePieceNormalizer(spec: model.normalizerSpec,
                                                 treatWhitespaceAsSuffix: model.trainerSpec.treatWhitespaceAsSuffix,
                                                 userDefined: user)
        denormalizer = try model.denormalizerSpec.map {
            try SentencePieceNormalizer(spec: $0, treatWhitespaceAsSuffix: false, userDefined: ByteTrie())
        }
    }

    private static func parseBytePiece(_ b: [UInt8]) -> UInt8? {
        guard b.count == 6, b[0] == 0x3C, b[1] == 0x30, b[2] == 0x78, b[5] == 0x3E else { return nil }
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x41...0x46: return c - 0x41 + 10
            default: return nil
            }
        }
        guard let h = hex(b[3]), let l = hex(b[4]) else { return nil }
        return h << 4 | l
    }

    // MARK: Vocabulary

    /// Number of pieces.
    public var vocabularySize: Int { pieceBytes.count }

    /// Piece text for `id`, nil when out of range.
    public func idToPiece(_ id: Int) -> String? {
        guard id >= 0 && id < pieceBytes.count else { return nil }
        return model.pieces[id].piece
    }

    /// Id of `piece`, or the unknown id when the piece is not in the vocabulary (library semantics).
    public func pieceToId(_ piece: String) -> Int { lookup(Array(piece.utf8)) ?? unkId }

    /// Id of a piece given as bytes, nil when absent.
    func lookup<C: Collection>(_ bytes: C) -> Int? where C.Element == UInt8 {
        let node = pieceTrie.walk(bytes)
        if node >= 0 {
            let v = pieceTrie.value(node)
            if v >= 0 { return Int(v) }
        }
        return reserved[Array(bytes)].map(Int.init)
    }

    /// Type of piece `id`, nil when out of range.
    public func pieceType(_ id: Int) -> SentencePieceModel.PieceType? {
        guard id >= 0 && id < types.count else { return nil }
        return SentencePieceModel.PieceType(rawValue: Int(types[id]))
    }

    /// Score of piece `id` (0 when out of range).
    public func score(_ id: Int) -> Float { id >= 0 && id < scores.count ? scores[id] : 0 }

    /// Id of the trainer's `bos_piece` if present.
    public var bosId: Int? { lookup(Array(model.trainerSpec.bosPiece.utf8)) }
    /// Id of the trainer's `eos_piece` if present.
    public var eosId: Int? { lookup(Array(model.trainerSpec.eosPiece.utf8)) }
    /// Id of the trainer's `pad_piece` if present.
    public var padId: Int? { lookup(Array(model.trainerSpec.padPiece.utf8)) }

    @inline(__always) func isType(_ id: Int, _ t: SentencePieceModel.PieceType) -> Bool {
        id >= 0 && id < types.count && types[id] == UInt8(t.rawValue)
    }

    // MARK: Normalisation

    /// The normalised form of `text` as the library's `normalize` returns it (U+2581 for spaces).
    public func normalize(_ text: String) -> String {
        var t = text
        let out = t.withUTF8 { normalizer.normalize($0) }
        return String(decoding: out, as: UTF8.self)
    }
}
