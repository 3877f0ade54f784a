// The trainer's embedding, reranking, masked-LM and multitask objectives: their step-0 eval
// losses against the goldens (MNRL through the bi-encoder path, BCE on the CrossEncoder golden's
// logits), training that helps, saved directories that reload to the same outputs, and the
// input errors. Texts are real multilingual strings written here, not fixture ids.
#include <cmath>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/json.hpp"
#include "io/bert_config.hpp"
#include "io/checkpoint.hpp"
#include "layers/torch_runtime.hpp"
#include "layers/weights.hpp"
#include "models/peft.hpp"
#include "models/registry.hpp"
#include "tasks/sentence_encoder.hpp"
#include "tokenize/tokenizer.hpp"
#include "train/trainer.hpp"
#include "../unit/test_util.hpp"
#include "xling/errors.hpp"
#include "encode_util.hpp"

namespace fs = std::filesystem;
using namespace xling;

namespace {

const fs::path kSt = fs::path(XLING_FIXTURES) / "sentence_transformers";

// Country names in English and five other languages: real pairs for contrastive training.
const std::vector<std::pair<std::string, std::string>> kPairs = {
    {"Germany", "Deutschland"},  {"France", "Frankreich"},      {"Japan", "日本"},          {"Russia", "Россия"},
    {"Spain", "España"},         {"Egypt", "مصر"},              {"Greece", "Ελλάδα"},        {"India", "भारत"},
    {"China", "中国"},           {"Turkey", "Türkiye"},         {"Brazil", "Brasil"},        {"Poland", "Polska"},
    {"Sweden", "Sverige"},       {"Finland", "Suomi"},          {"Hungary", "Magyarország"}, {"Korea", "한국"},
    {"Norway", "Norge"},         {"Israel", "ישראל"},           {"Thailand", "ประเทศไทย"},    {"Georgia", "საქართველო"}};

std::string jsonl(const std::vector<nlohmann::json>& rows) {
  std::string s;
  for (const auto& r : rows) s += r.dump() + "\n";
  return s;
}

train::TrainOptions base_options(const xling::testing::ScratchDir& tmp, train::Task task, const std::string& model) {
  train::TrainOptions o;
  o.task = task;
  o.model_dir = model;
  o.train_path = tmp.file("train.jsonl");
  o.output_dir = tmp.file("out");
  o.batch_size = 8;
  o.lr = 2e-3;
  o.shuffle = false;
  o.quiet = true;
  return o;
}

// The step-0 evaluation of a fresh run from `dir` on `eval` (eval mode, nothing trained yet).
train::EvalResult eval_at_start(train::TrainOptions o, const std::string& dir, const std::string& out) {
  o.model_dir = dir;
  o.eval_paths = {o.eval_paths.at(0)};
  o.output_dir = out;
  o.max_steps = 1;
  o.eval_steps = 1;
  o.peft = "none";
  auto r = train::finetune(o);
  return r.evals.at(0).result;
}

}  // namespace

// The bi-encoder path (columns padded apart, pooling + normalize of the sentence-transformers
// directory, MNRL) gives the sentence-transformers golden loss at step 0, in eval mode.
TEST(TrainingBiEncoder, StepZeroEvalLossIsTheMnrlGolden) {
  layers::set_threads(0);
  xling::testing::ScratchDir tmp;
  auto meta = core::read_json_file((kSt / "mnrl_golden.json").string());
  std::vector<nlohmann::json> rows;
  for (std::size_t i = 0; i < meta["anchors"].size(); ++i) {
    rows.push_back({{"anchor", meta["anchors"][i]}, {"positive", meta["positives"][i]}});
  }
  std::ofstream(tmp.file("train.jsonl")) << jsonl(rows);
  auto o = base_options(tmp, train::Task::kBiEncoder, (kSt / meta["model"].get<std::string>()).string());
  o.eval_paths = {tmp.file("train.jsonl")};
  o.batch_size = rows.size();  // one batch: the golden's in-batch negatives
  o.scale = meta["scale"].get<double>();
  o.max_steps = 1;
  o.eval_steps = 1;
  auto r = train::finetune(o);
  const double want = meta["loss"].get<double>();
  EXPECT_NEAR(r.evals.at(0).result.loss, want, 1e-5 * want);
}

