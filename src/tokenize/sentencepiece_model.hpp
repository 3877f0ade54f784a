// sentencepiece .model files: a serialized sentencepiece.ModelProto (sentencepiece_model.proto),
// read with a minimal protobuf wire-format reader (libprotobuf clashes with libtorch). Only
// the fields encoding and decoding need are kept; unknown fields are skipped.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace xling::tokenize {

// ModelProto.SentencePiece.Type
enum class SpmPieceType : int {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

// TrainerSpec.ModelType
enum class SpmModelType : int {
  kUnigram = 1,
  kBpe = 2,
  kWord = 3,
  kChar = 4,
};

struct SpmPiece {
  std::string piece;
  float score = 0.0f;
  SpmPieceType type = SpmPieceType::kNormal;
};

// Proto defaults are the field defaults below.
struct SpmTrainerSpec {
  SpmModelType model_type = SpmModelType::kUnigram;
  int32_t vocab_size = 8000;
  bool treat_whitespace_as_suffix = false;
  bool allow_whitespace_only_pieces = false;
  bool split_digits = false;
  bool byte_fallback = false;
  int32_t unk_id = 0;
  int32_t bos_id = 1;
  int32_t eos_id = 2;
  int32_t pad_id = -1;
  std::string unk_piece = "<unk>";
  std::string bos_piece = "<s>";
  std::string eos_piece = "</s>";
  std::string pad_piece = "<pad>";
  std::optional<std::string> unk_surface;  // decoding uses " \u2047 " when unset
};

struct SpmNormalizerSpec {
  std::string name;
  std::string precompiled_charsmap;
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
  std::string normalization_rule_tsv;
};

struct SpmModelProto {
  std::vector<SpmPiece> pieces;
  SpmTrainerSpec trainer_spec;
  SpmNormalizerSpec normalizer_spec;
  std::optional<SpmNormalizerSpec> denormalizer_spec;

  // Parses serialized bytes; `source` (the file path) names every error. Throws IoError on
  // malformed or truncated input. Like protobuf, the last value of a repeated scalar field
  // wins, repeated sub-messages merge, and enum values outside the schema are ignored.
  static SpmModelProto parse(std::string_view bytes, const std::string& source);
  // Reads and parses a .model file (at most 1 GiB). Throws IoError.
  static SpmModelProto load(const std::string& path);
};

}  // namespace xling::tokenize
