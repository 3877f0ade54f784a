// PieceTrie against std::map, and UnigramModel Viterbi on hand-made vocabularies: best
// path, tie-breaking, unknown runs, byte fallback, float32 (sentencepiece) vs float64 (HF)
// path scores, and optimality against an exhaustive search.
#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tokenize/unigram.hpp"
#include "xling/errors.hpp"

namespace {

using xling::InvalidArgument;
using xling::tokenize::PieceTrie;
using xling::tokenize::UnigramModel;
using xling::tokenize::UnigramOptions;
using xling::tokenize::UnigramToken;

struct Vocab {
  std::vector<std::string> pieces;
  std::vector<double> scores;
  std::vector<bool> matchable;
  void add(std::string piece, double score, bool can_match = true) {
    pieces.push_back(std::move(piece));
    scores.push_back(score);
    matchable.push_back(can_match);
  }
  UnigramModel model(UnigramOptions options = {}) const { return UnigramModel(pieces, scores, matchable, options); }
};

std::vector<std::string> pieces_of(const UnigramModel& m, std::string_view text) {
  std::vector<UnigramToken> tokens;
  m.encode(text, tokens);
  std::vector<std::string> out;
  for (const auto& t : tokens) out.push_back(m.piece(t.id));
  return out;
}

std::vector<std::string> surfaces_of(const UnigramModel& m, std::string_view text) {
  std::vector<UnigramToken> tokens;
  m.encode(text, tokens);
  std::vector<std::string> out;
  for (const auto& t : tokens) out.emplace_back(text.substr(t.begin, t.end - t.begin));
  return out;
}

// ------------------------------------------------------------------------------ PieceTrie

TEST(PieceTrie, AgreesWithAMapOnRandomBinaryKeys) {
  std::mt19937 rng(7);
  std::vector<std::pair<std::string, int>> owned;
  std::map<std::string, int> reference;
  for (int i = 0; i < 4000; ++i) {
    std::string key;
    const int len = 1 + static_cast<int>(rng() % 6);
    for (int k = 0; k < len; ++k) key.push_back(static_cast<char>(rng() % 2 ? "ab\xFF\x00\xC3"[rng() % 5] : rng()));
    owned.emplace_back(key, i);
    reference[key] = i;  // the last value of a repeated key wins
  }
  owned.emplace_back("", 99);  // ignored
  std::vector<std::pair<std::string_view, int>> entries(owned.begin(), owned.end());
  const PieceTrie trie(entries);
  EXPECT_EQ(trie.num_keys(), reference.size());
  for (const auto& [key, value] : reference) ASSERT_EQ(trie.find(key), value);
  EXPECT_EQ(trie.find(""), -1);

  for (int i = 0; i < 2000; ++i) {
    std::string text;
    for (int k = 0; k < 8; ++k) text.push_back(static_cast<char>(rng() % 2 ? "ab\xFF\x00\xC3"[rng() % 5] : rng()));
    std::vector<std::pair<std::size_t, int>> want, got;
    for (std::size_t n = 1; n <= text.size(); ++n) {
      auto it = reference.find(text.substr(0, n));
      if (it != reference.end()) want.emplace_back(n, it->second);
    }
    trie.for_each_prefix(text, [&](std::size_t n, int v) { got.emplace_back(n, v); });
    ASSERT_EQ(got, want);
    int value = -1;
    const std::size_t longest = trie.longest_prefix(text, &value);
    ASSERT_EQ(longest, want.empty() ? 0 : want.back().first);
    if (!want.empty()) {
      ASSERT_EQ(value, want.back().second);
    }
    if (reference.count(text) == 0) {
      ASSERT_EQ(trie.find(text), -1);
    }
  }
}

TEST(PieceTrie, IncrementalWalkMatchesFind) {
  const std::vector<std::pair<std::string_view, int>> entries = {{"ab", 1}, {"abc", 2}, {"b", 3}};
  const PieceTrie trie(entries);
  const uint32_t a = trie.walk(PieceTrie::kRoot, "a");
  ASSERT_NE(a, PieceTrie::kNoNode);
  EXPECT_EQ(trie.value_at(a), -1);  // "a" is only a prefix
  const uint32_t ab = trie.walk(a, "b");
  ASSERT_NE(ab, PieceTrie::kNoNode);
  EXPECT_EQ(trie.value_at(ab), 1);
  EXPECT_EQ(trie.value_at(trie.walk(ab, "c")), 2);
  EXPECT_EQ(trie.walk(ab, "x"), PieceTrie::kNoNode);
  EXPECT_EQ(trie.walk(PieceTrie::kRoot, "zz"), PieceTrie::kNoNode);
}

TEST(PieceTrie, EmptyTrieMatchesNothing) {
  const PieceTrie trie;
  EXPECT_EQ(trie.find("a"), -1);
  EXPECT_EQ(trie.longest_prefix("abc", nullptr), 0u);
  EXPECT_EQ(trie.num_keys(), 0u);
}

// --------------------------------------------------------------------------- UnigramModel

TEST(Unigram, BestPathAndFusedUnknowns) {
  // The example of HF tokenizers' Unigram::encode documentation.
  Vocab v;
  v.add("<unk>", 0.0);
  for (const char* p : {"a", "b", "c", "d"}) v.add(p, 0.0);
  v.add("cd", 1.0);
  v.add("ab", 2.0);
  v.add("abc", 5.0);
  v.add("abcd", 10.0);
  const auto m = v.model();
  EXPECT_EQ(surfaces_of(m, "abcdacdxx"), (std::vector<std::string>{"abcd", "a", "cd", "xx"}));
  std::vector<UnigramToken> tokens;
  m.encode("abcdacdxx", tokens);
  ASSERT_EQ(tokens.size(), 4u);
  EXPECT_EQ(tokens[3].id, 0);
  EXPECT_EQ(tokens[3].begin, 7u);
  EXPECT_EQ(tokens[3].end, 9u);
  EXPECT_EQ(pieces_of(m, "abcdacdxx").back(), "<unk>");
}

TEST(Unigram, EncodeAppendsAndEmptyTextIsNothing) {
  Vocab v;
  v.add("<unk>", 0.0);
  v.add("a", -1.0);
  const auto m = v.model();
  std::vector<UnigramToken> tokens{{42, 0, 0}};
  m.encode("", tokens);
  EXPECT_EQ(tokens.size(), 1u);
  m.encode("aa", tokens);
  ASSERT_EQ(tokens.size(), 3u);
  EXPECT_EQ(tokens[0].id, 42);
  EXPECT_EQ(tokens[2].begin, 1u);
}

TEST(Unigram, TiesKeepTheFirstCandidate) {
  // "ab" (-2) and "a" + "b" (-1 + -1) tie: the candidate found first (the piece starting
  // earlier) stays, as in both sentencepiece and HF tokenizers.
  Vocab v;
  v.add("<unk>", 0.0);
  v.add("a", -1.0);
  v.add("b", -1.0);
  v.add("ab", -2.0);
  EXPECT_EQ(surfaces_of(v.model(), "ab"), (std::vector<std::string>{"ab"}));
  UnigramOptions spm;
  spm.float32_path_scores = true;
  EXPECT_EQ(surfaces_of(v.model(spm), "ab"), (std::vector<std::string>{"ab"}));
  // A better split wins.
  v.scores[3] = -2.5;
  EXPECT_EQ(surfaces_of(v.model(), "ab"), (std::vector<std::string>{"a", "b"}));
}

TEST(Unigram, Float32PathScoresFollowSentencePiece) {
  // "a"+"a" scores exactly -2; "aa" scores -2 - 1e-12, which float32 rounds to -2: float64
  // (HF) prefers the split, float32 (sentencepiece) sees a tie and keeps "aa".
  Vocab v;
  v.add("<unk>", 0.0);
  v.add("a", -1.0);
  v.add("aa", -2.0 - 1e-12);
  EXPECT_EQ(surfaces_of(v.model(), "aa"), (std::vector<std::string>{"a", "a"}));
  UnigramOptions spm;
  spm.float32_path_scores = true;
  EXPECT_EQ(surfaces_of(v.model(spm), "aa"), (std::vector<std::string>{"aa"}));
}

TEST(Unigram, UnmatchablePiecesAreNeverProduced) {
  Vocab v;
  v.add("<unk>", 0.0, /*can_match=*/false);
  v.add("<s>", 0.0, /*can_match=*/false);
  v.add("a", -1.0);
  v.add("b", -1.0);
  v.add("ab", 100.0, /*can_match=*/false);
  const auto m = v.model();
  EXPECT_EQ(pieces_of(m, "ab"), (std::vector<std::string>{"a", "b"}));
  // Literal control text is unknown characters, fused into one unk token.
  EXPECT_EQ(pieces_of(m, "<s>"), (std::vector<std::string>{"<unk>"}));
  EXPECT_EQ(surfaces_of(m, "<s>a"), (std::vector<std::string>{"<s>", "a"}));
  EXPECT_EQ(m.id_of("ab"), 4);  // still in the vocabulary
}

TEST(Unigram, UnknownMultibyteCharacterIsOneToken) {
  Vocab v;
  v.add("<unk>", 0.0);
  v.add("a", -1.0);
  const auto m = v.model();
  std::vector<UnigramToken> tokens;
  m.encode(
      "a\xC3\xA9\xE4\xBD\xA0"
      "a",
      tokens);  // a é 你 a
  ASSERT_EQ(tokens.size(), 3u);
  EXPECT_EQ(tokens[1].id, 0);
  EXPECT_EQ(tokens[1].begin, 1u);
  EXPECT_EQ(tokens[1].end, 6u);
}

TEST(Unigram, ByteFallbackSplitsUnknownRunsIntoBytes) {
  Vocab v;
  v.add("<unk>", 0.0, false);
  v.add("a", -1.0);
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    v.add(name, 0.0, /*can_match=*/false);
  }
  UnigramOptions options;
  options.byte_fallback = true;
  const auto m = v.model(options);
  std::vector<UnigramToken> tokens;
  m.encode("a\xC3\xA9z", tokens);  // a é z
  ASSERT_EQ(tokens.size(), 4u);
  EXPECT_EQ(m.piece(tokens[1].id), "<0xC3>");
  EXPECT_EQ(m.piece(tokens[2].id), "<0xA9>");
  EXPECT_EQ(m.piece(tokens[3].id), "<0x7A>");
  for (int i = 1; i <= 3; ++i) {  // each byte piece carries the whole run's offsets
    EXPECT_EQ(tokens[i].begin, 1u);
    EXPECT_EQ(tokens[i].end, 4u);
  }

