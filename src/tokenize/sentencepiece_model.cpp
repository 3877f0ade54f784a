// Protobuf wire-format reader for sentencepiece ModelProto (see sentencepiece_model.hpp).
// Every read is bounds-checked: the files are untrusted and this parser is fuzzed.
#include "tokenize/sentencepiece_model.hpp"

#include <cstring>

#include <fmt/format.h>

#include "core/json.hpp"
#include "xling/errors.hpp"

namespace xling::tokenize {

namespace {

enum WireType : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5
};

constexpr int kMaxGroupDepth = 100;  // protobuf's default recursion limit

// One message's bytes; offsets in errors are relative to the start of the file.
class WireReader {
 public:
  WireReader(std::string_view data, std::size_t file_offset, const std::string& source, const char* message)
      : data_(data), base_(file_offset), source_(source), message_(message) {}

  bool done() const { return pos_ >= data_.size(); }

  // Reads a field key; returns false at the end of the message.
  bool next(uint32_t& field, uint32_t& wire) {
    if (done()) return false;
    const std::size_t at = pos_;
    const uint64_t key = varint();
    if (key > 0xFFFFFFFFu || (key >> 3) == 0) fail_at(at, fmt::format("invalid field key {}", key));
    field = static_cast<uint32_t>(key >> 3);
    wire = static_cast<uint32_t>(key & 7);
    return true;
  }

  uint64_t varint() {
    const std::size_t at = pos_;
    uint64_t value = 0;
    for (int i = 0; i < 10; ++i) {
      if (pos_ >= data_.size()) fail_at(at, "varint runs past the end of the message: truncated file?");
      const auto byte = static_cast<unsigned char>(data_[pos_++]);
      value |= static_cast<uint64_t>(byte & 0x7F) << (7 * i);
      if ((byte & 0x80) == 0) return value;
    }
    fail_at(at, "varint is longer than 10 bytes");
  }

  uint32_t fixed32() {
    need(4, "32-bit value");
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(data_[pos_ + i]);
    pos_ += 4;
    return v;
  }

  void fixed64() {
    need(8, "64-bit value");
    pos_ += 8;
  }

  // A length-delimited payload; *offset receives its position in the file.
  std::string_view bytes(std::size_t* offset = nullptr) {
    const std::size_t at = pos_;
    const uint64_t length = varint();
    if (length > data_.size() - pos_) {
      fail_at(at, fmt::format("length {} runs past the end of the message ({} bytes left): truncated file?", length,
                              data_.size() - pos_));
    }
    if (offset) *offset = base_ + pos_;
    std::string_view out = data_.substr(pos_, static_cast<std::size_t>(length));
    pos_ += static_cast<std::size_t>(length);
    return out;
  }

  // Skips the value of a field this reader does not keep.
  void skip(uint32_t field, uint32_t wire, int depth = 0) {
    switch (wire) {
      case kVarint:
        varint();
        return;
      case kFixed64:
        fixed64();
        return;
      case kLengthDelimited:
        bytes();
        return;
      case kFixed32:
        fixed32();
        return;
      case kStartGroup: {
        if (depth >= kMaxGroupDepth) fail_at(pos_, "groups nested too deeply");
        uint32_t f = 0, w = 0;
        while (next(f, w)) {
          if (w == kEndGroup) {
            if (f != field) fail_at(pos_, fmt::format("group {} closed by end-group {}", field, f));
            return;
          }
          skip(f, w, depth + 1);
        }
        fail_at(pos_, fmt::format("group {} is not closed: truncated file?", field));
      }
      case kEndGroup:
        fail_at(pos_, fmt::format("unexpected end-group for field {}", field));
      default:
        fail_at(pos_, fmt::format("field {} has invalid wire type {}", field, wire));
    }
  }

  [[noreturn]] void fail_at(std::size_t at, const std::string& what) const {
    throw IoError(
        fmt::format("{}: invalid sentencepiece model: {} at byte {}: {}", source_, message_, base_ + at, what));
  }

 private:
  void need(std::size_t n, const char* what) {
    if (data_.size() - pos_ < n) {
      fail_at(pos_, fmt::format("{} runs past the end of the message: truncated file?", what));
    }
  }

