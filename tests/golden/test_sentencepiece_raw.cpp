// Golden test: SentencePieceTokenizer against the sentencepiece library's own output
// (tests/fixtures/hf/tokenizers/sentencepiece_raw/golden.jsonl, made with
// SentencePieceProcessor(model_file=...).encode / encode(out_type=str) / decode), for a
// Unigram model and a BPE model with byte fallback; plus hand-made ModelProto bytes for the
// wire-format reader, the load-time checks and user-defined/control/unused pieces.
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/json.hpp"
#include "tokenize/sentencepiece_tokenizer.hpp"
#include "xling/errors.hpp"

namespace {

const std::string kDir = std::string(XLING_FIXTURES) + "/tokenizers/sentencepiece_raw";

struct Tally {
  int lines = 0;
  int ids = 0;
  int pieces = 0;
  int decoded = 0;
};

TEST(SentencePieceRaw, EveryGoldenLineMatchesTheLibrary) {
  std::map<std::string, xling::tokenize::SentencePieceTokenizer> models;
  for (const char* name : {"unigram", "bpe_bytefallback"}) {
    models.emplace(name, xling::tokenize::SentencePieceTokenizer::load(kDir + "/" + name + ".model"));
  }

  std::ifstream in(kDir + "/golden.jsonl");
  ASSERT_TRUE(in) << "missing " << kDir << "/golden.jsonl";
  std::map<std::string, Tally> tally;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    const nlohmann::json g = xling::core::parse_json(line, fmt::format("golden.jsonl line {}", line_no));
    const std::string model = g.at("model").get<std::string>();
    auto it = models.find(model);
    ASSERT_NE(it, models.end()) << "line " << line_no << ": unknown model " << model;
    const auto& tok = it->second;
    const std::string text = g.at("text").get<std::string>();
    const auto want_ids = g.at("ids").get<std::vector<int>>();
    const auto want_pieces = g.at("pieces").get<std::vector<std::string>>();
    const std::string want_decoded = g.at("decoded").get<std::string>();
    SCOPED_TRACE(fmt::format("line {} ({}): {}", line_no, model, nlohmann::json(text).dump()));

    Tally& t = tally[model];
    ++t.lines;
    const auto ids = tok.encode(text);
    const auto pieces = tok.encode_pieces(text);
    const std::string decoded = tok.decode(want_ids);
    EXPECT_EQ(ids, want_ids);
    EXPECT_EQ(pieces, want_pieces);
    EXPECT_EQ(decoded, want_decoded);
    t.ids += ids == want_ids;
    t.pieces += pieces == want_pieces;
    t.decoded += decoded == want_decoded;
  }

  ASSERT_EQ(tally.size(), 2u) << "the golden file should cover both models";
  for (const auto& [model, t] : tally) {
    EXPECT_GT(t.lines, 100) << model;
    std::printf("[ summary  ] sentencepiece_raw %-16s %d lines: ids %d/%d, pieces %d/%d, decoded %d/%d\n",
                model.c_str(), t.lines, t.ids, t.lines, t.pieces, t.lines, t.decoded, t.lines);
  }
}

TEST(SentencePieceRaw, ModelMetadata) {
  const auto tok = xling::tokenize::SentencePieceTokenizer::load(kDir + "/unigram.model");
  EXPECT_EQ(tok.proto().trainer_spec.model_type, xling::tokenize::SpmModelType::kUnigram);
  EXPECT_EQ(tok.id_to_piece(tok.unk_id()), tok.proto().trainer_spec.unk_piece);
  EXPECT_EQ(tok.piece_type(tok.bos_id()), xling::tokenize::SpmPieceType::kControl);
  EXPECT_EQ(tok.piece_to_id(tok.id_to_piece(tok.eos_id())), tok.eos_id());
  EXPECT_THROW(tok.decode({static_cast<int>(tok.vocab_size())}), xling::InvalidArgument);
  EXPECT_THROW(tok.decode({-1}), xling::InvalidArgument);
  const auto bpe = xling::tokenize::SentencePieceTokenizer::load(kDir + "/bpe_bytefallback.model");
  EXPECT_EQ(bpe.proto().trainer_spec.model_type, xling::tokenize::SpmModelType::kBpe);
  EXPECT_TRUE(bpe.proto().trainer_spec.byte_fallback);
}

