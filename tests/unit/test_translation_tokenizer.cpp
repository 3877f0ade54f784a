// TranslationTokenizer against transformers 5.17: every directory under
// tests/data/translation_tokenizers (written by tools/parity/make_translation_tokenizers.py:
// NLLB, M2M-100, mBART-50/cc25, Marian, T5) with its golden.json of source ids, forced BOS
// ids, label ids (tokenizer(text_target=...), with and without truncation) and decoded texts
// for multilingual random texts and random language pairs. The parity
// harness points XLING_TRANSLATION_TOKENIZERS_DIR at freshly generated directories.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <filesystem>
#include <string>
#include <vector>

#include "core/json.hpp"
#include "tokenize/translation_tokenizer.hpp"
#include "xling/errors.hpp"

namespace fs = std::filesystem;
using xling::tokenize::SourceOptions;
using xling::tokenize::TranslationFamily;
using xling::tokenize::TranslationTokenizer;

namespace {

std::string data_root() {
  if (const char* env = std::getenv("XLING_TRANSLATION_TOKENIZERS_DIR"); env && *env) return env;
  return XLING_TRANSLATION_TOKENIZERS;
}

std::vector<fs::path> tokenizer_dirs() {
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(data_root())) {
    if (e.is_directory() && fs::exists(e.path() / "golden.json")) dirs.push_back(e.path());
  }
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

std::string show(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c < 0x20) {
      out += "\\x" + std::to_string(c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace

TEST(TranslationTokenizer, AllFamiliesPresent) {
  auto dirs = tokenizer_dirs();
  ASSERT_GE(dirs.size(), 8u) << data_root();
  std::set<std::string> families;
  for (const auto& d : dirs) families.insert(xling::core::read_json_file((d / "golden.json").string())["family"]);
  EXPECT_EQ(families, (std::set<std::string>{"nllb", "m2m100", "mbart50", "mbart", "marian", "t5"}));
}

TEST(TranslationTokenizer, MatchesTransformersGolden) {
  for (const auto& dir : tokenizer_dirs()) {
    SCOPED_TRACE(dir.string());
    auto g = xling::core::read_json_file((dir / "golden.json").string());
    TranslationTokenizer tok = TranslationTokenizer::load(dir.string());
    // Languages: same codes, same ids.
    std::vector<std::string> langs = g["languages"];
    EXPECT_EQ(tok.languages(), langs);
    for (const auto& [code, id] : g["lang_ids"].items()) EXPECT_EQ(tok.language_token_id(code), id.get<int64_t>()) << code;
    const std::string family = g["family"];
    int encode_failures = 0, target_failures = 0, decode_failures = 0;
    for (const auto& c : g["encode"]) {
      const std::string text = c["text"], src = c["src"], tgt = c["tgt"];
      SourceOptions opt;
      opt.max_length = c["max_length"].get<std::size_t>();
      std::vector<int64_t> want = c["ids"];
      auto got = tok.encode_source(text, src, tgt, opt);
      if (got != want && ++encode_failures <= 5) {
        ADD_FAILURE() << "encode '" << show(text) << "' " << src << "->" << tgt << " max_length " << opt.max_length
                      << "\n got: " << testing::PrintToString(got) << "\nwant: " << testing::PrintToString(want);
      }
      // Labels: tokenizer(text_target=text) with tgt_lang = tgt, then with truncation.
      ASSERT_TRUE(c.contains("target_ids")) << "golden.json without target_ids: regenerate it";
      std::vector<int64_t> want_target = c["target_ids"];
      auto got_target = tok.encode_target(text, tgt);
      if (got_target != want_target && ++target_failures <= 5) {
        ADD_FAILURE() << "encode_target '" << show(text) << "' tgt " << tgt << "\n got: " << testing::PrintToString(got_target)
                      << "\nwant: " << testing::PrintToString(want_target);
      }
      if (!c["target_ids_cut"].is_null()) {
        std::vector<int64_t> want_cut = c["target_ids_cut"];
        auto got_cut = tok.encode_target(text, tgt, opt);
        if (got_cut != want_cut && ++target_failures <= 5) {
          ADD_FAILURE() << "encode_target '" << show(text) << "' tgt " << tgt << " max_length " << opt.max_length
                        << "\n got: " << testing::PrintToString(got_cut) << "\nwant: " << testing::PrintToString(want_cut);
        }
      }
      if (c["forced_bos"].is_null()) {
        EXPECT_FALSE(tok.forced_bos(tgt).has_value());
      } else {
        EXPECT_EQ(tok.forced_bos(tgt), c["forced_bos"].get<int64_t>());
      }
    }
    std::vector<std::vector<int64_t>> batch;
    std::vector<std::string> batch_want;
    for (const auto& c : g["decode"]) {
      std::vector<int64_t> ids = c["ids"];
      const std::string want = c["text"];
      auto got = tok.decode_target(ids);
      if (got != want && ++decode_failures <= 5) {
        ADD_FAILURE() << "decode " << testing::PrintToString(ids) << "\n got: '" << show(got) << "'\nwant: '" << show(want) << "'";
      }
      batch.push_back(ids);
      batch_want.push_back(want);
    }
    EXPECT_EQ(tok.decode_target_batch(batch), batch_want);
    EXPECT_EQ(encode_failures, 0);
    EXPECT_EQ(target_failures, 0);
    EXPECT_EQ(decode_failures, 0);
    EXPECT_GE(g["encode"].size(), 10u);
    EXPECT_GE(g["decode"].size(), 10u);
  }
}

TEST(TranslationTokenizer, UnknownLanguageListsValidCodes) {
  for (const auto& dir : tokenizer_dirs()) {
    TranslationTokenizer tok = TranslationTokenizer::load(dir.string());
    if (tok.languages().empty()) {
      EXPECT_THROW(tok.language_token_id("fr"), xling::InvalidArgument);
      continue;
    }
    try {
      tok.language_token_id("xx_NOPE");
      ADD_FAILURE() << dir << ": no error";
    } catch (const xling::InvalidArgument& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find("xx_NOPE"), std::string::npos) << msg;
      for (const auto& code : tok.languages()) EXPECT_NE(msg.find(code), std::string::npos) << code;
    }
    if (tok.uses_source_language()) {
      EXPECT_THROW(tok.encode_source("hi", "xx_NOPE", tok.languages()[0]), xling::InvalidArgument);
      EXPECT_THROW(tok.forced_bos("xx_NOPE"), xling::InvalidArgument);
      EXPECT_THROW(tok.encode_target("hi", ""), xling::InvalidArgument);  // the labels carry the code
    }
    try {
      tok.encode_target("hi", "xx_NOPE");
      ADD_FAILURE() << dir << ": encode_target: no error";
    } catch (const xling::InvalidArgument& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find("xx_NOPE"), std::string::npos) << msg;
      for (const auto& code : tok.languages()) EXPECT_NE(msg.find(code), std::string::npos) << code;
    }
  }
}

// The layout of the labels per family, against the source ids of the same text.
TEST(TranslationTokenizer, TargetLayout) {
  for (const auto& dir : tokenizer_dirs()) {
    SCOPED_TRACE(dir.string());
    TranslationTokenizer tok = TranslationTokenizer::load(dir.string());
    const auto& langs = tok.languages();
    const std::string text = "Guten Morgen, wie geht es dir? Доброе утро 早上好";
    const std::string src = tok.uses_source_language() ? langs.front() : "";
    const std::string tgt = langs.empty() ? "" : langs.back();
    auto source = tok.encode_source(text, src, tgt);
    auto target = tok.encode_target(text, tgt);
    ASSERT_GE(target.size(), 3u);
    const int64_t eos = tok.eos_id();
    std::vector<int64_t> body;
    switch (tok.family()) {
      case TranslationFamily::kNllb:
        if (target.front() == tok.language_token_id(tgt)) {  // [tgt] text </s>
          EXPECT_EQ(source.front(), tok.language_token_id(src));
          EXPECT_EQ(target.back(), eos);
          EXPECT_EQ(std::vector<int64_t>(target.begin() + 1, target.end()), std::vector<int64_t>(source.begin() + 1, source.end()));
        } else {  // legacy_behaviour: text </s> [tgt]
          EXPECT_EQ(target.back(), tok.language_token_id(tgt));
          EXPECT_EQ(target[target.size() - 2], eos);
          EXPECT_EQ(std::vector<int64_t>(target.begin(), target.end() - 1), std::vector<int64_t>(source.begin(), source.end() - 1));
        }
        break;
      case TranslationFamily::kM2m100:
      case TranslationFamily::kMbart50:
        EXPECT_EQ(target.front(), tok.language_token_id(tgt));
        EXPECT_EQ(target.back(), eos);
        EXPECT_EQ(std::vector<int64_t>(target.begin() + 1, target.end()), std::vector<int64_t>(source.begin() + 1, source.end()));
        break;
      case TranslationFamily::kMbart:
        EXPECT_EQ(target.back(), tok.language_token_id(tgt));
        EXPECT_EQ(target[target.size() - 2], eos);
        EXPECT_EQ(std::vector<int64_t>(target.begin(), target.end() - 1), std::vector<int64_t>(source.begin(), source.end() - 1));
        break;
      case TranslationFamily::kT5:
        EXPECT_EQ(target, source);
        break;
      case TranslationFamily::kMarian:
        // target.spm (+ target vocabulary): no ">>tgt<<", ends with </s>; the fixtures' source and
        // target sentencepiece models differ, so the ids do too.
        EXPECT_EQ(target.back(), eos);
        if (!langs.empty()) {
          EXPECT_EQ(std::count(target.begin(), target.end(), tok.language_token_id(tgt)), 0);
        }
        EXPECT_NE(target, source);
        break;
      case TranslationFamily::kSmall100:
        EXPECT_EQ(target.back(), eos);
        break;
    }
    // Truncation keeps the special tokens; max_length below them is an error.
    SourceOptions opt;
    opt.max_length = 4;
    auto cut = tok.encode_target(text, tgt, opt);
    ASSERT_EQ(cut.size(), 4u);
    EXPECT_EQ(cut.back(), target.back());
    EXPECT_EQ(cut.front(), target.front());
    opt.max_length = 1;
    if (tok.uses_source_language()) {
      EXPECT_THROW(tok.encode_target(text, tgt, opt), xling::InvalidArgument);
    } else {
      EXPECT_EQ(tok.encode_target(text, tgt, opt), std::vector<int64_t>{eos});
    }
  }
}

TEST(TranslationTokenizer, TruncationKeepsSpecialsAndRejectsTooSmall) {
  for (const auto& dir : tokenizer_dirs()) {
    SCOPED_TRACE(dir.string());
    TranslationTokenizer tok = TranslationTokenizer::load(dir.string());
    const auto& langs = tok.languages();
    std::string src = tok.uses_source_language() ? langs.front() : "";
    std::string tgt = tok.uses_target_language() ? langs.back() : "";
    std::string text = "Ein ziemlich langer Satz, der abgeschnitten werden muss: раз два три четыре пять 一二三四五";
    auto full = tok.encode_source(text, src, tgt);
    ASSERT_GT(full.size(), 6u);
    SourceOptions opt;
    opt.max_length = 6;
    auto cut = tok.encode_source(text, src, tgt, opt);
    ASSERT_EQ(cut.size(), 6u);
    EXPECT_EQ(cut.back(), full.back());  // eos (or the legacy language code) survives
    if (tok.family() == TranslationFamily::kNllb || tok.family() == TranslationFamily::kM2m100 ||
        tok.family() == TranslationFamily::kMbart50) {
      EXPECT_EQ(cut.front(), full.front());
    }
    opt.max_length = 1;
    if (tok.uses_source_language()) {
      EXPECT_THROW(tok.encode_source(text, src, tgt, opt), xling::InvalidArgument);
    }
  }
}

TEST(TranslationTokenizer, Errors) {
  auto dirs = tokenizer_dirs();
  ASSERT_FALSE(dirs.empty());
  TranslationTokenizer tok = TranslationTokenizer::load(dirs.front().string());
  const std::string src = tok.uses_source_language() ? tok.languages().front() : "";
  EXPECT_THROW(tok.encode_source(std::string("bad \xff utf8"), src, src), xling::InvalidArgument);
  EXPECT_THROW(tok.encode_target(std::string("bad \xff utf8"), src), xling::InvalidArgument);
  EXPECT_THROW(tok.decode_target({5, -1}), xling::InvalidArgument);
  EXPECT_THROW(TranslationTokenizer::load(data_root() + "/does-not-exist"), xling::IoError);
  // A Marian directory without vocab.json names the missing file.
  fs::path tmp = fs::temp_directory_path() / "xling_tt_missing_vocab";
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  for (const auto& d : dirs) {
    if (fs::exists(d / "source.spm")) {
      for (const char* f : {"source.spm", "target.spm", "tokenizer_config.json"}) fs::copy_file(d / f, tmp / f);
      break;
    }
  }
  try {
    TranslationTokenizer::load(tmp.string());
    ADD_FAILURE() << "no error";
  } catch (const xling::IoError& e) {
    EXPECT_NE(std::string(e.what()).find("vocab.json"), std::string::npos) << e.what();
  }
  fs::remove_all(tmp);
}

// The mt5 fixture (a real mT5-style tokenizer.json): source ids are the fixture's ids.
TEST(TranslationTokenizer, Mt5FixtureIds) {
  fs::path dir = fs::path(XLING_FIXTURES) / "tokenizers" / "mt5";
  if (!fs::exists(dir / "tokenizer_config.json")) GTEST_SKIP() << "no tokenizer_config.json in " << dir;
  TranslationTokenizer tok = TranslationTokenizer::load(dir.string());
  ASSERT_EQ(tok.family(), TranslationFamily::kT5);
  std::ifstream in(dir / "golden.jsonl");
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    auto row = xling::core::parse_json(line, "golden.jsonl");
    if (!row.contains("text") || !row.contains("ids") || row.contains("text_pair")) continue;
    std::vector<int64_t> want = row["ids"];
    EXPECT_EQ(tok.encode_source(row["text"].get<std::string>(), "", ""), want) << row["text"];
    if (row.contains("decoded")) {
      EXPECT_EQ(tok.decode_target(want), row["decoded"].get<std::string>()) << row["text"];
    }
    ++n;
  }
  EXPECT_GT(n, 100);
}
