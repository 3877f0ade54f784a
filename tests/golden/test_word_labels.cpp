// Token classification rows given as words ({"tokens": [...], "ner_tags": [...]}): token ids,
// word ids and aligned labels compared with the real HF stack (tokenizer(words,
// is_split_into_words=True) and run_ner.py's alignment), as stored in
// tests/data/word_alignment_expected.json by tools/fixtures/word_alignment_expected.py; plus the
// field spellings and the errors naming file and line.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/json.hpp"
#include "tokenize/tokenizer.hpp"
#include "train/data.hpp"
#include "../unit/test_util.hpp"
#include "word_alignment_expected.hpp"
#include "xling/errors.hpp"

namespace fs = std::filesystem;
using namespace xling;

namespace {

const fs::path kTokenizers = fs::path(XLING_FIXTURES) / "tokenizers";

void write_lines(const std::string& path, const std::vector<nlohmann::json>& rows) {
  std::ofstream out(path, std::ios::binary);
  for (const auto& r : rows) out << r.dump() << "\n";
}

std::string read_error(const std::string& path, const tokenize::Tokenizer& tok, const train::LabelSet& labels) {
  train::ReadOptions ro;
  ro.task = train::Task::kTokenCls;
  return xling::testing::invalid_argument_message([&] { train::read_examples(path, &tok, labels, ro); });
}

}  // namespace

// Every fixture tokenizer (Unigram XLM-R/mT5, WordPiece cased/uncased, Metaspace BPE, byte-level
// BPE) on multilingual word lists (Chinese and Thai words, punctuation words, an empty word, a word
// with a space, a 34-letter word), plus one row truncated to 9 tokens: ids, word ids and labels
// with and without label_all_tokens equal HF's.
TEST(WordLabels, MatchHfTokenizerAndRunNerAlignment) {
  xling::testing::ScratchDir tmp;
  const auto& want = xling::testing::word_alignment_expected();
  const auto names = want["label_names"].get<std::vector<std::string>>();
  ASSERT_GE(want["tokenizers"].size(), 6u);
  for (const auto& [name, t] : want["tokenizers"].items()) {
    SCOPED_TRACE(name);
    auto tok = tokenize::Tokenizer::from_file((kTokenizers / name).string());
    std::size_t n = 0;
    for (const auto& c : t["cases"]) {
      SCOPED_TRACE(c["words"].dump());
      const auto words = c["words"].get<std::vector<std::string>>();
      const auto max_length = c["max_length"].get<std::size_t>();
      // The tokenizer alone: HF's word_ids().
      const tokenize::TruncationOptions trunc{max_length, tokenize::Side::kRight};
      auto enc = tok.encode_words(words, /*add_special=*/true, trunc);
      EXPECT_EQ(std::vector<int64_t>(enc.encoding.ids.begin(), enc.encoding.ids.end()),
                c["input_ids"].get<std::vector<int64_t>>());
      EXPECT_EQ(enc.word_ids, c["word_ids"].get<std::vector<int>>());
      // Through the training reader.
      const std::string path = tmp.file(name + std::to_string(n++) + ".jsonl");
      write_lines(path, {{{"tokens", c["words"]}, {"ner_tags", c["tags"]}}});
      auto labels = train::scan_labels(path, train::Task::kTokenCls, {});
      EXPECT_EQ(labels.kind, train::LabelKind::kSingle);
      labels.names = names;  // the label names of all rows, as HF's get_label_list gives them
      std::size_t truncated = 0;
      train::ReadOptions ro;
      ro.task = train::Task::kTokenCls;
      ro.max_length = max_length > 0 ? max_length : 512;
      ro.truncated = &truncated;
      auto ex = train::read_examples(path, &tok, labels, ro);
      ASSERT_EQ(ex.size(), 1u);
      EXPECT_EQ(ex[0].input_ids, c["input_ids"].get<std::vector<int64_t>>());
      EXPECT_EQ(ex[0].labels, c["labels"].get<std::vector<int64_t>>());
      EXPECT_EQ(ex[0].token_type_ids.size(), ex[0].input_ids.size());
      EXPECT_EQ(ex[0].line, 1u);
      EXPECT_EQ(truncated, max_length > 0 ? 1u : 0u);
      ro.label_all_tokens = true;
      ex = train::read_examples(path, &tok, labels, ro);
      EXPECT_EQ(ex[0].labels, c["labels_all_tokens"].get<std::vector<int64_t>>());
    }
  }
}