TEST(SentencePieceRaw, MissingOrTruncatedModelFileIsAnIoError) {
  EXPECT_THROW(xling::tokenize::SentencePieceTokenizer::load(kDir + "/no_such.model"), xling::IoError);
  std::ifstream in(kDir + "/unigram.model", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  ASSERT_GT(bytes.size(), 1000u);
  for (std::size_t cut : {bytes.size() - 1, std::size_t{7}, std::size_t{3}}) {
    EXPECT_THROW(xling::tokenize::SpmModelProto::parse(std::string_view(bytes).substr(0, cut), "cut.model"),
                 xling::IoError)
        << cut;
  }
}

// ------------------------------------------------------------ hand-made ModelProto bytes

using xling::IoError;
using xling::tokenize::SentencePieceTokenizer;
using xling::tokenize::SpmModelProto;
using xling::tokenize::SpmModelType;
using xling::tokenize::SpmPieceType;

std::string varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}
std::string key(uint32_t field, uint32_t wire) { return varint((static_cast<uint64_t>(field) << 3) | wire); }
std::string field_varint(uint32_t field, uint64_t v) { return key(field, 0) + varint(v); }
std::string field_bytes(uint32_t field, std::string_view payload) {
  return key(field, 2) + varint(payload.size()) + std::string(payload);
}
std::string field_float(uint32_t field, float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  std::string out = key(field, 5);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
  return out;
}
std::string piece(std::string_view text, float score, SpmPieceType type = SpmPieceType::kNormal) {
  std::string body = field_bytes(1, text) + field_float(2, score);
  if (type != SpmPieceType::kNormal) body += field_varint(3, static_cast<uint64_t>(type));
  return field_bytes(1, body);
}

// A small Unigram vocabulary; no charsmap (identity normalization), default whitespace rules.
std::string unigram_vocab() {
  return piece("<unk>", 0, SpmPieceType::kUnknown) + piece("<s>", 0, SpmPieceType::kControl) +
         piece("</s>", 0, SpmPieceType::kControl) + piece("\xE2\x96\x81", -1.0f) + piece("a", -2.0f) +
         piece("b", -2.0f) +
         piece(
             "\xE2\x96\x81"
             "a",
             -1.5f) +
         piece("ab", -3.0f) + piece("<mask>", 0, SpmPieceType::kUserDefined) +
         piece("zz", -0.5f, SpmPieceType::kUnused);
}

TEST(SentencePieceModelProto, ReadsFieldsAndSkipsUnknownOnes) {
  const std::string trainer = field_varint(3, 2) + field_varint(35, 1) + field_varint(43, static_cast<uint64_t>(-7)) +
                              key(99, 1) + std::string(8, '\x01') +           // unknown fixed64
                              key(98, 5) + std::string(4, '\x02') +           // unknown fixed32
                              key(97, 3) + field_varint(1, 5) + key(97, 4) +  // unknown group
                              field_bytes(44, "??");
  const std::string normalizer = field_bytes(1, "nmt_nfkc") + field_varint(3, 0) + field_varint(5, 0);
  const std::string bytes = piece("<unk>", 0, SpmPieceType::kUnknown) + piece("x", -1.5f) + field_bytes(2, trainer) +
                            field_bytes(3, normalizer) + field_varint(77, 12345) +
                            field_bytes(2, field_varint(4, 321)) +                      // a second TrainerSpec merges
                            field_bytes(1, field_bytes(1, "y") + field_varint(3, 42));  // enum 42: ignored
  const auto m = SpmModelProto::parse(bytes, "hand.model");
  ASSERT_EQ(m.pieces.size(), 3u);
  EXPECT_EQ(m.pieces[0].type, SpmPieceType::kUnknown);
  EXPECT_EQ(m.pieces[1].piece, "x");
  EXPECT_FLOAT_EQ(m.pieces[1].score, -1.5f);
  EXPECT_EQ(m.pieces[2].type, SpmPieceType::kNormal);
  EXPECT_EQ(m.trainer_spec.model_type, SpmModelType::kBpe);
  EXPECT_TRUE(m.trainer_spec.byte_fallback);
  EXPECT_EQ(m.trainer_spec.pad_id, -7);
  EXPECT_EQ(m.trainer_spec.vocab_size, 321);
  EXPECT_EQ(m.trainer_spec.unk_surface, std::optional<std::string>("??"));
  EXPECT_EQ(m.trainer_spec.unk_id, 0);  // defaults
  EXPECT_EQ(m.trainer_spec.eos_piece, "</s>");
  EXPECT_EQ(m.normalizer_spec.name, "nmt_nfkc");
  EXPECT_FALSE(m.normalizer_spec.add_dummy_prefix);
  EXPECT_TRUE(m.normalizer_spec.remove_extra_whitespaces);
  EXPECT_FALSE(m.normalizer_spec.escape_whitespaces);
  EXPECT_FALSE(m.denormalizer_spec.has_value());
}