// Contrastive training on real pairs lowers the loss, the directory is a sentence-transformers
// one (modules, pooling, normalize) whose reload evaluates exactly as the trained model did.
TEST(TrainingBiEncoder, TrainsSavesAndReloadsIdentically) {
  layers::set_threads(0);
  xling::testing::ScratchDir tmp;
  std::vector<nlohmann::json> rows, scored;
  for (const auto& [en, other] : kPairs) rows.push_back({{"anchor", en}, {"positive", other}});
  std::ofstream(tmp.file("train.jsonl")) << jsonl(rows);
  auto o = base_options(tmp, train::Task::kBiEncoder, (kSt / "e5_like_mean").string());
  o.eval_paths = {tmp.file("train.jsonl")};
  o.max_steps = 30;
  o.eval_steps = 15;
  o.lr = 3e-3;
  auto r = train::finetune(o);
  ASSERT_EQ(r.steps.size(), 30u);
  EXPECT_LT(r.steps.back().loss, r.steps.front().loss);
  ASSERT_EQ(r.evals.size(), 3u);  // steps 0, 15, 30
  const auto& final_eval = r.evals.back().result;
  EXPECT_LT(final_eval.loss, r.evals.front().result.loss);
  EXPECT_GT(final_eval.metric("mrr@10"), r.evals.front().result.metric("mrr@10"));
  for (const char* f : {"modules.json", "1_Pooling/config.json", "2_Normalize", "sentence_bert_config.json",
                        "config_sentence_transformers.json", "model.safetensors", "tokenizer.json"}) {
    EXPECT_TRUE(fs::exists(fs::path(o.output_dir) / f)) << f;
  }
  // Saved under HF's base-model names (no "roberta." prefix), as the input directory was.
  auto saved = io::Checkpoint::open(o.output_dir);
  EXPECT_TRUE(saved.find("embeddings.word_embeddings.weight"));
  auto again = eval_at_start(o, o.output_dir, tmp.file("again"));
  EXPECT_NEAR(again.loss, final_eval.loss, 1e-5);
  EXPECT_DOUBLE_EQ(again.metric("mrr@10"), final_eval.metric("mrr@10"));
  // The embeddings the sentence encoder computes from the saved directory are unit length.
  auto enc = tasks::SentenceEncoder::load(o.output_dir);
  auto e = enc.encode({"Deutschland", "日本"}, {});
  EXPECT_NEAR(e.norm(2, 1).sub(1).abs().max().item<double>(), 0.0, 1e-5);

  // Scored pairs: CoSENT by default, Spearman/Pearson measured.
  for (std::size_t i = 0; i < kPairs.size(); ++i) {
    scored.push_back({{"sentence1", kPairs[i].first}, {"sentence2", kPairs[(i * 7) % kPairs.size()].second},
                      {"score", i % 7 == 0 ? 1.0 : 0.1 * static_cast<double>(i % 5)}});
  }
  std::ofstream(tmp.file("scored.jsonl")) << jsonl(scored);
  o.train_path = tmp.file("scored.jsonl");
  o.eval_paths = {tmp.file("scored.jsonl")};
  o.eval_steps = 0;
  o.output_dir = tmp.file("scored");
  o.max_steps = 5;
  auto s = train::finetune(o);
  EXPECT_FALSE(std::isnan(s.evals.back().result.metric("spearman")));
  for (const char* loss : {"cosine", "mnrl"}) {
    o.loss = loss;
    o.max_steps = 2;
    if (std::string(loss) == "cosine") {
      EXPECT_NO_THROW(train::finetune(o));
    } else {
      EXPECT_THROW(train::finetune(o), InvalidArgument);  // mnrl needs (anchor, positive) rows
    }
  }
}