  // A run whose bytes are not all in the vocabulary stays one unk token (HF tokenizers).
  Vocab partial;
  partial.add("<unk>", 0.0, false);
  partial.add("a", -1.0);
  partial.add("<0xC3>", 0.0, false);
  const auto pm = partial.model(options);
  EXPECT_EQ(pieces_of(pm, "a\xC3\xA9"), (std::vector<std::string>{"a", "<unk>"}));
}

TEST(Unigram, MinScoreOptionSetsTheUnknownScore) {
  // "xb": the piece "xb" (-100) against unk("x") + "b". Default unk score: min(-100) - 10.
  Vocab v;
  v.add("<unk>", 0.0, false);
  v.add("b", -1.0);
  v.add("xb", -100.0);
  EXPECT_EQ(surfaces_of(v.model(), "xb"), (std::vector<std::string>{"xb"}));
  UnigramOptions options;
  options.min_score = -5.0;  // unk scores -15: the split is better
  EXPECT_EQ(surfaces_of(v.model(options), "xb"), (std::vector<std::string>{"x", "b"}));
  options.unk_penalty = 1000.0;
  EXPECT_EQ(surfaces_of(v.model(options), "xb"), (std::vector<std::string>{"xb"}));
}

TEST(Unigram, MissingUnkPieceThrowsOnlyWhenNeeded) {
  Vocab v;
  v.add("a", -1.0);
  UnigramOptions options;
  options.unk_id = -1;
  const auto m = v.model(options);
  EXPECT_EQ(pieces_of(m, "aa"), (std::vector<std::string>{"a", "a"}));
  std::vector<UnigramToken> tokens;
  EXPECT_THROW(m.encode("ab", tokens), InvalidArgument);
}