TEST(SentencePieceModelProto, MalformedBytesAreIoErrorsNamingTheFile) {
  const std::string good = piece("<unk>", 0, SpmPieceType::kUnknown);
  const std::vector<std::pair<const char*, std::string>> cases = {
      {"truncated varint", good + "\x08\x80"},
      {"length past the end", good + "\x0a\x05"
                                     "ab"},
      {"nested length past the end", field_bytes(1, "\x0a\x09<unk>")},
      {"wire type 6", good + key(9, 6)},
      {"wire type 7", good + key(9, 7)},
      {"field number 0", good + key(0, 0) + "\x01"},
      {"stray end-group", good + key(9, 4)},
      {"unclosed group", good + key(9, 3) + field_varint(1, 1)},
      {"mismatched end-group", good + key(9, 3) + key(8, 4)},
      {"11-byte varint", good + "\x08" + std::string(10, '\xFF') + "\x01"},
      {"truncated fixed32", field_bytes(1, field_bytes(1, "a") + key(2, 5) + "\x01\x02")},
      {"deep groups", good +
                          [] {
                            std::string g;
                            for (int i = 0; i < 200; ++i) g += key(9, 3);
                            for (int i = 0; i < 200; ++i) g += key(9, 4);
                            return g;
                          }()},
  };
  for (const auto& [what, bytes] : cases) {
    try {
      SpmModelProto::parse(bytes, "bad.model");
      ADD_FAILURE() << what << ": parsed";
    } catch (const IoError& e) {
      EXPECT_NE(std::string(e.what()).find("bad.model"), std::string::npos) << what << ": " << e.what();
    }
  }
}

TEST(SentencePieceModelProto, InconsistentVocabulariesAreRejectedAtLoad) {
  const std::string unk = piece("<unk>", 0, SpmPieceType::kUnknown);
  const std::string bf = field_bytes(2, field_varint(35, 1));
  const std::vector<std::pair<const char*, std::string>> cases = {
      {"empty piece", unk + piece("", -1)},
      {"repeated piece", unk + piece("a", -1) + piece("a", -2)},
      {"no unknown piece", piece("a", -1)},
      {"two unknown pieces", unk + piece("<unk2>", 0, SpmPieceType::kUnknown) + piece("a", -1)},
      {"byte piece without byte_fallback", unk + piece("a", -1) + piece("<0x41>", 0, SpmPieceType::kByte)},
      {"malformed byte piece", unk + piece("a", -1) + piece("<0x4g>", 0, SpmPieceType::kByte) + bf},
      {"byte_fallback without the 256 bytes", unk + piece("a", -1) + piece("<0x41>", 0, SpmPieceType::kByte) + bf},
      {"Unigram without normal pieces", unk + piece("<s>", 0, SpmPieceType::kControl)},
      {"broken charsmap", unk + piece("a", -1) + field_bytes(3, field_bytes(2, "\x10\0\0\0abc"))},
  };
  for (const auto& [what, bytes] : cases) {
    EXPECT_THROW(SentencePieceTokenizer::from_proto(SpmModelProto::parse(bytes, "v.model"), "v.model"), IoError)
        << what;
  }
  // The same piece may be both reserved and normal (sentencepiece keeps them in two maps).
  EXPECT_NO_THROW(SentencePieceTokenizer::from_proto(
      SpmModelProto::parse(unk + piece("a", -1) + piece("a", 0, SpmPieceType::kControl), "v.model"), "v.model"));
}