// Reranker: the step-0 BCE equals BCE on the CrossEncoder golden's raw logits; listwise rows
// with hard negatives train; the saved directory is a one-label sequence classifier with the
// sigmoid activation sentence-transformers reads, reloading to the same evaluation.
TEST(TrainingCrossEncoder, BceMatchesTheGoldenLogitsAndListwiseReloads) {
  layers::set_threads(0);
  xling::testing::ScratchDir tmp;
  const fs::path dir = kSt / "cross_encoder_xlmr";
  auto meta = core::read_json_file((dir / "golden.json").string());
  auto golden = io::Checkpoint::open((dir / "golden.safetensors").string());
  auto raw = layers::tensor_from_view(golden.at("raw_logits"), golden.owner("raw_logits")).view(-1).to(torch::kFloat32);
  std::vector<nlohmann::json> rows;
  std::vector<float> labels;
  for (std::size_t i = 0; i < meta["pairs"].size(); ++i) {
    labels.push_back(i % 3 == 0 ? 1.0f : (i % 3 == 1 ? 0.0f : 0.25f));
    rows.push_back({{"query", meta["pairs"][i][0]}, {"passage", meta["pairs"][i][1]}, {"label", labels.back()}});
  }
  std::ofstream(tmp.file("train.jsonl")) << jsonl(rows);
  auto o = base_options(tmp, train::Task::kCrossEncoder, dir.string());
  o.eval_paths = {tmp.file("train.jsonl")};
  o.batch_size = rows.size();
  o.max_steps = 1;
  o.eval_steps = 1;
  auto r = train::finetune(o);
  const double want =
      torch::nn::functional::binary_cross_entropy_with_logits(raw, torch::tensor(labels)).item<double>();
  EXPECT_NEAR(r.evals.at(0).result.loss, want, 1e-4 * want);
  auto cfg = core::read_json_file(tmp.file("out/config.json"));
  EXPECT_EQ(cfg["sentence_transformers"]["activation_fn"], "torch.nn.modules.activation.Sigmoid");
  EXPECT_EQ(cfg["id2label"].size(), 1u);

  // Listwise: a query, its translation, and other countries as negatives.
  std::vector<nlohmann::json> lists;
  for (std::size_t i = 0; i < kPairs.size(); ++i) {
    lists.push_back({{"query", kPairs[i].first},
                     {"positive", kPairs[i].second},
                     {"negatives", {kPairs[(i + 3) % kPairs.size()].second, kPairs[(i + 11) % kPairs.size()].second}}});
  }
  std::ofstream(tmp.file("lists.jsonl")) << jsonl(lists);
  o.train_path = tmp.file("lists.jsonl");
  o.eval_paths = {tmp.file("lists.jsonl")};
  o.output_dir = tmp.file("lists");
  o.batch_size = 4;
  o.max_steps = 10;
  auto l = train::finetune(o);
  EXPECT_EQ(l.steps.size(), 10u);
  const auto& final_eval = l.evals.back().result;
  EXPECT_FALSE(std::isnan(final_eval.metric("mrr@10")));
  auto again = eval_at_start(o, o.output_dir, tmp.file("again"));
  EXPECT_NEAR(again.loss, final_eval.loss, 1e-5);
  EXPECT_DOUBLE_EQ(again.metric("accuracy"), final_eval.metric("accuracy"));
}