TEST(Unigram, VocabularyAccessors) {
  Vocab v;
  v.add("<unk>", 0.0);
  v.add("a", -1.0);
  v.add("a", -2.0);  // repeated: the last id wins, as in HF token_to_ids
  v.add("b", -3.0);
  const auto m = v.model();
  EXPECT_EQ(m.size(), 4u);
  EXPECT_EQ(m.id_of("a"), 2);
  EXPECT_EQ(m.id_of("b"), 3);
  EXPECT_EQ(m.id_of("c"), std::nullopt);
  EXPECT_EQ(m.id_of(""), std::nullopt);
  EXPECT_EQ(m.piece(3), "b");
  EXPECT_DOUBLE_EQ(m.score(3), -3.0);
  EXPECT_THROW(m.piece(4), InvalidArgument);
  EXPECT_THROW(m.piece(-1), InvalidArgument);
  EXPECT_EQ(pieces_of(m, "a").size(), 1u);
  std::vector<UnigramToken> tokens;
  m.encode("a", tokens);
  EXPECT_EQ(tokens[0].id, 2);
}

TEST(Unigram, ConstructorRejectsInconsistentInput) {
  EXPECT_THROW(UnigramModel({"a", "b"}, {0.0}, {true, true}, {}), InvalidArgument);
  EXPECT_THROW(UnigramModel({"a"}, {0.0}, {true, false}, {}), InvalidArgument);
  UnigramOptions options;
  options.unk_id = 5;
  EXPECT_THROW(UnigramModel({"a"}, {0.0}, {true}, options), InvalidArgument);
}

