// The embedded default model (models/xling-mini): it loads by name, embeds deterministically,
// and a re-evaluation of a subset of its held-out bitext test reproduces the per-language
// accuracies its model card reports (eval/results.json) within 0.5 points.
#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>

#include "core/json.hpp"
#include "eval/runner.hpp"
#include "eval/suite.hpp"
#include "io/model_location.hpp"
#include "xling/errors.hpp"
#include "tasks/eval_predictor.hpp"
#include "tasks/sentence_encoder.hpp"

namespace fs = std::filesystem;
using namespace xling;

namespace {

std::string model_dir() {
  auto p = io::find_shipped_model(io::kDefaultModelName);
  return p ? *p : std::string();
}

}  // namespace

TEST(XlingMini, IsFoundByName) {
  const std::string dir = model_dir();
  ASSERT_FALSE(dir.empty()) << "models/xling-mini not found on the model search path";
  EXPECT_EQ(fs::weakly_canonical(io::resolve_model("")), fs::weakly_canonical(dir));
  EXPECT_EQ(fs::weakly_canonical(io::resolve_model("xling-mini")), fs::weakly_canonical(dir));
  EXPECT_THROW(io::resolve_model("no-such-model-here"), IoError);
}

TEST(XlingMini, EmbedsDeterministically) {
  const std::string dir = model_dir();
  ASSERT_FALSE(dir.empty());
  auto enc = tasks::SentenceEncoder::load(dir);
  const std::vector<std::string> texts = {"Open the file", "Datei öffnen", "Ouvrir le fichier", "ファイルを開く",
                                          "Открыть файл", "Delete all selected items?", "", "Κλείσιμο παραθύρου"};
  auto a = enc.encode(texts, {});
  auto b = enc.encode(texts, {});
  ASSERT_EQ(a.size(0), static_cast<int64_t>(texts.size()));
  auto cfg = core::read_json_file(dir + "/config.json");
  EXPECT_EQ(a.size(1), cfg["hidden_size"].get<int64_t>());
  EXPECT_TRUE(torch::equal(a, b)) << "two runs on the same texts differ";
  // Batch composition does not change a text's embedding beyond float noise.
  auto single = enc.encode({texts[3]}, {});
  EXPECT_LT((single[0] - a[3]).abs().max().item<double>(), 1e-4);
  auto norms = a.norm(2, 1);
  EXPECT_LT((norms - 1).abs().max().item<double>(), 1e-4) << "xling-mini normalizes its embeddings";
  // A translation is closer than an unrelated string.
  auto cos = [&](int i, int j) { return (a[i] * a[j]).sum().item<double>(); };
  EXPECT_GT(cos(0, 4), cos(5, 4));
}

TEST(XlingMini, HeldOutAccuracyMatchesTheModelCard) {
  const std::string dir = model_dir();
  ASSERT_FALSE(dir.empty());
  eval::SuiteConfig suite = eval::load_suite(dir + "/eval/suite.json");
  auto card = core::read_json_file(dir + "/eval/results.json");
  // A quick subset: every 20th language of each task.
  for (auto& task : suite.tasks) {
    std::vector<eval::LanguageFile> keep;
    for (std::size_t i = 0; i < task.languages.size(); i += 20) keep.push_back(task.languages[i]);
    task.languages = keep;
  }
  eval::RunOptions ro;
  ro.model_dir = dir;
  ro.quiet = true;
  ro.predict = tasks::model_predictor(dir);
  eval::SuiteResult r = eval::run_suite(suite, ro);
  std::size_t compared = 0;
  for (const auto& t : r.tasks) {
    const nlohmann::json* ct = nullptr;
    for (const auto& x : card["tasks"]) {
      if (x["name"] == t.name) ct = &x;
    }
    ASSERT_NE(ct, nullptr) << t.name;
    for (const auto& l : t.metrics[0].per_language) {
      const double expected = (*ct)["metrics"][0]["per_language"][l.language]["value"].get<double>();
      EXPECT_NEAR(l.value, expected, 0.005) << t.name << " " << l.language;
      ++compared;
    }
  }
  EXPECT_GE(compared, 10u);
}