// scan_labels collects the names of word rows (sorted); "words"/"tags"/"labels" are accepted
// spellings; integer labels read as the same ids; label_all_tokens turns B-X into I-X only when
// the labels have I-X.
TEST(WordLabels, FieldSpellingsAndIntegerLabels) {
  xling::testing::ScratchDir tmp;
  auto tok = tokenize::Tokenizer::from_file((kTokenizers / "xlm_roberta").string());
  write_lines(tmp.file("names.jsonl"), {{{"tokens", {"Angela", "Merkel", "besuchte", "Zürich"}},
                                         {"ner_tags", {"B-PER", "I-PER", "O", "B-LOC"}}},
                                        {{"words", {"Supercalifragilisticexpialidocious"}}, {"tags", {"B-PER"}}}});
  auto labels = train::scan_labels(tmp.file("names.jsonl"), train::Task::kTokenCls, {});
  EXPECT_EQ(labels.names, (std::vector<std::string>{"B-LOC", "B-PER", "I-PER", "O"}));
  // The same rows with integer labels (ids of the sorted names) and the other spellings.
  write_lines(tmp.file("ints.jsonl"),
              {{{"words", {"Angela", "Merkel", "besuchte", "Zürich"}}, {"labels", {1, 2, 3, 0}}},
               {{"tokens", {"Supercalifragilisticexpialidocious"}}, {"ner_tags", {1}}}});
  train::ReadOptions ro;
  ro.task = train::Task::kTokenCls;
  auto a = train::read_examples(tmp.file("names.jsonl"), &tok, labels, ro);
  auto b = train::read_examples(tmp.file("ints.jsonl"), &tok, labels, ro);
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].input_ids, b[i].input_ids);
    EXPECT_EQ(a[i].labels, b[i].labels);
    EXPECT_EQ(a[i].line, i + 1);
  }
  // "Supercalifragilisticexpialidocious" is many pieces: B-PER on the first, -100 on the others,
  // I-PER on the others with label_all_tokens; "Zürich" (B-LOC, no I-LOC) keeps B-LOC.
  const auto& row = a[1].labels;
  ASSERT_GT(row.size(), 4u);
  EXPECT_EQ(row.front(), -100);
  EXPECT_EQ(row[1], 1);
  for (std::size_t k = 2; k < row.size(); ++k) EXPECT_EQ(row[k], -100) << k;
  ro.label_all_tokens = true;
  auto all = train::read_examples(tmp.file("names.jsonl"), &tok, labels, ro);
  for (std::size_t k = 2; k + 1 < all[1].labels.size(); ++k) EXPECT_EQ(all[1].labels[k], 2) << k;
  EXPECT_EQ(all[1].labels.back(), -100);
  int64_t loc = 0;
  for (auto v : all[0].labels) loc += v == 0;
  EXPECT_GE(loc, 2) << "Zürich's pieces all keep B-LOC";
}

TEST(WordLabels, ErrorsNameFileAndLine) {
  xling::testing::ScratchDir tmp;
  auto tok = tokenize::Tokenizer::from_file((kTokenizers / "bert_wordpiece_cased").string());
  train::LabelSet labels;
  labels.names = {"B-PER", "O"};
  const nlohmann::json ok = {{"tokens", {"a"}}, {"ner_tags", {"O"}}};
  auto file = [&](const std::string& name, const nlohmann::json& bad) {
    write_lines(tmp.file(name), {ok, bad});
    return tmp.file(name);
  };
  EXPECT_NE(read_error(file("len.jsonl", {{"tokens", {"a", "b", "c"}}, {"ner_tags", {"O", "O"}}}), tok, labels)
                .find("len.jsonl:2: 3 words but 2 labels"),
            std::string::npos);
  EXPECT_NE(read_error(file("word.jsonl", {{"tokens", {"a", 5}}, {"ner_tags", {"O", "O"}}}), tok, labels)
                .find("word.jsonl:2: word 1 of 'tokens' is 5, not a string"),
            std::string::npos);
  EXPECT_NE(read_error(file("name.jsonl", {{"words", {"a"}}, {"tags", {"B-LOC"}}}), tok, labels)
                .find("name.jsonl:2: unknown label 'B-LOC'"),
            std::string::npos);
  EXPECT_NE(read_error(file("int.jsonl", {{"words", {"a"}}, {"tags", {7}}}), tok, labels)
                .find("int.jsonl:2: label 7 is not one of the 2 labels"),
            std::string::npos);
  EXPECT_NE(read_error(file("nolabels.jsonl", {{"words", {"a"}}}), tok, labels)
                .find("nolabels.jsonl:2: a row of words needs"),
            std::string::npos);
  EXPECT_NE(read_error(file("notlist.jsonl", {{"tokens", "a b"}, {"ner_tags", {"O"}}}), tok, labels)
                .find("notlist.jsonl:2: 'tokens' must be a list of words"),
            std::string::npos);
  EXPECT_NE(read_error(file("text.jsonl", {{"text", "a b"}, {"ner_tags", {"O"}}}), tok, labels)
                .find("text.jsonl:2: token-cls rows need words"),
            std::string::npos);
  // scan_labels reports mixed names and integers in word rows too.
  write_lines(tmp.file("mixed.jsonl"), {ok, {{"tokens", {"b"}}, {"ner_tags", {1}}}});
  EXPECT_NE(xling::testing::invalid_argument_message(
                [&] { train::scan_labels(tmp.file("mixed.jsonl"), train::Task::kTokenCls, {}); })
                .find("mix names and integers"),
            std::string::npos);
}