TEST(SentencePieceHandMade, UnigramWithUserDefinedControlAndUnusedPieces) {
  const auto tok = SentencePieceTokenizer::from_proto(SpmModelProto::parse(unigram_vocab(), "u.model"), "u.model");
  const auto id = [&](std::string_view p) { return tok.piece_to_id(p); };
  const std::string ws = "\xE2\x96\x81";
  // "  a<mask>b  " -> "_a<mask>b": the user-defined piece is kept whole, "_a" beats "_" + "a".
  EXPECT_EQ(tok.normalize("  a<mask>b  "), ws + "a<mask>b");
  EXPECT_EQ(tok.encode("  a<mask>b  "), (std::vector<int>{id(ws + "a"), id("<mask>"), id("b")}));
  // Control and unused pieces are never produced: "<s>" is unknown characters, "zz" too.
  EXPECT_EQ(tok.encode_pieces("a<s>zz"), (std::vector<std::string>{ws + "a", "<s>zz"}));
  EXPECT_EQ(tok.encode("a<s>zz"), (std::vector<int>{id(ws + "a"), tok.unk_id()}));
  // Decoding: control pieces vanish, <unk> shows as " \u2047 ", the leading space goes.
  EXPECT_EQ(tok.decode({tok.bos_id(), id(ws + "a"), id("<mask>"), id("b"), tok.unk_id(), id(ws), tok.eos_id()}),
            "a<mask>b \xE2\x81\x87  ");
  EXPECT_EQ(tok.decode({}), "");
  EXPECT_EQ(tok.encode(""), std::vector<int>{});
  EXPECT_EQ(tok.encode("   "), std::vector<int>{});
  EXPECT_EQ(tok.pad_id(), -1);  // no <pad> piece
  EXPECT_EQ(tok.piece_to_id("nope"), tok.unk_id());
}

TEST(SentencePieceHandMade, BpeMergesByPieceScore) {
  // Merge candidates of "_ab": "_a" (-1) and "ab" (-0.5): the higher score merges first,
  // then "_ab" is not a piece. A frozen user-defined piece never merges.
  const std::string ws = "\xE2\x96\x81";
  const std::string bytes = piece("<unk>", 0, SpmPieceType::kUnknown) + piece(ws, -3) + piece("a", -3) +
                            piece("b", -3) + piece(ws + "a", -1) + piece("ab", -0.5f) + piece("c", -3) +
                            piece(
                                "ab"
                                "c",
                                -4) +
                            piece("X", 0, SpmPieceType::kUserDefined) + field_bytes(2, field_varint(3, 2));
  const auto tok = SentencePieceTokenizer::from_proto(SpmModelProto::parse(bytes, "b.model"), "b.model");
  EXPECT_EQ(tok.encode_pieces("ab"), (std::vector<std::string>{ws, "ab"}));
  EXPECT_EQ(tok.encode_pieces("abc"), (std::vector<std::string>{ws, "abc"}));
  EXPECT_EQ(tok.encode_pieces("aXbc"), (std::vector<std::string>{ws + "a", "X", "b", "c"}));
  EXPECT_EQ(tok.encode_pieces("a??b"), (std::vector<std::string>{ws + "a", "??", "b"}));
  EXPECT_EQ(tok.encode("a??b")[1], tok.unk_id());
  EXPECT_EQ(tok.decode(tok.encode("ab c")), "ab c");
}

}  // namespace