// The chosen segmentation scores as well as the best of all segmentations (exhaustive
// dynamic programming over every split), on random vocabularies and texts.
TEST(Unigram, ViterbiIsOptimalOnRandomVocabularies) {
  std::mt19937 rng(2024);
  const std::vector<std::string> alphabet = {"a", "b", "c", "\xC3\xA9", "\xE4\xBD\xA0"};
  auto random_word = [&](int max_chars) {
    std::string w;
    const int n = 1 + static_cast<int>(rng() % max_chars);
    for (int i = 0; i < n; ++i) w += alphabet[rng() % alphabet.size()];
    return w;
  };
  for (int round = 0; round < 200; ++round) {
    Vocab v;
    v.add("<unk>", 0.0, false);
    std::map<std::string, double> best_score;  // piece -> highest score among its ids
    for (int i = 0; i < 25; ++i) {
      const std::string p = random_word(4);
      if (best_score.count(p)) continue;
      const double s = -1.0 - static_cast<double>(rng() % 1000) / 100.0;
      v.add(p, s);
      best_score[p] = s;
    }
    double min_score = 0.0;
    for (double s : v.scores) min_score = std::min(min_score, s);
    const double unk = min_score - 10.0;
    const auto m = v.model();
    for (int t = 0; t < 20; ++t) {
      const std::string text = random_word(12);
      // Character boundaries.
      std::vector<std::size_t> bounds{0};
      for (std::size_t i = 1; i <= text.size(); ++i) {
        if (i == text.size() || (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) bounds.push_back(i);
      }
      // Exhaustive best over splits at character boundaries.
      std::vector<double> best(bounds.size(), -INFINITY);
      best[0] = 0.0;
      for (std::size_t i = 0; i + 1 < bounds.size(); ++i) {
        bool single = false;
        for (std::size_t j = i + 1; j < bounds.size(); ++j) {
          auto it = best_score.find(text.substr(bounds[i], bounds[j] - bounds[i]));
          if (it == best_score.end()) continue;
          if (j == i + 1) single = true;
          best[j] = std::max(best[j], best[i] + it->second);
        }
        if (!single) best[i + 1] = std::max(best[i + 1], best[i] + unk);
      }
      std::vector<UnigramToken> tokens;
      m.encode(text, tokens);
      double score = 0.0;
      uint32_t cursor = 0;
      for (const auto& tok : tokens) {
        ASSERT_EQ(tok.begin, cursor) << text;
        ASSERT_GT(tok.end, tok.begin);
        const std::string surface = text.substr(tok.begin, tok.end - tok.begin);
        if (tok.id == 0) {  // a fused run: one unk score per character
          for (std::size_t k = 0; k < surface.size(); ++k) {
            if ((static_cast<unsigned char>(surface[k]) & 0xC0) != 0x80) score += unk;
          }
        } else {
          ASSERT_EQ(m.piece(tok.id), surface);
          score += m.score(tok.id);
        }
        cursor = tok.end;
      }
      ASSERT_EQ(cursor, text.size());
      for (std::size_t i = 1; i < tokens.size(); ++i) {
        ASSERT_FALSE(tokens[i].id == 0 && tokens[i - 1].id == 0) << "unknown runs are fused";
      }
      ASSERT_NEAR(score, best.back(), 1e-9) << text;
    }
  }
}

}  // namespace