// Masked-LM continued pretraining on a .txt file (an empty line is a text): the masked-token
// loss falls, eval masks are the same at every evaluation, and the saved ForMaskedLM reloads.
TEST(TrainingMlm, LossFallsAndTheModelReloads) {
  layers::set_threads(0);
  xling::testing::ScratchDir tmp;
  {
    std::ofstream f(tmp.file("train.txt"));
    for (int rep = 0; rep < 3; ++rep) {
      for (const auto& [en, other] : kPairs) f << en << " heißt auf Landessprache " << other << ".\n";
    }
    f << "\n";
  }
  auto o = base_options(tmp, train::Task::kMlm, (kSt / "e5_like_mean").string());
  o.train_path = tmp.file("train.txt");
  o.eval_paths = {tmp.file("train.txt")};
  o.max_steps = 40;
  o.lr = 3e-3;
  o.mlm_probability = 0.3;
  o.eval_steps = 20;
  auto r = train::finetune(o);
  ASSERT_EQ(r.steps.size(), 40u);
  ASSERT_GE(r.evals.size(), 3u);
  EXPECT_LT(r.evals.back().result.loss, r.evals.front().result.loss);
  EXPECT_NEAR(r.evals.back().result.metric("perplexity"), std::exp(r.evals.back().result.loss), 1e-6);
  auto back = models::load_model(o.output_dir);
  EXPECT_NE(back.architecture.find("ForMaskedLM"), std::string::npos);
  auto again = eval_at_start(o, o.output_dir, tmp.file("again"));
  EXPECT_NEAR(again.loss, r.evals.back().result.loss, 1e-5);
  // Whole-word masking trains too.
  o.whole_word_mask = true;
  o.max_steps = 2;
  o.eval_steps = 0;
  o.output_dir = tmp.file("wwm");
  EXPECT_EQ(train::finetune(o).steps.size(), 2u);
}

// Two tasks on one encoder: one directory per task with the same encoder weights, each
// reloading to the evaluation the multitask model gave; fixed loss weights scale the loss.
TEST(TrainingMultitask, SharedEncoderPerTaskDirectories) {
  layers::set_threads(0);
  xling::testing::ScratchDir tmp;
  std::vector<nlohmann::json> cls, pairs;
  for (const auto& [en, other] : kPairs) {
    cls.push_back({{"text", en}, {"label", "en"}});
    cls.push_back({{"text", other}, {"label", "other"}});
    pairs.push_back({{"anchor", en}, {"positive", other}});
  }
  std::ofstream(tmp.file("cls.jsonl")) << jsonl(cls);
  std::ofstream(tmp.file("pairs.jsonl")) << jsonl(pairs);
  for (const std::string sampling : {"round-robin", "proportional"}) {
    nlohmann::json spec = {{"sampling", sampling},
                           {"loss_weighting", "fixed"},
                           {"tasks",
                            {{{"name", "lang"}, {"task", "seq-cls"}, {"train", "cls.jsonl"}, {"eval", "cls.jsonl"}, {"weight", 2.0}},
                             {{"name", "align"}, {"task", "bi-encoder"}, {"train", "pairs.jsonl"}, {"eval", {"pairs.jsonl"}},
                              {"weight", 0.5}}}}};
    std::ofstream(tmp.file("mt.json")) << spec.dump();
    train::TrainOptions o;
    o.multitask_path = tmp.file("mt.json");
    o.model_dir = (kSt / "e5_like_mean").string();
    o.output_dir = tmp.file("out-" + sampling);
    o.batch_size = 8;
    o.max_steps = 12;
    o.lr = 2e-3;
    o.shuffle = false;
    o.quiet = true;
    auto r = train::finetune(o);
    ASSERT_EQ(r.steps.size(), 12u);
    auto lang = io::Checkpoint::open(o.output_dir + "/lang"), align = io::Checkpoint::open(o.output_dir + "/align");
    int shared = 0;
    for (const auto& n : align.names()) {
      const std::string in_lang = "roberta." + n;
      if (!lang.find(in_lang)) continue;
      ++shared;
      EXPECT_TRUE(torch::equal(layers::tensor_from_view(lang.at(in_lang), nullptr),
                               layers::tensor_from_view(align.at(n), nullptr)))
          << n;
    }
    EXPECT_GT(shared, 10);
    EXPECT_TRUE(fs::exists(o.output_dir + "/multitask.json"));
    // The evaluations: lang's file first, then align's; each task directory reloads to them.
    ASSERT_GE(r.evals.size(), 2u);
    const auto& lang_eval = r.evals[r.evals.size() - 2].result;
    const auto& align_eval = r.evals.back().result;
    train::TrainOptions single = base_options(tmp, train::Task::kSeqCls, "");
    single.train_path = tmp.file("cls.jsonl");
    single.eval_paths = {tmp.file("cls.jsonl")};
    EXPECT_NEAR(eval_at_start(single, o.output_dir + "/lang", tmp.file("l2")).loss, lang_eval.loss, 1e-5);
    single.task = train::Task::kBiEncoder;
    single.train_path = tmp.file("pairs.jsonl");
    single.eval_paths = {tmp.file("pairs.jsonl")};
    EXPECT_NEAR(eval_at_start(single, o.output_dir + "/align", tmp.file("a2")).loss, align_eval.loss, 1e-5);
  }
}

