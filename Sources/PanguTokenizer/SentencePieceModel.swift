import Foundation

/// The contents of a SentencePiece `tokenizer.model` (`sentencepiece.ModelProto`), decoded by a hand-written
/// protobuf reader. Only fields that affect encoding or decoding are kept; unknown fields are skipped.
public struct SentencePieceModel: Sendable {
    /// `ModelProto.SentencePiece.Type`.
    public enum PieceType: Int, Sendable {
        /// An ordinary vocabulary piece.
        case normal = 1
        /// The `<unk>` piece.
        case unknown = 2
        /// Control symbols such as `<s>`, `</s>`: never produced from text, decoded to nothing.
        case control = 3
        /// User-defined symbols: always matched as a whole, never split or merged.
        case userDefined = 4
        /// Pieces that exist but are never produced (BPE re-segments them).
        case unused = 5
        /// Byte-fallback pieces `<0x00>`...`<0xFF>`.
        case byte = 6
    }

    /// One vocabulary entry.
    public struct Piece: Sendable, Equatable {
        /// Piece text (whitespace is the meta symbol U+2581).
        public var piece: String
        /// Score: log probability (Unigram) or merge priority (BPE, higher merges first).
        public var score: Float
        /// Piece type.
        public var type: PieceType
        /// Creates a piece.
        public init(piece: String, score: Float, type: PieceType) {
            self.piece = piece
            self.score = score
            self.type = type
        }
    }

    /// `TrainerSpec.ModelType`.
    public enum ModelType: Int, Sendable {
        /// Unigram language model, Viterbi segmentation.
        case unigram = 1
        /// Byte-pair encoding, merges by piece score.
        case bpe = 2
        /// Whitespace-delimited words.
        case word = 3
        /// Single characters.
        case char = 4
    }

    /// The parts of `TrainerSpec` that matter at inference time.
    public struct TrainerSpec: Sendable {
        /// Segmentation algorithm.
        public var modelType: ModelType = .unigram
        /// Requested vocabulary size at training time.
        public var vocabSize: Int = 8000
        /// Whether unknown characters are decomposed into `<0xNN>` byte pieces.
        public var byteFallback = false
        /// Whether the whitespace meta symbol is a suffix instead of a prefix.
        public var treatWhitespaceAsSuffix = false
        /// Whether pieces made only of whitespace were allowed at training.
        public var allowWhitespaceOnlyPieces = false
        /// Whether digits were split at training.
        public var splitDigits = false
        /// Reserved ids (-1 = absent).
        public var unkId = 0, bosId = 1, eosId = 2, padId = -1
        /// Reserved piece strings.
        public var unkPiece = "<unk>", bosPiece = "<s>", eosPiece = "</s>", padPiece = "<pad>"
        /// What `<unk>` decodes to.
        public var unkSurface = " \u{2047} "
        /// Creates a spec with the protobuf defaults.
        public init() {}
    }

    /// `NormalizerSpec` (also used for the denormalizer).
    public struct NormalizerSpec: Sendable {
        /// Rule name, e.g. `nmt_nfkc`, `identity`.
        public var name = ""
        /// Compiled normalisation rules: uint32 trie size, Darts double-array trie, NUL-terminated replacement blob.
        public var precompiledCharsmap: [UInt8] = []
        /// Prepend one whitespace meta symbol to the input.
        public var addDummyPrefix = true
        /// Strip leading/trailing whitespace and collapse internal runs into one.
        public var removeExtraWhitespaces = true
        /// Replace ' ' with U+2581.
        public var escapeWhitespaces = true
        /// Creates a spec with the protobuf defaults.
        public init() {}
    }

    /// Vocabulary in id order.
    public var pieces: [Piece]
    /// Trainer settings.
    public var trainerSpec: TrainerSpec
    /// Normaliser settings.
    public var normalizerSpec: NormalizerSpec
    /// Optional denormaliser applied to decoded text (present only if it has a charsmap).
    public var denormalizerSpec: NormalizerSpec?

    /// Largest vocabulary (pieces, and added-token ids) accepted: real models have 32k–256k; the limit keeps a
    /// hostile file from making the tokenizer build gigabytes of lookup tables.
    public static let maxVocabularySize = 1 << 22

    /// Parses a serialized `ModelProto`. Throws ``TokenizerError`` on truncated or malformed input.
    public init(data: Data) throws {
        try self.init(bytes: [UInt8](data))
    }

    /// Parses a serialized `ModelProto` from raw bytes.
    public init(bytes: [UInt8]) throws {
        var r = ProtobufReader(bytes: bytes, range: 0..<bytes.count, context: "ModelProto")
        var pieces: [Piece] = []
        var trainer = TrainerSpec()
        var normalizer = NormalizerSpec()
        var denormalizer: NormalizerSpec?
        while let (field, wt) = try r.readTag() {
            switch field {
            case 1:
                try r.expect(.lengthDelimited, wt, field: "pieces")
                guard pieces.count < Self.maxVocabularySize else {
                    throw TokenizerError.invalidModel("more than \(Self.maxVocabularySize) pieces (the vocabulary limit)")
                }
                pieces.append(try Self.parsePiece(bytes, try r.readLengthDelimited(), index: pieces.count))
            case 2:
                try r.expect(.lengthDelimited, wt, field: "trainer_spec")
                trainer = try Self.parseTrainerSpec(bytes, try r.readLengthDelimited())
            case 3:
                try r.expect(.lengthDelimited, wt, field: "normalizer_spec")
                normalizer = try Self.parseNormalizerSpec(bytes, try r.readLengthDelimited(), "normalizer_spec")
            case 5:
                try r.expect(.lengthDelimited, wt, field: "denormalizer_spec")
                denormalizer = try Self.parseNormalizerSpec(bytes, try r.readLengthDelimited(), "denormalizer_spec")
            default:
                try r.skip(wt)
            }
        }
        guard !pieces.isEmpty else { throw TokenizerError.invalidModel("the model has no pieces") }
        self.pieces = pieces
        self.trainerSpec = trainer
        self.normalizerSpec = normalizer
        self.denormalizerSpec = (denormalizer?.precompiledCharsmap.isEmpty ?? true) ? nil : denormalizer
    }

    /// Memberwise initialiser (for building models in code).
    public init(pieces: [Piece], trainerSpec: TrainerSpec, normalizerSpec: NormalizerSpec,
                denormalizerSpec: NormalizerSpec? = nil) {
        self.pieces = pieces
        self.trainerSpec = trainerSpec
        self.normalizerSpec = normalizerSpec
        self.denormalizerSpec = denormalizerSpec
    }
}
