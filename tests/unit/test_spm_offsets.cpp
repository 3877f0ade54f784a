// SentencePieceTokenizer::encode_with_offsets: on every line of the sentencepiece_raw golden
// file the ids are the library's and the spans chain through the text; on chosen texts the
// spans are the ones derived by hand from sentencepiece's normalized-to-original alignment
// (dummy prefix, whitespace runs, charsmap rewrites, unknown runs, byte fallback).
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/json.hpp"
#include "tokenize/sentencepiece_tokenizer.hpp"

namespace {

using xling::tokenize::SentencePieceTokenizer;
using xling::tokenize::SpmModelProto;
using xling::tokenize::SpmPieceType;
using xling::tokenize::SpmToken;

const std::string kDir = std::string(XLING_FIXTURES) + "/tokenizers/sentencepiece_raw";

bool is_trail_byte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// A quoted, escaped form of any bytes for failure messages (invalid UTF-8 shows as U+FFFD).
std::string escaped(std::string_view text) {
  return nlohmann::json(std::string(text)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

TEST(SpmOffsets, GoldenIdsAndSpansChainThroughTheText) {
  std::map<std::string, SentencePieceTokenizer> models;
  for (const char* name : {"unigram", "bpe_bytefallback"}) {
    models.emplace(name, SentencePieceTokenizer::load(kDir + "/" + name + ".model"));
  }
  std::ifstream in(kDir + "/golden.jsonl");
  ASSERT_TRUE(in) << "missing " << kDir << "/golden.jsonl";
  std::map<std::string, std::pair<int, int>> tally;  // model -> (lines, lines that pass)
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    const nlohmann::json g = xling::core::parse_json(line, fmt::format("golden.jsonl line {}", line_no));
    const std::string model = g.at("model").get<std::string>();
    const auto it = models.find(model);
    ASSERT_NE(it, models.end()) << "line " << line_no << ": unknown model " << model;
    const SentencePieceTokenizer& tok = it->second;
    const std::string text = g.at("text").get<std::string>();
    const auto want_ids = g.at("ids").get<std::vector<int>>();
    SCOPED_TRACE(fmt::format("line {} ({}): {}", line_no, model, escaped(text)));

    const std::vector<SpmToken> tokens = tok.encode_with_offsets(text);
    std::vector<int> ids;
    for (const SpmToken& t : tokens) ids.push_back(t.id);
    bool ok = ids == want_ids;
    EXPECT_EQ(ids, want_ids);
    if (tokens.empty()) {  // only a text the normalizer empties has no pieces
      EXPECT_EQ(tok.normalize(text), "");
      ok = ok && tok.normalize(text).empty();
    }

    // Each span lies in the text on character boundaries, and each starts where the previous
    // ended (byte-fallback pieces before a character's last one are empty at its start), so
    // together they cover text[first, last) exactly once, in order.
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      const SpmToken& t = tokens[i];
      const bool in_text = t.begin <= t.end && t.end <= text.size();
      const bool on_boundaries = in_text && (t.begin == text.size() || !is_trail_byte(text[t.begin])) &&
                                 (t.end == text.size() || !is_trail_byte(text[t.end]));
      const bool chained = i == 0 || t.begin == tokens[i - 1].end;
      EXPECT_TRUE(in_text) << "token " << i << ": [" << t.begin << ", " << t.end << ") in " << text.size() << " bytes";
      EXPECT_TRUE(on_boundaries) << "token " << i << ": [" << t.begin << ", " << t.end << ")";
      EXPECT_TRUE(chained) << "token " << i << " begins at " << t.begin << ", the previous one ends at "
                           << tokens[i - 1].end;
      ok = ok && in_text && on_boundaries && chained;
    }
    // What lies outside the spans is whitespace the normalizer removes.
    if (!tokens.empty() && tokens.front().begin <= tokens.back().end && tokens.back().end <= text.size()) {
      const std::string head = text.substr(0, tokens.front().begin);
      const std::string tail = text.substr(tokens.back().end);
      EXPECT_EQ(tok.normalize(head), "") << "uncovered head " << escaped(head);
      EXPECT_EQ(tok.normalize(tail), "") << "uncovered tail " << escaped(tail);
      ok = ok && tok.normalize(head).empty() && tok.normalize(tail).empty();
    }
    auto& [lines, passed] = tally[model];
    ++lines;
    passed += ok;
  }
  ASSERT_EQ(tally.size(), 2u) << "the golden file should cover both models";
  for (const auto& [model, counts] : tally) {
    EXPECT_GT(counts.first, 100) << model;
    std::printf("[ summary  ] spm offsets %-16s %d lines, %d with golden ids and chained spans\n", model.c_str(),
                counts.first, counts.second);
  }
}

struct Expected {
  std::string piece;
  uint32_t begin;
  uint32_t end;
};

void expect_spans(const SentencePieceTokenizer& tok, std::string_view text, const std::vector<Expected>& want) {
  SCOPED_TRACE(escaped(text));
  const std::vector<SpmToken> tokens = tok.encode_with_offsets(text);
  std::vector<int> ids;
  std::vector<std::string> got;
  std::vector<std::string> expected;
  for (const SpmToken& t : tokens) {
    ids.push_back(t.id);
    got.push_back(fmt::format("{} [{}, {})", tok.id_to_piece(t.id), t.begin, t.end));
  }
  for (const Expected& e : want) expected.push_back(fmt::format("{} [{}, {})", e.piece, e.begin, e.end));
  EXPECT_EQ(got, expected);
  EXPECT_EQ(ids, tok.encode(text));
}

// nmt_nfkc normalizer, dummy prefix, extra whitespace removed, no byte fallback.
TEST(SpmOffsets, UnigramSpansDerivedByHand) {
  const auto tok = SentencePieceTokenizer::load(kDir + "/unigram.model");
  // The dummy prefix takes the offset of the first character it precedes; alone it is empty.
  expect_spans(tok, "hello", {{"▁", 0, 0}, {"hel", 0, 3}, {"lo", 3, 5}});
  // Leading whitespace is skipped; a run of spaces becomes one U+2581 at its first space and
  // belongs to the next piece; trailing whitespace is left outside.
  expect_spans(tok, "  hello   world  ",
               {{"▁", 2, 2}, {"hel", 2, 5}, {"lo", 5, 7}, {"▁w", 7, 11}, {"or", 11, 13}, {"ld", 13, 15}});
  expect_spans(tok, "\tab\t\t", {{"▁ab", 1, 3}});  // tabs are whitespace too
  expect_spans(tok, "a\tb", {{"▁a", 0, 1}, {"▁b", 1, 3}});
  // U+3000 and U+00A0 become spaces and collapse into the run.
  expect_spans(tok, "ab \xE3\x80\x80 cd", {{"▁ab", 0, 2}, {"▁c", 2, 8}, {"d", 8, 9}});
  expect_spans(tok, "A\xC2\xA0\xC2\xA0" "B", {{"▁A", 0, 1}, {"▁B", 1, 6}});
  // Two-byte é is itself; e + U+0301 (3 bytes) composes to é, which spans all three.
  expect_spans(tok, "caf\xC3\xA9", {{"▁ca", 0, 2}, {"f", 2, 3}, {"é", 3, 5}});
  expect_spans(tok, "cafe\xCC\x81", {{"▁ca", 0, 2}, {"f", 2, 3}, {"é", 3, 6}});
  expect_spans(tok, "日本語", {{"▁", 0, 0}, {"日", 0, 3}, {"本", 3, 6}, {"語", 6, 9}});
  // NFKC rewrites: U+FB01 -> "fi", U+2460 -> "1", full-width letters -> ASCII, each 3 bytes.
  expect_spans(tok, "\xEF\xAC\x81", {{"▁fi", 0, 3}});
  expect_spans(tok, "\xE2\x91\xA0", {{"▁1", 0, 3}});
  expect_spans(tok, "ＡＢＣ", {{"▁A", 0, 3}, {"B", 3, 6}, {"C", 6, 9}});
  // A piece that ends inside a rewrite's output ends where the rewritten character begins.
  expect_spans(tok, "a\xEF\xAC\x81", {{"▁af", 0, 1}, {"i", 1, 4}});
  // A run of unknown characters is one <unk> spanning them all (U+E000: 3 bytes, U+2A6B2: 4).
  expect_spans(tok, "a\xEE\x80\x80\xF0\xAA\x9A\xB2" "b", {{"▁a", 0, 1}, {"<unk>", 1, 8}, {"b", 8, 9}});
  // An invalid byte is read as U+FFFD (unknown to this model), which spans that one byte.
  expect_spans(tok, "a\xFF" "b", {{"▁a", 0, 1}, {"<unk>", 1, 2}, {"b", 2, 3}});
  expect_spans(tok, "", {});
  expect_spans(tok, "   ", {});
}

// Identity normalizer that keeps every space, dummy prefix, byte fallback.
TEST(SpmOffsets, BpeByteFallbackSpansDerivedByHand) {
  const auto tok = SentencePieceTokenizer::load(kDir + "/bpe_bytefallback.model");
  expect_spans(tok, "hello world", {{"▁h", 0, 1}, {"ell", 1, 4}, {"o", 4, 5}, {"▁w", 5, 7}, {"or", 7, 9}, {"ld", 9, 11}});
  // Every space is kept: the dummy prefix is empty at 0, the first space spans [0, 1).
  expect_spans(tok, "  a", {{"▁", 0, 0}, {"▁", 0, 1}, {"▁a", 1, 3}});
  expect_spans(tok, "a  b ", {{"▁a", 0, 1}, {"▁", 1, 2}, {"▁b", 2, 4}, {"▁", 4, 5}});
  expect_spans(tok, "a\xC3\xA9", {{"▁a", 0, 1}, {"é", 1, 3}});
  // Byte fallback: the last byte piece of a character spans it, the others are empty at its start.
  expect_spans(tok, "a\tb", {{"▁a", 0, 1}, {"<0x09>", 1, 2}, {"b", 2, 3}});
  expect_spans(tok, "\xF0\x9F\x98\x80",
               {{"▁", 0, 0}, {"<0xF0>", 0, 0}, {"<0x9F>", 0, 0}, {"<0x98>", 0, 0}, {"<0x80>", 0, 4}});
  expect_spans(tok, "\xEE\x80\x80\xF0\xAA\x9A\xB2",
               {{"▁", 0, 0},
                {"<0xEE>", 0, 0},
                {"<0x80>", 0, 0},
                {"<0x80>", 0, 3},
                {"<0xF0>", 3, 3},
                {"<0xAA>", 3, 3},
                {"<0x9A>", 3, 3},
                {"<0xB2>", 3, 7}});
  expect_spans(tok, "", {});
}

// A Unigram model with byte fallback: sentencepiece gives each unknown character its own
// <unk> before splitting it into bytes, so a run of two unknown characters yields two byte
// groups, each with its last byte spanning its own character.
TEST(SpmOffsets, UnigramByteFallbackSplitsUnknownRunsPerCharacter) {
  const std::string ws = "\xE2\x96\x81";
  SpmModelProto proto;
  proto.pieces = {{"<unk>", 0.0f, SpmPieceType::kUnknown},
                  {ws, -1.0f},
                  {"a", -1.0f},
                  {"b", -1.0f},
                  {ws + "a", -0.5f}};
  for (int b = 0; b < 256; ++b) proto.pieces.push_back({fmt::format("<0x{:02X}>", b), 0.0f, SpmPieceType::kByte});
  proto.trainer_spec.model_type = xling::tokenize::SpmModelType::kUnigram;
  proto.trainer_spec.byte_fallback = true;
  proto.normalizer_spec.name = "identity";
  const auto tok = SentencePieceTokenizer::from_proto(proto, "unigram_byte_fallback.model");
  expect_spans(tok, "a\xC3\xA9\xE4\xB8\xAD" "b",  // "aé中b"
               {{ws + "a", 0, 1},
                {"<0xC3>", 1, 1},
                {"<0xA9>", 1, 3},
                {"<0xE4>", 3, 3},
                {"<0xB8>", 3, 3},
                {"<0xAD>", 3, 6},
                {"b", 6, 7}});
  // The space run maps to its first space and extends to the next kept character.
  expect_spans(tok, "b  \xC3\xA9\xC3\xA9 ",
               {{ws, 0, 0}, {"b", 0, 1}, {ws, 1, 3}, {"<0xC3>", 3, 3}, {"<0xA9>", 3, 5}, {"<0xC3>", 5, 5},
                {"<0xA9>", 5, 7}});
}

}  // namespace
