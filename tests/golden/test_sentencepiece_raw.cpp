// Golden test: SentencePieceTokenizer against the sentencepiece library's own output
// (tests/fixtures/hf/tokenizers/sentencepiece_raw/golden.jsonl, made with
// SentencePieceProcessor(model_file=...).encode / encode(out_type=str) / decode), for a
// Unigram model and a BPE model with byte fallback.
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

}  // namespace