// bf16 autocast trains with a first loss close to fp32's; LoRA dropout changes training (not
// the start) and is recorded in the adapter config.
TEST(TrainingOptions, Bf16AutocastAndLoraDropout) {
  layers::set_threads(0);
  xling::testing::ScratchDir tmp;
  std::vector<nlohmann::json> rows;
  for (const auto& [en, other] : kPairs) {
    rows.push_back({{"text", en}, {"label", "en"}});
    rows.push_back({{"text", other}, {"label", "other"}});
  }
  std::ofstream(tmp.file("train.jsonl")) << jsonl(rows);
  auto o = base_options(tmp, train::Task::kSeqCls, (kSt / "e5_like_mean").string());
  o.max_steps = 3;
  auto fp32 = train::finetune(o);
  o.bf16 = true;
  o.output_dir = tmp.file("bf16");
  auto bf16 = train::finetune(o);
  EXPECT_NEAR(bf16.steps[0].loss, fp32.steps[0].loss, 0.02 * fp32.steps[0].loss);
  EXPECT_NE(bf16.steps[0].loss, fp32.steps[0].loss);  // it did run in bf16

  o.bf16 = false;
  o.peft = "lora";
  o.lr = 1e-2;
  o.output_dir = tmp.file("lora0");
  auto plain = train::finetune(o);
  o.lora_dropout = 0.5;
  o.output_dir = tmp.file("lora5");
  auto dropped = train::finetune(o);
  EXPECT_NE(dropped.steps[2].loss, plain.steps[2].loss);
  EXPECT_DOUBLE_EQ(core::read_json_file(tmp.file("lora5/adapter_config.json"))["lora_dropout"].get<double>(), 0.5);
}

