/// Field-by-field decoding of the nested `ModelProto` messages (field numbers of `sentencepiece_model.proto`).
extension SentencePieceModel {
    static func parsePiece(_ bytes: [UInt8], _ range: Range<Int>, index: Int) throws -> Piece {
        var r = ProtobufReader(bytes: bytes, range: range, context: "pieces[\(index)]")
        var piece = Piece(piece: "", score: 0, type: .normal)
        while let (field, wt) = try r.readTag() {
            switch field {
            case 1:
                try r.expect(.lengthDelimited, wt, field: "piece")
                piece.piece = try r.readString("piece")
            case 2:
                try r.expect(.fixed32, wt, field: "score")
                piece.score = try r.readFloat()
            case 3:
                try r.expect(.varint, wt, field: "type")
                let raw = try r.readInt32()
                guard let t = PieceType(rawValue: raw) else {
                    throw TokenizerError.corruptModel("pieces[\(index)] has unknown type \(raw)")
                }
                piece.type = t
            default:
                try r.skip(wt)
            }
        }
        return piece
    }

    static func parseTrainerSpec(_ bytes: [UInt8], _ range: Range<Int>) throws -> TrainerSpec {
        var r = ProtobufReader(bytes: bytes, range: range, context: "trainer_spec")
        var s = TrainerSpec()
        while let (field, wt) = try r.readTag() {
            switch field {
            case 3:
                try r.expect(.varint, wt, field: "model_type")
                let raw = try r.readInt32()
                guard let t = ModelType(rawValue: raw) else {
                    throw TokenizerError.invalidModel("unknown trainer_spec.model_type \(raw)")
                }
                s.modelType = t
            case 4: try r.expect(.varint, wt, field: "vocab_size"); s.vocabSize = try r.readInt32()
            case 24: try r.expect(.varint, wt, field: "treat_whitespace_as_suffix"); s.treatWhitespaceAsSuffix = try r.readBool()
            case 25: try r.expect(.varint, wt, field: "split_digits"); s.splitDigits = try r.readBool()
            case 26: try r.expect(.varint, wt, field: "allow_whitespace_only_pieces"); s.allowWhitespaceOnlyPieces = try r.readBool()
            case 35: try r.expect(.varint, wt, field: "byte_fallback"); s.byteFallback = try r.readBool()
            case 40: try r.expect(.varint, wt, field: "unk_id"); s.unkId = try r.readInt32()
            case 41: try r.expect(.varint, wt, field: "bos_id"); s.bosId = try r.readInt32()
            case 42: try r.expect(.varint, wt, field: "eos_id"); s.eosId = try r.readInt32()
            case 43: try r.expect(.varint, wt, field: "pad_id"); s.padId = try r.readInt32()
            case 44: try r.expect(.lengthDelimited, wt, field: "unk_surface"); s.unkSurface = try r.readString("unk_surface")
            case 45: try r.expect(.lengthDelimited, wt, field: "unk_piece"); s.unkPiece = try r.readString("unk_piece")
            case 46: try r.expect(.lengthDelimited, wt, field: "bos_piece"); s.bosPiece = try r.readString("bos_piece")
            case 47: try r.expect(.lengthDelimited, wt, field: "eos_piece"); s.eosPiece = try r.readString("eos_piece")
            case 48: try r.expect(.lengthDelimited, wt, field: "pad_piece"); s.padPiece = try r.readString("pad_piece")
            default: try r.skip(wt)
            }
        }
        return s
    }

    static func parseNormalizerSpec(_ bytes: [UInt8], _ range: Range<Int>, _ name: String) throws -> NormalizerSpec {
        var r = ProtobufReader(bytes: bytes, range: range, context: name)
        var s = NormalizerSpec()
        while let (field, wt) = try r.readTag() {
            switch field {
            case 1: try r.expect(.lengthDelimited, wt, field: "name"); s.name = try r.readString("name")
            case 2: try r.expect(.lengthDelimited, wt, field: "precompiled_charsmap"); s.precompiledCharsmap = try r.readBytes()
            case 3: try r.expect(.varint, wt, field: "add_dummy_prefix"); s.addDummyPrefix = try r.readBool()
            case 4: try r.expect(.varint, wt, field: "remove_extra_whitespaces"); s.removeExtraWhitespaces = try r.readBool()
            case 5: try r.expect(.varint, wt, field: "escape_whitespaces"); s.escapeWhitespaces = try r.readBool()
            default: try r.skip(wt)
            }
        }
        return s
    }
}
