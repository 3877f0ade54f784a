// Every line of every tokenizer.json golden (made by HF transformers/tokenizers): ids,
// tokens, character offsets, ids without specials, pairs with type ids, the truncated
// and padded batch, and decode(skip_special_tokens=True).
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tokenize/tokenizer.hpp"

namespace fs = std::filesystem;
using namespace xling::tokenize;

namespace {

struct Counts {
  int lines = 0, passed = 0;
};

std::vector<std::vector<int>> offsets_json(const std::vector<Offsets>& o) {
  std::vector<std::vector<int>> out;
  for (auto [s, e] : o) out.push_back({static_cast<int>(s), static_cast<int>(e)});
  return out;
}

void check_dir(const fs::path& dir) {
  SCOPED_TRACE(dir.string());
  Tokenizer tok = Tokenizer::from_file(dir.string());
  std::ifstream in(dir / "golden.jsonl");
  std::string line;
  Counts c;
  int shown = 0;
  while (std::getline(in, line)) {
    auto g = nlohmann::json::parse(line);
    ++c.lines;
    bool ok = true;
    auto expect = [&](bool cond, const std::string& what) {
      if (!cond) {
        ok = false;
        if (shown++ < 8) ADD_FAILURE() << what << "\n  line: " << line.substr(0, 400);
      }
    };
    if (g.contains("batch_texts")) {
      auto texts = g["batch_texts"].get<std::vector<std::string>>();
      TruncationOptions trunc{g["max_length"].get<std::size_t>(), Side::kRight};
      PaddingOptions pad = tok.default_padding();
      pad.enabled = true;
      auto encs = tok.encode_batch(texts, nullptr, true, trunc, pad);
      std::vector<std::vector<int>> ids, mask;
      for (const auto& e : encs) {
        ids.push_back(e.ids);
        mask.emplace_back(e.attention_mask.begin(), e.attention_mask.end());
      }
      expect(ids == g["ids"].get<std::vector<std::vector<int>>>(), "batch ids");
      expect(mask == g["attention_mask"].get<std::vector<std::vector<int>>>(), "batch attention_mask");
    } else if (g.contains("text_pair")) {
      auto e = tok.encode_pair(g["text"].get<std::string>(), g["text_pair"].get<std::string>());
      expect(e.ids == g["ids"].get<std::vector<int>>(), fmt::format("pair ids: got {}", nlohmann::json(e.ids).dump()));
      if (g.contains("token_type_ids")) {
        expect(e.type_ids == g["token_type_ids"].get<std::vector<int>>(), "pair token_type_ids");
      }
    } else {
      std::string text = g["text"].get<std::string>();
      auto e = tok.encode(text);
      expect(e.ids == g["ids"].get<std::vector<int>>(), fmt::format("ids: got {}", nlohmann::json(e.ids).dump()));
      expect(e.tokens == g["tokens"].get<std::vector<std::string>>(),
             fmt::format("tokens: got {}", nlohmann::json(e.tokens).dump()));
      auto offs = offsets_json(to_char_offsets(text, e.offsets));
      expect(offs == g["offsets"].get<std::vector<std::vector<int>>>(),
             fmt::format("offsets: got {}", nlohmann::json(offs).dump()));
      if (g.contains("token_type_ids")) expect(e.type_ids == g["token_type_ids"].get<std::vector<int>>(), "token_type_ids");
      auto plain = tok.encode(text, /*add_special=*/false);
      expect(plain.ids == g["ids_no_special"].get<std::vector<int>>(), "ids_no_special");
      std::string decoded = tok.decode(g["ids"].get<std::vector<int>>(), /*skip_special=*/true);
      expect(decoded == g["decoded"].get<std::string>(), fmt::format("decoded: got {}", nlohmann::json(decoded).dump()));
    }
    c.passed += ok;
  }
  std::cout << fmt::format("[golden] {}: {}/{} lines pass\n", dir.filename().string(), c.passed, c.lines);
  EXPECT_EQ(c.passed, c.lines);
  EXPECT_GT(c.lines, 0);
}

}  // namespace

class TokenizerJsonGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerJsonGolden, EveryLinePasses) { check_dir(fs::path(XLING_FIXTURES) / "tokenizers" / GetParam()); }

// Every fixture folder with a tokenizer.json and a golden.jsonl.
std::vector<std::string> golden_dirs() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(fs::path(XLING_FIXTURES) / "tokenizers")) {
    if (fs::exists(e.path() / "tokenizer.json") && fs::exists(e.path() / "golden.jsonl")) {
      out.push_back(e.path().filename().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TokenizerJsonGolden, ::testing::ValuesIn(golden_dirs()),
                         [](const auto& info) { return info.param; });