// Bad rows and options fail before training, naming the file and line or the option.
TEST(TrainingObjectiveErrors, BadInputsAreClearErrors) {
  layers::set_threads(0);
  xling::testing::ScratchDir tmp;
  const std::string model = (kSt / "e5_like_mean").string();
  auto expect_error = [&](train::Task task, const std::string& rows, const std::string& needle,
                          const std::function<void(train::TrainOptions&)>& edit = {}) {
    std::ofstream(tmp.file("train.jsonl")) << rows;
    auto o = base_options(tmp, task, model);
    o.max_steps = 1;
    if (edit) edit(o);
    try {
      train::finetune(o);
      ADD_FAILURE() << "no error for: " << rows;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error(train::Task::kBiEncoder, "{\"anchor\": \"a\"}\n", "train.jsonl:1: no positive");
  expect_error(train::Task::kBiEncoder, "{\"anchor\": \"a\", \"positive\": \"b\"}\n{\"sentence1\": \"a\", \"sentence2\": \"b\", \"score\": 0.5}\n",
               "train.jsonl:2: rows mix");
  expect_error(train::Task::kBiEncoder, "{\"anchor\": \"a\", \"positive\": \"b\"}\n", "--loss 'bce'",
               [](train::TrainOptions& o) { o.loss = "bce"; });
  expect_error(train::Task::kBiEncoder, "{\"anchor\": \"a\", \"positive\": \"b\", \"negative\": 3}\n", "train.jsonl:1: the negative must be a text");
  expect_error(train::Task::kCrossEncoder, "{\"query\": \"a\", \"passage\": \"b\", \"label\": 2}\n", "outside [0, 1]");
  expect_error(train::Task::kCrossEncoder, "{\"query\": \"a\", \"positive\": \"b\"}\n", "needs negatives");
  expect_error(train::Task::kMlm, "{\"text\": \"a b c\"}\n", "--mlm-probability", [](train::TrainOptions& o) { o.mlm_probability = 0; });
  expect_error(train::Task::kMlm, "{\"title\": \"a b c\"}\n", "train.jsonl:1: no 'text'");
  expect_error(train::Task::kSeqCls, "{\"text\": \"a\", \"label\": \"x\"}\n", "--metric-for-best 'spearman'",
               [&](train::TrainOptions& o) {
                 o.eval_paths = {tmp.file("train.jsonl")};
                 o.eval_steps = 1;
                 o.metric_for_best = "spearman";
               });
  std::ofstream(tmp.file("one.json")) << R"({"tasks": [{"name": "a", "task": "seq-cls", "train": "train.jsonl"}]})";
  expect_error(train::Task::kSeqCls, "{\"text\": \"a\", \"label\": \"x\"}\n", "at least two tasks",
               [&](train::TrainOptions& o) { o.multitask_path = tmp.file("one.json"); });
  std::ofstream(tmp.file("dup.json"))
      << R"({"tasks": [{"name": "a", "task": "seq-cls", "train": "train.jsonl"}, {"name": "a", "task": "seq-cls", "train": "train.jsonl"}]})";
  expect_error(train::Task::kSeqCls, "{\"text\": \"a\", \"label\": \"x\"}\n", "two tasks are named 'a'",
               [&](train::TrainOptions& o) { o.multitask_path = tmp.file("dup.json"); });
}

// Bottleneck adapters (Pfeiffer, Houlsby) and prompt tuning train only their parameters and the
// head; the adapter directory applied to the base model gives the trained model's eval loss.
TEST(TrainingPeft, AdaptersAndPromptTuningSaveAndReloadIdentically) {
  layers::set_threads(0);
  xling::testing::ScratchDir tmp;
  std::vector<nlohmann::json> rows;
  for (std::size_t i = 0; i < 4; ++i) {
    rows.push_back({{"text", kPairs[i].first}, {"label", "en"}});
    rows.push_back({{"text", kPairs[i].second}, {"label", "other"}});
  }
  std::ofstream(tmp.file("train.jsonl")) << jsonl(rows);
  const std::string base = (kSt / "e5_like_mean").string();
  auto tok = tokenize::Tokenizer::from_file(base);
  for (const std::string method : {"pfeiffer", "houlsby", "prompt"}) {
    auto o = base_options(tmp, train::Task::kSeqCls, base);
    o.peft = method == "prompt" ? "prompt" : "adapter";
    o.adapter_kind = method;
    o.adapter_reduction = 4;
    o.num_virtual_tokens = 3;
    o.eval_paths = {tmp.file("train.jsonl")};
    o.output_dir = tmp.file(method);
    o.max_steps = 8;
    o.lr = 1e-2;
    auto r = train::finetune(o);
    ASSERT_EQ(r.steps.size(), 8u) << method;
    EXPECT_LT(r.trainable_params, r.total_params / 5) << method;
    // Only PEFT tensors and the head are saved.
    auto saved = io::Checkpoint::open(o.output_dir + "/adapter_model.safetensors");
    for (const auto& n : saved.names()) {
      EXPECT_TRUE(n.find(".adapter.") != std::string::npos || n == "prompt_embeddings" ||
                  n.find("classifier") != std::string::npos)
          << method << ": " << n;
    }
    // Reload: the base in the head class + the adapter; one batch of all rows = the eval loss.
    auto adapter = models::load_adapter(o.output_dir);
    auto m = models::load_model(base, models::LoadOptions::for_class("XLMRobertaForSequenceClassification", false));
    auto applied = models::apply_adapter(m, adapter);
    EXPECT_FALSE(applied.added.empty()) << method;
    m.module->eval();
    std::vector<std::string> texts;
    std::vector<int64_t> labels;
    for (const auto& row : rows) {
      texts.push_back(row["text"]);
      labels.push_back(row["label"] == "en" ? 0 : 1);
    }
    const auto [ids, mask] = xling::testing::encode_padded(tok, texts);
    torch::NoGradGuard ng;
    auto out = m.forward({{"input_ids", ids}, {"attention_mask", mask}, {"labels", torch::tensor(labels)}});
    EXPECT_NEAR(out.at("loss").item<double>(), r.evals.back().result.loss, 1e-5) << method;
  }
}

// --init-from-config: a directory with only config.json and a tokenizer trains from scratch;
// the weights start as HF's _init_weights (unit LayerNorms, zero biases and padding rows,
// normal(0, initializer_range) elsewhere), the same for the same seed.
TEST(TrainingFromScratch, ConfigOnlyDirectoryTrains) {
  layers::set_threads(0);
  xling::testing::ScratchDir tmp;
  const fs::path src = kSt / "e5_like_mean";
  fs::create_directories(tmp.file("cfg"));
  auto cfg = core::read_json_file((src / "config.json").string());
  cfg["hidden_size"] = 48;  // not the fixture's shape: nothing can come from its weights
  cfg["num_attention_heads"] = 4;
  cfg["intermediate_size"] = 96;
  cfg["num_hidden_layers"] = 3;
  std::ofstream(tmp.file("cfg/config.json")) << cfg.dump(2);
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) fs::copy_file(src / f, fs::path(tmp.file("cfg")) / f);

  models::LoadOptions lo = models::LoadOptions::for_class("XLMRobertaForMaskedLM", false);
  lo.random_init = true;
  lo.init_seed = 5;
  auto a = models::load_model(tmp.file("cfg"), lo), b = models::load_model(tmp.file("cfg"), lo);
  const double std_want = cfg.value("initializer_range", 0.02);
  for (const auto& p : a.module->named_parameters()) {
    const auto& n = p.key();
    const auto& t = p.value();
    EXPECT_TRUE(torch::equal(t, b.module->named_parameters()[n])) << n;
    if (n.ends_with("bias")) {
      EXPECT_EQ(t.abs().max().item<double>(), 0.0) << n;
    } else if (n.find("LayerNorm") != std::string::npos || n.find("layer_norm") != std::string::npos) {
      EXPECT_EQ((t - 1).abs().max().item<double>(), 0.0) << n;
    } else if (t.numel() > 1000) {
      EXPECT_NEAR(t.std().item<double>(), std_want, 0.1 * std_want) << n;
    }
  }
  const auto pad = cfg.value("pad_token_id", 1);
  EXPECT_EQ(a.module->named_parameters()["roberta.embeddings.word_embeddings.weight"][pad].abs().max().item<double>(), 0.0);

  // Masked-LM from scratch on real text: the loss falls.
  {
    std::ofstream f(tmp.file("train.txt"));
    for (int rep = 0; rep < 4; ++rep) {
      for (const auto& [en, other] : kPairs) f << en << " — " << other << "\n";
    }
  }
  auto o = base_options(tmp, train::Task::kMlm, tmp.file("cfg"));
  o.init_from_config = true;
  o.train_path = tmp.file("train.txt");
  o.max_steps = 30;
  o.lr = 5e-3;
  o.shuffle = true;
  auto r = train::finetune(o);
  ASSERT_EQ(r.steps.size(), 30u);
  EXPECT_LT((r.steps[28].loss + r.steps[29].loss) / 2, (r.steps[0].loss + r.steps[1].loss) / 2);
  auto back = models::load_model(o.output_dir);
  EXPECT_EQ(dynamic_cast<const io::BertConfig&>(*back.config).hidden_size, 48);
}
