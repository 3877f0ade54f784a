// `xling finetune` end to end on real multilingual text (examples/eval's country-or-language
// rows, 11 languages): the dev metric improves over training, the run is deterministic for a
// seed, and the output directory is a model the other commands load.
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../unit/test_util.hpp"

namespace fs = std::filesystem;

namespace {

xling::testing::CommandResult xling_run(const std::vector<std::string>& args) {
  using xling::testing::shell_quote;
  std::string cmd = shell_quote(XLING_BIN);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  return xling::testing::run_shell(cmd + " </dev/null");
}

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// Splits every language file into its first `train` rows and the rest (dev).
void split_data(const fs::path& src, std::size_t train, const std::string& train_path, const std::string& dev_path) {
  std::ofstream tr(train_path), dev(dev_path);
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(src)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    auto rows = lines_of(f.string());
    for (std::size_t i = 0; i < rows.size(); ++i) (i < train ? tr : dev) << rows[i] << "\n";
  }
}

}  // namespace

TEST(FinetuneCli, DevAccuracyImprovesOnRealMultilingualText) {
  xling::testing::ScratchDir tmp;
  split_data(fs::path(XLING_SOURCE_DIR) / "examples/eval/data/classification", 45, tmp.file("train.jsonl"),
             tmp.file("dev.jsonl"));
  const std::string model = std::string(XLING_FIXTURES) + "/sentence_transformers/e5_like_mean";
  auto r = xling_run({"finetune", "-m", model, "--train", tmp.file("train.jsonl"), "--eval", tmp.file("dev.jsonl"), "-o",
                      tmp.file("out"), "--epochs", "6", "--batch-size", "16", "--lr", "2e-3", "--eval-steps", "50",
                      "--log", tmp.file("log.jsonl"), "-q"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<double> dev_accuracy, losses;
  for (const auto& l : lines_of(tmp.file("log.jsonl"))) {
    auto j = nlohmann::json::parse(l);
    if (j.contains("eval")) dev_accuracy.push_back(j["accuracy"].get<double>());
    else losses.push_back(j["loss"].get<double>());
  }
  ASSERT_GE(dev_accuracy.size(), 3u);
  ASSERT_GE(losses.size(), 40u);
  EXPECT_GE(dev_accuracy.back(), dev_accuracy.front() + 0.15) << r.err;  // step 0 vs the end
  auto mean = [](auto b, auto e) { return std::accumulate(b, e, 0.0) / static_cast<double>(e - b); };
  EXPECT_LT(mean(losses.end() - 20, losses.end()), 0.7 * mean(losses.begin(), losses.begin() + 20));
  // The output is an HF classification directory the inference commands load.
  auto c = xling_run({"classify", "-m", tmp.file("out"), "-i", tmp.file("dev.jsonl"), "-o", tmp.file("pred.jsonl")});
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_EQ(lines_of(tmp.file("pred.jsonl")).size(), lines_of(tmp.file("dev.jsonl")).size());
  auto cfg = nlohmann::json::parse(std::ifstream(tmp.file("out/config.json")));
  EXPECT_EQ(cfg["architectures"][0], "XLMRobertaForSequenceClassification");
  EXPECT_EQ(cfg["id2label"].size(), 2u);
  EXPECT_TRUE(fs::exists(tmp.file("out/tokenizer.json")));
}

TEST(FinetuneCli, SameSeedSameRunAndDryRunWritesNothing) {
  xling::testing::ScratchDir tmp;
  split_data(fs::path(XLING_SOURCE_DIR) / "examples/eval/data/classification", 20, tmp.file("train.jsonl"),
             tmp.file("dev.jsonl"));
  const std::string model = std::string(XLING_FIXTURES) + "/sentence_transformers/e5_like_mean";
  for (const char* name : {"a", "b"}) {
    auto r = xling_run({"finetune", "-m", model, "--train", tmp.file("train.jsonl"), "-o", tmp.file(name), "--max-steps",
                        "8", "--batch-size", "8", "--seed", "7", "--log", tmp.file(std::string(name) + ".jsonl"), "-q"});
    ASSERT_EQ(r.code, 0) << r.err;
  }
  EXPECT_EQ(lines_of(tmp.file("a.jsonl")), lines_of(tmp.file("b.jsonl")));
  auto d = xling_run({"finetune", "-m", model, "--train", tmp.file("train.jsonl"), "--dry-run"});
  ASSERT_EQ(d.code, 0) << d.err;
  EXPECT_NE(d.err.find("trainable"), std::string::npos) << d.err;
  // Errors name the file and line, before anything is trained or written.
  std::ofstream(tmp.file("bad.jsonl")) << "{\"text\": \"x\", \"label\": \"country\"}\n{\"text\": \"y\"}\n";
  auto e = xling_run({"finetune", "-m", model, "--train", tmp.file("bad.jsonl"), "-o", tmp.file("c")});
  EXPECT_EQ(e.code, 1);
  EXPECT_NE(e.err.find("bad.jsonl:2"), std::string::npos) << e.err;
  EXPECT_FALSE(fs::exists(tmp.file("c")));
}

// A run killed with SIGKILL right after a checkpoint and resumed gives the uninterrupted run's
// weights and log byte for byte (shuffled data, dropout on: data position and RNG restored),
// for full fine-tuning, adapters and masked-LM training.
TEST(FinetuneCli, KilledRunResumesToTheSameWeights) {
  xling::testing::ScratchDir tmp;
  split_data(fs::path(XLING_SOURCE_DIR) / "examples/eval/data/classification", 20, tmp.file("train.jsonl"),
             tmp.file("dev.jsonl"));
  // The fixture model with dropout switched on.
  const fs::path src = fs::path(XLING_FIXTURES) / "sentence_transformers/e5_like_mean";
  fs::create_directories(tmp.file("model"));
  for (const char* f : {"model.safetensors", "tokenizer.json", "tokenizer_config.json"}) {
    if (fs::exists(src / f)) fs::copy_file(src / f, fs::path(tmp.file("model")) / f);
  }
  auto cfg = nlohmann::json::parse(std::ifstream(src / "config.json"));
  cfg["hidden_dropout_prob"] = 0.1;
  cfg["attention_probs_dropout_prob"] = 0.1;
  std::ofstream(tmp.file("model/config.json")) << cfg.dump(2);
  // Full fine-tuning; bottleneck adapters (their tensors live outside the HF files); masked-LM
  // (masks drawn from the restored generator).
  const std::vector<std::pair<std::vector<std::string>, std::string>> variants = {
      {{}, "model.safetensors"},
      {{"--peft", "adapter", "--adapter-kind", "houlsby", "--adapter-reduction", "4"}, "adapter_model.safetensors"},
      {{"--task", "mlm"}, "model.safetensors"}};
  for (std::size_t v = 0; v < variants.size(); ++v) {
    const std::string full_dir = "full" + std::to_string(v), cut_dir = "cut" + std::to_string(v);
    auto args = [&](const std::string& out) {
      std::vector<std::string> a{"finetune", "-m", tmp.file("model"), "--train", tmp.file("train.jsonl"), "-o",
                                 tmp.file(out), "--max-steps", "25", "--batch-size", "8", "--lr", "2e-3",
                                 "--save-steps", "6", "--seed", "3", "--log", tmp.file(out + ".jsonl"), "-q"};
      a.insert(a.end(), variants[v].first.begin(), variants[v].first.end());
      return a;
    };
    auto full = xling_run(args(full_dir));
    ASSERT_EQ(full.code, 0) << full.err;
    using xling::testing::shell_quote;
    std::string cmd = "XLING_TEST_KILL_AFTER_CHECKPOINT=12 " + shell_quote(XLING_BIN);
    for (const auto& a : args(cut_dir)) cmd += " " + shell_quote(a);
    auto killed = xling::testing::run_shell(cmd + " </dev/null");
    EXPECT_NE(killed.code, 0) << v;  // died by SIGKILL
    EXPECT_TRUE(fs::exists(tmp.file(cut_dir + "/checkpoint-12/trainer_state.json"))) << v;
    EXPECT_FALSE(fs::exists(tmp.file(cut_dir + "/" + variants[v].second))) << v;
    auto resume_args = args(cut_dir);
    resume_args.push_back("--resume");
    auto resumed = xling_run(resume_args);
    ASSERT_EQ(resumed.code, 0) << resumed.err;
    EXPECT_NE(resumed.err.find("resuming from"), std::string::npos) << resumed.err;
    auto bytes = [](const std::string& p) {
      std::ifstream in(p, std::ios::binary);
      return std::string(std::istreambuf_iterator<char>(in), {});
    };
    const std::string a = bytes(tmp.file(full_dir + "/" + variants[v].second));
    EXPECT_FALSE(a.empty()) << v;
    EXPECT_EQ(a, bytes(tmp.file(cut_dir + "/" + variants[v].second))) << v;
    EXPECT_EQ(lines_of(tmp.file(full_dir + ".jsonl")), lines_of(tmp.file(cut_dir + ".jsonl"))) << v;
  }
}
