// Every value of tests/fixtures/hf/metrics/sacrebleu.json (made with sacrebleu 2.6.0 on 505
// gettext segments in 84 languages): corpus BLEU with each tokenizer (score, brevity
// penalty, precisions, lengths, signature), lowercased and two-reference BLEU, chrF, chrF++
// and TER, and per-sentence BLEU / chrF / chrF++ with the sentence-BLEU signature. Scores
// must agree to 1e-9 relative and signatures exactly; an unknown key fails the test so that
// a regenerated fixture cannot add values nobody compares.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/json.hpp"
#include "metrics/bleu.hpp"
#include "metrics/chrf.hpp"
#include "metrics/ter.hpp"

namespace xm = xling::metrics;

namespace {

const std::string kFixture = std::string(XLING_FIXTURES) + "/metrics/sacrebleu.json";
constexpr double kRtol = 1e-9;

struct Tally {
  int passed = 0;
  int failed = 0;
  double max_rel = 0.0;

  void value(const std::string& key, double actual, double expected) {
    const double diff = std::fabs(actual - expected);
    if (expected != 0.0) max_rel = std::max(max_rel, diff / std::fabs(expected));
    if (diff <= kRtol * std::fabs(expected) || diff == 0.0) {
      ++passed;
    } else {
      ++failed;
      char buf[160];
      std::snprintf(buf, sizeof buf, "xling %.17g vs sacrebleu %.17g", actual, expected);
      ADD_FAILURE() << key << ": " << buf;
    }
  }
  void text(const std::string& key, const std::string& actual, const std::string& expected) {
    if (actual == expected) {
      ++passed;
    } else {
      ++failed;
      ADD_FAILURE() << key << ": xling '" << actual << "' vs sacrebleu '" << expected << "'";
    }
  }
};

// Fails on keys of `entry` outside `known`, so that no fixture value goes unchecked.
void expect_only_keys(const nlohmann::json& entry, const std::set<std::string>& known, const std::string& where) {
  for (const auto& [key, _] : entry.items()) {
    EXPECT_TRUE(known.count(key)) << where << ": fixture key '" << key << "' is not compared by this test";
  }
}

void check_bleu(Tally& t, const std::string& name, const xm::BleuScore& got, const nlohmann::json& want) {
  expect_only_keys(want, {"score", "bp", "precisions", "sys_len", "ref_len", "signature", "second_refs"}, name);
  t.value(name + ".score", got.score, want.at("score").get<double>());
  if (want.contains("bp")) t.value(name + ".bp", got.bp, want.at("bp").get<double>());
  if (want.contains("precisions")) {
    auto p = want.at("precisions").get<std::vector<double>>();
    ASSERT_EQ(got.precisions.size(), p.size()) << name;
    for (std::size_t n = 0; n < p.size(); ++n) t.value(name + ".precisions[" + std::to_string(n) + "]", got.precisions[n], p[n]);
  }
  if (want.contains("sys_len")) t.value(name + ".sys_len", static_cast<double>(got.sys_len), want.at("sys_len").get<double>());
  if (want.contains("ref_len")) t.value(name + ".ref_len", static_cast<double>(got.ref_len), want.at("ref_len").get<double>());
  if (want.contains("signature")) t.text(name + ".signature", got.signature, want.at("signature").get<std::string>());
}

}  // namespace

