// Older tokenizer.json spellings load and tokenize like the current ones: merges as
// "a b" strings, Metaspace add_prefix_space, Precompiled with an empty charsmap; malformed
// files are clear errors naming the field.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/json.hpp"
#include "tokenize/tokenizer.hpp"
#include "xling/errors.hpp"

using namespace xling::tokenize;

namespace {

nlohmann::json load(const std::string& name) {
  return xling::core::read_json_file(std::string(XLING_FIXTURES) + "/tokenizers/" + name + "/tokenizer.json");
}

std::vector<std::string> sample_texts(const std::string& name) {
  std::vector<std::string> out;
  std::ifstream in(std::string(XLING_FIXTURES) + "/tokenizers/" + name + "/golden.jsonl");
  std::string line;
  while (std::getline(in, line) && out.size() < 200) {
    auto j = nlohmann::json::parse(line);
    if (j.contains("text")) out.push_back(j["text"]);
  }
  return out;
}

void expect_same(const nlohmann::json& a, const nlohmann::json& b, const std::string& name) {
  Tokenizer ta = Tokenizer::from_json(a, "a"), tb = Tokenizer::from_json(b, "b");
  for (const auto& t : sample_texts(name)) {
    auto ea = ta.encode(t), eb = tb.encode(t);
    ASSERT_EQ(ea.ids, eb.ids) << t;
    ASSERT_EQ(ea.offsets, eb.offsets) << t;
  }
}

}  // namespace

TEST(TokenizerSpellings, MergesAsStrings) {
  for (const char* name : {"byte_level_bpe", "llama_spm_bpe"}) {
    auto j = load(name);
    auto old = j;
    old["model"]["merges"] = nlohmann::json::array();
    for (const auto& m : j["model"]["merges"]) {
      old["model"]["merges"].push_back(m.is_array() ? nlohmann::json(m[0].get<std::string>() + " " + m[1].get<std::string>()) : m);
    }
    expect_same(j, old, name);
  }
}

TEST(TokenizerSpellings, MetaspaceAddPrefixSpace) {
  auto j = load("xlm_roberta");
  auto old = j;
  for (auto& p : old["pre_tokenizer"]["pretokenizers"]) {
    if (p["type"] == "Metaspace") {
      p.erase("prepend_scheme");
      p["add_prefix_space"] = true;
    }
  }
  old["decoder"].erase("prepend_scheme");
  old["decoder"]["add_prefix_space"] = true;
  expect_same(j, old, "xlm_roberta");
}

TEST(TokenizerSpellings, EmptyPrecompiledCharsmapIsANoOp) {
  auto j = load("xlm_roberta");
  auto a = j, b = j;
  a["normalizer"] = nullptr;
  b["normalizer"] = {{"type", "Precompiled"}, {"precompiled_charsmap", ""}};
  expect_same(a, b, "xlm_roberta");
}

TEST(TokenizerSpellings, MalformedFilesNameTheField) {
  auto j = load("bert_wordpiece_cased");
  auto bad = [&](auto mutate, const std::string& needle) {
    auto k = j;
    mutate(k);
    try {
      Tokenizer::from_json(k, "tok.json");
      ADD_FAILURE() << "accepted; expected " << needle;
    } catch (const xling::Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  bad([](auto& k) { k["model"]["unk_token"] = "[NOPE]"; }, "unk_token");
  bad([](auto& k) { k["normalizer"]["type"] = "Frobnicate"; }, "Frobnicate");
  bad([](auto& k) { k["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}}; },
      "(unclosed");
  bad([](auto& k) { k["post_processor"]["single"][0] = {{"SpecialToken", {{"id", "[NOPE]"}}}}; }, "[NOPE]");
  bad([](auto& k) { k["model"].erase("vocab"); }, "vocab");
  bad([](auto& k) { k["added_tokens"][0]["id"] = "x"; }, "'id'");
}

// Replace with a multi-char match (the " {2,}" -> "▁" of transformers' sentencepiece converter):
// as in HF, the replacement takes the alignment of the match's LAST char, so the token after a
// run of spaces starts at the run's last space (checked against tokenizers 0.23 in make parity,
// tools/parity/checks_xling_mini.py).
TEST(TokenizerSpellings, ReplaceOfARunAlignsToItsLastChar) {
  nlohmann::json j = load("xlm_roberta");
  j["normalizer"] = {{"type", "Sequence"},
                     {"normalizers", {{{"type", "Replace"}, {"pattern", {{"Regex", " {2,}"}}}, {"content", "\u2581"}}}}};
  Tokenizer t = Tokenizer::from_json(j, "replace.json");
  for (int run = 2; run <= 4; ++run) {
    const std::string text = "ab" + std::string(static_cast<std::size_t>(run), ' ') + "cd";
    auto e = t.encode(text, false);
    bool found = false;
    for (const auto& o : e.offsets) {
      EXPECT_NE(o.first, 2u) << "a token starts at the run's first space: " << text;
      if (o.first == static_cast<std::size_t>(2 + run - 1)) found = true;
    }
    EXPECT_TRUE(found) << "no token starts at the run's last space: " << text;
  }
}