  std::string_view data_;
  std::size_t pos_ = 0;
  std::size_t base_;
  const std::string& source_;
  const char* message_;
};

float as_float(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

// int32 fields are varints holding the 64-bit sign extension; protobuf keeps the low 32 bits.
int32_t as_int32(uint64_t v) { return static_cast<int32_t>(static_cast<uint32_t>(v)); }

void parse_piece(std::string_view data, std::size_t offset, const std::string& source, SpmPiece& piece) {
  WireReader r(data, offset, source, "ModelProto.SentencePiece");
  uint32_t field = 0, wire = 0;
  while (r.next(field, wire)) {
    if (field == 1 && wire == kLengthDelimited) {
      piece.piece.assign(r.bytes());
    } else if (field == 2 && wire == kFixed32) {
      piece.score = as_float(r.fixed32());
    } else if (field == 3 && wire == kVarint) {
      const int32_t v = as_int32(r.varint());
      if (v >= static_cast<int>(SpmPieceType::kNormal) && v <= static_cast<int>(SpmPieceType::kByte)) {
        piece.type = static_cast<SpmPieceType>(v);
      }
    } else {
      r.skip(field, wire);
    }
  }
}

void parse_trainer_spec(std::string_view data, std::size_t offset, const std::string& source, SpmTrainerSpec& spec) {
  WireReader r(data, offset, source, "TrainerSpec");
  uint32_t field = 0, wire = 0;
  while (r.next(field, wire)) {
    if (wire == kVarint) {
      switch (field) {
        case 3: {
          const int32_t v = as_int32(r.varint());
          if (v >= static_cast<int>(SpmModelType::kUnigram) && v <= static_cast<int>(SpmModelType::kChar)) {
            spec.model_type = static_cast<SpmModelType>(v);
          }
          continue;
        }
        case 4:
          spec.vocab_size = as_int32(r.varint());
          continue;
        case 24:
          spec.treat_whitespace_as_suffix = r.varint() != 0;
          continue;
        case 25:
          spec.split_digits = r.varint() != 0;
          continue;
        case 26:
          spec.allow_whitespace_only_pieces = r.varint() != 0;
          continue;
        case 35:
          spec.byte_fallback = r.varint() != 0;
          continue;
        case 40:
          spec.unk_id = as_int32(r.varint());
          continue;
        case 41:
          spec.bos_id = as_int32(r.varint());
          continue;
        case 42:
          spec.eos_id = as_int32(r.varint());
          continue;
        case 43:
          spec.pad_id = as_int32(r.varint());
          continue;
        default:
          break;
      }
    } else if (wire == kLengthDelimited) {
      switch (field) {
        case 44:
          spec.unk_surface = std::string(r.bytes());
          continue;
        case 45:
          spec.unk_piece.assign(r.bytes());
          continue;
        case 46:
          spec.bos_piece.assign(r.bytes());
          continue;
        case 47:
          spec.eos_piece.assign(r.bytes());
          continue;
        case 48:
          spec.pad_piece.assign(r.bytes());
          continue;
        default:
          break;
      }
    }
    r.skip(field, wire);
  }
}

void parse_normalizer_spec(std::string_view data, std::size_t offset, const std::string& source, const char* name,
                           SpmNormalizerSpec& spec) {
  WireReader r(data, offset, source, name);
  uint32_t field = 0, wire = 0;
  while (r.next(field, wire)) {
    if (wire == kLengthDelimited) {
      switch (field) {
        case 1:
          spec.name.assign(r.bytes());
          continue;
        case 2:
          spec.precompiled_charsmap.assign(r.bytes());
          continue;
        case 6:
          spec.normalization_rule_tsv.assign(r.bytes());
          continue;
        default:
          break;
      }
    } else if (wire == kVarint) {
      switch (field) {
        case 3:
          spec.add_dummy_prefix = r.varint() != 0;
          continue;
        case 4:
          spec.remove_extra_whitespaces = r.varint() != 0;
          continue;
        case 5:
          spec.escape_whitespaces = r.varint() != 0;
          continue;
        default:
          break;
      }
    }
    r.skip(field, wire);
  }
}

}  // namespace

SpmModelProto SpmModelProto::parse(std::string_view bytes, const std::string& source) {
  SpmModelProto model;
  WireReader r(bytes, 0, source, "ModelProto");
  uint32_t field = 0, wire = 0;
  while (r.next(field, wire)) {
    if (wire != kLengthDelimited || field < 1 || field > 5 || field == 4) {
      r.skip(field, wire);
      continue;
    }
    std::size_t offset = 0;
    const std::string_view payload = r.bytes(&offset);
    switch (field) {
      case 1:
        parse_piece(payload, offset, source, model.pieces.emplace_back());
        break;
      case 2:
        parse_trainer_spec(payload, offset, source, model.trainer_spec);
        break;
      case 3:
        parse_normalizer_spec(payload, offset, source, "NormalizerSpec", model.normalizer_spec);
        break;
      case 5:
        if (!model.denormalizer_spec) model.denormalizer_spec.emplace();
        parse_normalizer_spec(payload, offset, source, "denormalizer NormalizerSpec", *model.denormalizer_spec);
        break;
      default:
        break;
    }
  }
  return model;
}

SpmModelProto SpmModelProto::load(const std::string& path) {
  const std::string bytes = core::read_text_file(path, std::size_t{1} << 30);
  return parse(bytes, path);
}

}  // namespace xling::tokenize