TEST(SacrebleuGolden, EveryCorpusAndSentenceValue) {
  const nlohmann::json j = xling::core::read_json_file(kFixture);
  expect_only_keys(j, {"hyps", "refs", "langs", "sacrebleu_version", "corpus", "sentence", "sentence_bleu_signature"},
                   "top level");
  ASSERT_EQ(j.at("sacrebleu_version").get<std::string>(), xm::kSacrebleuVersion);
  const auto hyps = j.at("hyps").get<std::vector<std::string>>();
  const auto refs = j.at("refs").get<std::vector<std::string>>();
  ASSERT_EQ(hyps.size(), refs.size());
  ASSERT_EQ(j.at("langs").size(), hyps.size());
  ASSERT_GT(hyps.size(), 100u);
  const std::vector<std::vector<std::string>> ref_streams{refs};

  Tally t;
  int corpus_entries = 0;
  for (const auto& [key, want] : j.at("corpus").items()) {
    SCOPED_TRACE(key);
    ++corpus_entries;
    if (key.rfind("bleu.", 0) == 0 && key.find('.', 5) == std::string::npos) {
      auto tok = xm::parse_bleu_tokenizer(key.substr(5));
      ASSERT_TRUE(tok.has_value()) << "unknown tokenizer in fixture key " << key;
      xm::BleuOptions o;
      o.tokenize = *tok;
      check_bleu(t, key, xm::corpus_bleu(hyps, ref_streams, o), want);
    } else if (key == "bleu.13a.lowercase") {
      xm::BleuOptions o;
      o.lowercase = true;
      check_bleu(t, key, xm::corpus_bleu(hyps, ref_streams, o), want);
    } else if (key == "bleu.13a.two_refs_first50") {
      auto second = want.at("second_refs").get<std::vector<std::string>>();
      const std::size_t n = second.size();
      ASSERT_EQ(n, 50u);
      std::vector<std::string> h(hyps.begin(), hyps.begin() + static_cast<std::ptrdiff_t>(n));
      std::vector<std::string> r(refs.begin(), refs.begin() + static_cast<std::ptrdiff_t>(n));
      xm::BleuScore s = xm::corpus_bleu(h, {r, second}, {});
      check_bleu(t, key, s, want);
      EXPECT_EQ(s.signature, "nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0");
    } else if (key == "chrf" || key == "chrf++") {
      expect_only_keys(want, {"score", "signature"}, key);
      xm::ChrfOptions o;
      o.word_order = key == "chrf++" ? 2 : 0;
      xm::ChrfScore s = xm::corpus_chrf(hyps, ref_streams, o);
      t.value(key + ".score", s.score, want.at("score").get<double>());
      t.text(key + ".signature", s.signature, want.at("signature").get<std::string>());
    } else if (key == "ter") {
      expect_only_keys(want, {"score", "signature"}, key);
      xm::TerScore s = xm::corpus_ter(hyps, ref_streams, {});
      t.value(key + ".score", s.score, want.at("score").get<double>());
      t.text(key + ".signature", s.signature, want.at("signature").get<std::string>());
    } else {
      ADD_FAILURE() << "corpus entry '" << key << "' is not compared by this test";
    }
  }

  const std::string sentence_signature = j.at("sentence_bleu_signature").get<std::string>();
  xm::ChrfOptions chrf, chrfpp;
  chrfpp.word_order = 2;
  int sentences = 0;
  for (const auto& s : j.at("sentence")) {
    const std::string where = "sentence " + std::to_string(sentences++);
    expect_only_keys(s, {"hyp", "ref", "bleu", "chrf", "chrf++"}, where);
    const auto hyp = s.at("hyp").get<std::string>();
    const std::vector<std::string> ref{s.at("ref").get<std::string>()};
    xm::BleuScore b = xm::sentence_bleu(hyp, ref);
    t.value(where + ".bleu", b.score, s.at("bleu").get<double>());
    t.text(where + ".bleu.signature", b.signature, sentence_signature);
    t.value(where + ".chrf", xm::sentence_chrf(hyp, ref, chrf).score, s.at("chrf").get<double>());
    t.value(where + ".chrf++", xm::sentence_chrf(hyp, ref, chrfpp).score, s.at("chrf++").get<double>());
  }
  EXPECT_EQ(corpus_entries, 10);
  EXPECT_GT(sentences, 100);
  std::printf("[ sacrebleu ] %d corpus entries, %d sentences: %d values passed, %d failed (max rel diff %.3g)\n",
              corpus_entries, sentences, t.passed, t.failed, t.max_rel);
  EXPECT_EQ(t.failed, 0);
}
