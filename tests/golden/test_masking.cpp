// Masked-language-model inputs (train/masking.hpp) against the rules of transformers'
// DataCollatorForLanguageModeling: what may be chosen, the chosen fraction and the 80/10/10
// split, labels, seeds, whole-word masking on the fixture tokenizers, and the tokenizer settings
// (mask id, len(tokenizer), special ids) compared with tests/data/word_alignment_expected.json
// (made by tools/fixtures/word_alignment_expected.py with the real HF stack).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/json.hpp"
#include "tokenize/tokenizer.hpp"
#include "train/masking.hpp"
#include "../unit/test_util.hpp"
#include "word_alignment_expected.hpp"
#include "xling/errors.hpp"

namespace fs = std::filesystem;
using namespace xling;

namespace {

const fs::path kTokenizers = fs::path(XLING_FIXTURES) / "tokenizers";

torch::Generator generator(uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

// Texts of the fixture languages, with words that split into several pieces.
const std::vector<std::string> kTexts = {
    "Die Bundesregierung veröffentlichte gestern einen ausführlichen Bericht.",
    "Supercalifragilisticexpialidocious words are unbelievably long, aren't they?",
    "Владимир посетил Москву и Санкт-Петербург.",
    "北京是中华人民共和国的首都。",
    "La mañana siguiente, los investigadores publicaron sus conclusiones.",
    "ok",
};

struct Padded {
  torch::Tensor ids, mask;  // (B, T)
};

// Encodes `texts` with special tokens and pads them on the right with `pad_id`.
Padded pad_batch(const tokenize::Tokenizer& tok, const std::vector<std::string>& texts, int64_t pad_id) {
  std::vector<tokenize::Encoding> encs;
  std::size_t longest = 0;
  for (const auto& t : texts) {
    encs.push_back(tok.encode(t, /*add_special=*/true));
    longest = std::max(longest, encs.back().size());
  }
  const auto b = static_cast<int64_t>(texts.size()), n = static_cast<int64_t>(longest);
  Padded p{torch::full({b, n}, pad_id, torch::kLong), torch::zeros({b, n}, torch::kLong)};
  for (int64_t i = 0; i < b; ++i) {
    const auto& e = encs[static_cast<std::size_t>(i)];
    for (std::size_t k = 0; k < e.size(); ++k) {
      p.ids[i][static_cast<int64_t>(k)] = e.ids[k];
      p.mask[i][static_cast<int64_t>(k)] = 1;
    }
  }
  return p;
}

// Checks what holds for every masking: labels are the original id exactly where chosen and
// -100 elsewhere; tokens not chosen are unchanged; specials and padding are never chosen.
void expect_consistent(const Padded& in, const train::MlmBatch& out, const train::MlmOptions& o) {
  ASSERT_EQ(out.input_ids.sizes(), in.ids.sizes());
  ASSERT_EQ(out.labels.sizes(), in.ids.sizes());
  auto chosen = out.labels.ne(-100);
  EXPECT_TRUE(torch::equal(out.labels.masked_select(chosen), in.ids.masked_select(chosen)));
  EXPECT_TRUE(torch::equal(out.input_ids.masked_select(~chosen), in.ids.masked_select(~chosen)));
  auto special = torch::isin(in.ids, torch::tensor(o.special_ids, torch::kLong)) | in.mask.eq(0);
  EXPECT_EQ((chosen & special).sum().item<int64_t>(), 0);
}

// A large synthetic batch: ids in [4, vocab) with random lengths, specials 0..3 at the ends.
Padded synthetic_batch(int64_t b, int64_t t, int64_t vocab) {
  auto gen = generator(1234);
  Padded p{torch::randint(4, vocab, {b, t}, gen, torch::kLong), torch::ones({b, t}, torch::kLong)};
  auto lengths = torch::randint(t / 4, t + 1, {b}, gen, torch::kLong);
  for (int64_t i = 0; i < b; ++i) {
    const int64_t len = lengths[i].item<int64_t>();
    p.ids[i][0] = 0;
    p.ids[i][len - 1] = 2;
    p.ids[i].slice(0, len).fill_(1);
    p.mask[i].slice(0, len).fill_(0);
  }
  return p;
}

train::MlmOptions synthetic_options(int64_t vocab) {
  train::MlmOptions o;
  o.mask_token_id = vocab - 1;
  o.vocab_size = vocab;
  o.special_ids = {0, 1, 2, 3};
  return o;
}

struct Split {
  double chosen, masked, random, kept;  // chosen: of the valid tokens; the rest: of the chosen
};

Split split_of(const Padded& in, const train::MlmBatch& out, const train::MlmOptions& o) {
  auto valid = in.mask.ne(0) & ~torch::isin(in.ids, torch::tensor(o.special_ids, torch::kLong));
  auto chosen = out.labels.ne(-100);
  const double n = static_cast<double>(chosen.sum().item<int64_t>());
  auto masked = chosen & out.input_ids.eq(o.mask_token_id);
  auto kept = chosen & out.input_ids.eq(in.ids);
  auto random = chosen & ~masked & ~kept;
  return {n / static_cast<double>(valid.sum().item<int64_t>()), masked.sum().item<int64_t>() / n,
          random.sum().item<int64_t>() / n, kept.sum().item<int64_t>() / n};
}

}  // namespace

// On real tokenized text (XLM-R, BERT): specials and padding are never chosen, labels are -100
// exactly where not chosen, and chosen tokens carry the original id as label.
TEST(MlmMasking, SpecialsAndPaddingNeverChosen) {
  for (const char* name : {"xlm_roberta", "bert_wordpiece_cased"}) {
    SCOPED_TRACE(name);
    auto tok = tokenize::Tokenizer::from_file((kTokenizers / name).string());
    auto o = train::mlm_options(tok);
    o.mlm_probability = 0.9;  // nearly everything that may be chosen is
    auto in = pad_batch(tok, kTexts, tok.default_padding().pad_id);
    ASSERT_GT(in.mask.eq(0).sum().item<int64_t>(), 0) << "the batch has padding";
    int64_t chosen = 0;
    for (uint64_t seed = 0; seed < 20; ++seed) {
      auto gen = generator(seed);
      auto out = train::mask_tokens({in.ids, in.mask, {}}, o, gen);
      expect_consistent(in, out, o);
      chosen += out.labels.ne(-100).sum().item<int64_t>();
    }
    EXPECT_GT(chosen, 0);
  }
}

// The chosen fraction is mlm_probability and the chosen split 80/10/10 (HF's two-stage draws:
// 0.8, then 0.1 / 0.2 = 0.5 of the rest), and also 50/40/10 for other replacement probabilities.
TEST(MlmMasking, ChosenFractionAndReplacementSplit) {
  const int64_t vocab = 5000;
  auto in = synthetic_batch(96, 256, vocab);  // ~16k valid tokens: ~2.4k chosen
  auto o = synthetic_options(vocab);
  auto gen = generator(7);
  auto out = train::mask_tokens({in.ids, in.mask, {}}, o, gen);
  expect_consistent(in, out, o);
  auto s = split_of(in, out, o);
  EXPECT_NEAR(s.chosen, 0.15, 0.01);
  EXPECT_NEAR(s.masked, 0.8, 0.03);
  EXPECT_NEAR(s.random, 0.1, 0.02);
  EXPECT_NEAR(s.kept, 0.1, 0.02);

  o.mlm_probability = 0.4;
  o.mask_replace_prob = 0.5;
  o.random_replace_prob = 0.4;
  out = train::mask_tokens({in.ids, in.mask, {}}, o, gen);
  expect_consistent(in, out, o);
  s = split_of(in, out, o);
  EXPECT_NEAR(s.chosen, 0.4, 0.015);
  EXPECT_NEAR(s.masked, 0.5, 0.03);
  EXPECT_NEAR(s.random, 0.4, 0.03);
  EXPECT_NEAR(s.kept, 0.1, 0.02);
  // Random ids stay inside the vocabulary.
  EXPECT_TRUE(out.input_ids.ge(0).all().item<bool>());
  EXPECT_TRUE(out.input_ids.lt(vocab).all().item<bool>());

  o.mask_replace_prob = 1.0;  // everything chosen becomes the mask token
  o.random_replace_prob = 0.0;
  out = train::mask_tokens({in.ids, in.mask, {}}, o, gen);
  s = split_of(in, out, o);
  EXPECT_EQ(s.masked, 1.0);
}

TEST(MlmMasking, SameSeedSameMasks) {
  const int64_t vocab = 5000;
  auto in = synthetic_batch(8, 64, vocab);
  auto o = synthetic_options(vocab);
  auto run = [&](uint64_t seed) {
    auto gen = generator(seed);
    return train::mask_tokens({in.ids, in.mask, {}}, o, gen);
  };
  auto a = run(42), b = run(42), c = run(43);
  EXPECT_TRUE(torch::equal(a.input_ids, b.input_ids));
  EXPECT_TRUE(torch::equal(a.labels, b.labels));
  EXPECT_FALSE(torch::equal(a.labels, c.labels));
  // The generator moves on: two calls with one generator differ.
  auto gen = generator(42);
  auto first = train::mask_tokens({in.ids, in.mask, {}}, o, gen);
  auto second = train::mask_tokens({in.ids, in.mask, {}}, o, gen);
  EXPECT_TRUE(torch::equal(first.labels, a.labels));
  EXPECT_FALSE(torch::equal(first.labels, second.labels));
}

// word_starts() on the ids of HF's tokenizer(words, is_split_into_words=True): the first token of
// every word HF reports starts a word (each word's pieces are its own there). Inside a word, only a
// word with a space ("New York"), a token after an unknown-token piece (special, so never chosen
// and a word boundary) and, for BERT, punctuation and CJK characters start words. Byte-level words
// are encoded without their leading space by HF, so that tokenizer is not part of this check.
TEST(MlmMasking, WordStartsAgreeWithHfWordIds) {
  for (const char* name : {"xlm_roberta", "mt5", "bert_wordpiece_cased", "bert_wordpiece_uncased", "llama_spm_bpe"}) {
    SCOPED_TRACE(name);
    auto tok = tokenize::Tokenizer::from_file((kTokenizers / name).string());
    const auto special = tok.special_ids();
    auto is_special = [&](int64_t id) { return std::binary_search(special.begin(), special.end(), id); };
    const bool bert = std::string(name).rfind("bert", 0) == 0;
    int64_t checked = 0, inside = 0;
    for (const auto& c : xling::testing::word_alignment_expected()["tokenizers"][name]["cases"]) {
      auto ids = c["input_ids"].get<std::vector<int64_t>>();
      auto word_ids = c["word_ids"].get<std::vector<int>>();
      auto words = c["words"].get<std::vector<std::string>>();
      auto starts = train::word_starts(torch::tensor(ids).unsqueeze(0), tok)[0];
      for (std::size_t k = 0; k < ids.size(); ++k) {
        const bool start = starts[static_cast<int64_t>(k)].item<bool>();
        const int w = word_ids[k];
        if (w < 0 || is_special(ids[k])) {
          EXPECT_FALSE(start) << k;
        } else if (k == 0 || word_ids[k - 1] != w) {
          EXPECT_TRUE(start) << "token " << k << " starts word " << words[static_cast<std::size_t>(w)];
          ++checked;
        } else if (start) {
          const std::string& word = words[static_cast<std::size_t>(w)];
          EXPECT_TRUE(word.find(' ') != std::string::npos || is_special(ids[k - 1]) || bert)
              << "token " << k << " inside word " << word;
        } else {
          ++inside;
        }
      }
    }
    EXPECT_GT(checked, 20);
    EXPECT_GT(inside, 10);
  }
}

// Whole-word masking on real text: a word (its start token and the continuation tokens after it)
// is chosen whole or not at all, every chosen token becomes the mask token, and words are chosen
// at mlm_probability; multi-piece words do get chosen.
TEST(MlmMasking, WholeWordMaskingMasksWholeWords) {
  for (const char* name : {"xlm_roberta", "bert_wordpiece_cased"}) {
    SCOPED_TRACE(name);
    auto tok = tokenize::Tokenizer::from_file((kTokenizers / name).string());
    auto o = train::mlm_options(tok);
    o.whole_word_mask = true;
    auto in = pad_batch(tok, kTexts, tok.default_padding().pad_id);
    auto starts = train::word_starts(in.ids, tok);
    ASSERT_EQ(starts.sizes(), in.ids.sizes());
    auto valid = in.mask.ne(0) & ~torch::isin(in.ids, torch::tensor(o.special_ids, torch::kLong));
    // Word spans, independently of the masking code: [begin, end) per row.
    std::vector<std::vector<std::pair<int64_t, int64_t>>> spans(static_cast<std::size_t>(in.ids.size(0)));
    int64_t multi_piece = 0;
    for (int64_t b = 0; b < in.ids.size(0); ++b) {
      for (int64_t t = 0; t < in.ids.size(1); ++t) {
        if (!valid[b][t].item<bool>()) continue;
        if (starts[b][t].item<bool>() || spans[b].empty() || spans[b].back().second != t) spans[b].push_back({t, t});
        spans[b].back().second = t + 1;
      }
      for (auto [s, e] : spans[b]) multi_piece += e - s > 1;
    }
    ASSERT_GT(multi_piece, 5);
    int64_t words = 0, chosen_words = 0, chosen_multi = 0;
    for (uint64_t seed = 0; seed < 200; ++seed) {
      auto gen = generator(seed);
      auto out = train::mask_tokens({in.ids, in.mask, starts}, o, gen);
      expect_consistent(in, out, o);
      auto chosen = out.labels.ne(-100);
      EXPECT_TRUE(out.input_ids.masked_select(chosen).eq(o.mask_token_id).all().item<bool>());
      for (int64_t b = 0; b < in.ids.size(0); ++b) {
        for (auto [s, e] : spans[b]) {
          const int64_t n = chosen[b].slice(0, s, e).sum().item<int64_t>();
          ASSERT_TRUE(n == 0 || n == e - s) << "row " << b << " word [" << s << ", " << e << ") partly chosen";
          ++words;
          chosen_words += n > 0;
          chosen_multi += n > 0 && e - s > 1;
        }
      }
    }
    EXPECT_NEAR(static_cast<double>(chosen_words) / static_cast<double>(words), 0.15, 0.02);
    EXPECT_GT(chosen_multi, 0);
  }
}

// mlm_options(tokenizer) gives HF's mask token id and len(tokenizer); its special ids are HF's
// all_special_ids where the tokenizer has a mask token (a superset elsewhere: tokenizer.json's
// special added tokens). Tokenizers without a mask token cannot make MLM inputs.
TEST(MlmMasking, OptionsFromTokenizerMatchHf) {
  for (const auto& [name, want] : xling::testing::word_alignment_expected()["tokenizers"].items()) {
    SCOPED_TRACE(name);
    auto tok = tokenize::Tokenizer::from_file((kTokenizers / name).string());
    const auto hf_special = want["all_special_ids"].get<std::vector<int64_t>>();
    if (want["mask_token_id"].get<int64_t>() < 0) {
      EXPECT_NE(xling::testing::invalid_argument_message([&] { train::mlm_options(tok); }).find("no mask token"),
                std::string::npos);
      EXPECT_FALSE(tok.mask_id().has_value());
      for (int64_t id : hf_special) {
        auto ours = tok.special_ids();
        EXPECT_NE(std::find(ours.begin(), ours.end(), id), ours.end()) << id;
      }
      continue;
    }
    auto o = train::mlm_options(tok);
    EXPECT_EQ(o.mask_token_id, want["mask_token_id"].get<int64_t>());
    EXPECT_EQ(o.vocab_size, want["len"].get<int64_t>());
    EXPECT_EQ(o.special_ids, hf_special);
  }
}

TEST(MlmMasking, BadOptionsAreInvalidArguments) {
  const int64_t vocab = 100;
  auto in = synthetic_batch(2, 16, vocab);
  auto gen = generator(0);
  auto message = [&](const train::MlmOptions& o, train::MlmInputs inputs) {
    return xling::testing::invalid_argument_message([&] { train::mask_tokens(inputs, o, gen); });
  };
  const train::MlmInputs good{in.ids, in.mask, {}};
  for (double p : {0.0, 1.0, -0.1, 1.5, std::numeric_limits<double>::quiet_NaN()}) {
    auto o = synthetic_options(vocab);
    o.mlm_probability = p;
    EXPECT_NE(message(o, good).find("mlm_probability"), std::string::npos) << p;
  }
  auto o = synthetic_options(vocab);
  o.mask_replace_prob = 0.7;
  o.random_replace_prob = 0.4;
  EXPECT_NE(message(o, good).find("more than 1"), std::string::npos);
  o = synthetic_options(vocab);
  o.random_replace_prob = -0.1;
  EXPECT_NE(message(o, good).find("random_replace_prob"), std::string::npos);
  o = synthetic_options(vocab);
  o.mask_token_id = -1;
  EXPECT_NE(message(o, good).find("mask_token_id"), std::string::npos);
  o = synthetic_options(vocab);
  o.vocab_size = 0;
  EXPECT_NE(message(o, good).find("vocab_size"), std::string::npos);
  o = synthetic_options(vocab);
  EXPECT_NE(message(o, {in.ids, in.mask.slice(1, 0, 8), {}}).find("attention_mask"), std::string::npos);
  EXPECT_NE(message(o, {in.ids.to(torch::kInt), in.mask, {}}).find("int64"), std::string::npos);
  o.whole_word_mask = true;
  EXPECT_NE(message(o, good).find("word_starts"), std::string::npos);
  // Whole words never draw random ids: no vocabulary size needed.
  o.vocab_size = 0;
  EXPECT_NO_THROW(train::mask_tokens({in.ids, in.mask, torch::ones_like(in.ids, torch::kBool)}, o, gen));
}
