// Training goldens: 5 AdamW steps of XLM-R sequence classification (losses, grad norms,
// step-0 gradients, parameters after 5 steps), label-smoothed cross-entropy on stored M2M-100
// logits, and sentence-transformers' MultipleNegativesRankingLoss; plus the trainer's input
// errors.
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/json.hpp"
#include "io/checkpoint.hpp"
#include "layers/torch_runtime.hpp"
#include "layers/weights.hpp"
#include "models/peft.hpp"
#include "models/registry.hpp"
#include "tasks/sentence_encoder.hpp"
#include "tokenize/tokenizer.hpp"
#include "train/data.hpp"
#include "train/losses.hpp"
#include "train/trainer.hpp"
#include "train/weight_arithmetic.hpp"
#include "../unit/test_util.hpp"
#include "xling/errors.hpp"

namespace fs = std::filesystem;
using namespace xling;

namespace {

const fs::path kTraining = fs::path(XLING_FIXTURES) / "training";

torch::Tensor tensor(const io::Checkpoint& c, const std::string& name) {
  return layers::tensor_from_view(c.at(name), c.owner(name));
}

// The golden batch as pre-tokenized JSONL rows (the mask's padding is dropped by the reader).
void write_rows(const io::Checkpoint& g, const std::string& path) {
  auto ids = tensor(g, "input_ids"), mask = tensor(g, "attention_mask"), labels = tensor(g, "labels");
  std::ofstream out(path);
  for (int64_t i = 0; i < ids.size(0); ++i) {
    nlohmann::json row;
    std::vector<int64_t> a(ids[i].data_ptr<int64_t>(), ids[i].data_ptr<int64_t>() + ids.size(1));
    std::vector<int64_t> m(mask[i].data_ptr<int64_t>(), mask[i].data_ptr<int64_t>() + mask.size(1));
    row["input_ids"] = a;
    row["attention_mask"] = m;
    row["label"] = labels[i].item<int64_t>();
    out << row.dump() << "\n";
  }
}

}  // namespace

TEST(TrainingGolden, XlmRobertaSeqClsFiveAdamWSteps) {
  layers::set_threads(0);
  const fs::path dir = kTraining / "xlm_roberta_seqcls";
  auto meta = core::read_json_file((dir / "golden.json").string());
  auto golden = io::Checkpoint::open((dir / "golden.safetensors").string());
  xling::testing::ScratchDir tmp;
  write_rows(golden, tmp.file("train.jsonl"));
  train::TrainOptions o;
  o.model_dir = (dir / "init").string();
  o.train_path = tmp.file("train.jsonl");
  o.output_dir = tmp.file("out");
  o.dump_grads_dir = tmp.file("grads");
  o.batch_size = static_cast<std::size_t>(tensor(golden, "input_ids").size(0));
  o.max_steps = static_cast<int64_t>(meta["losses"].size());
  o.lr = 1e-3;
  o.weight_decay = 0.01;
  o.decay_all = true;
  o.max_grad_norm = meta["clip_grad_norm"].get<double>();
  o.schedule = train::Schedule::kConstant;
  o.shuffle = false;
  o.quiet = true;
  auto result = train::finetune(o);
  ASSERT_EQ(result.steps.size(), meta["losses"].size());
  for (std::size_t i = 0; i < result.steps.size(); ++i) {
    const double loss = meta["losses"][i].get<double>(), norm = meta["grad_norms_before_clip"][i].get<double>();
    EXPECT_NEAR(result.steps[i].loss, loss, 1e-5 * std::abs(loss)) << "step " << i + 1;
    EXPECT_NEAR(result.steps[i].grad_norm, norm, 1e-5 * std::abs(norm)) << "step " << i + 1;
    EXPECT_EQ(result.steps[i].step, static_cast<int64_t>(i) + 1);
  }
  auto grads = io::Checkpoint::open((fs::path(o.dump_grads_dir) / "grads.safetensors").string());
  auto after = io::Checkpoint::open((fs::path(o.output_dir) / "model.safetensors").string());
  int compared = 0;
  double worst_grad = 0, worst_param = 0;
  for (const auto& name : golden.names()) {
    const bool key_bias = name.find("attention.self.key.bias") != std::string::npos;
    if (name.rfind("grad.", 0) == 0) {
      const std::string p = name.substr(5);
      auto got = tensor(grads, p);
      if (key_bias) {  // true gradient 0 (softmax is shift-invariant): only rounding noise either side
        EXPECT_LT(got.abs().max().item<double>(), 1e-6) << p;
        continue;
      }
      double err = (got - tensor(golden, name)).abs().max().item<double>();
      worst_grad = std::max(worst_grad, err);
      EXPECT_LE(err, 1e-5) << p;
      ++compared;
    } else if (name.rfind("after5.", 0) == 0 && !key_bias) {
      const std::string p = name.substr(7);
      double err = (tensor(after, p) - tensor(golden, name)).abs().max().item<double>();
      worst_param = std::max(worst_param, err);
      EXPECT_LE(err, 1e-5) << p;
      ++compared;
    }
  }
  EXPECT_GT(compared, 20);
  // The padding id's embedding row gets no gradient.
  auto cfg = core::read_json_file((dir / "init" / "config.json").string());
  auto emb = tensor(grads, "roberta.embeddings.word_embeddings.weight");
  EXPECT_EQ(emb[cfg["pad_token_id"].get<int64_t>()].abs().max().item<double>(), 0.0);
  // The output directory loads as the trained class.
  EXPECT_TRUE(fs::exists(fs::path(o.output_dir) / "config.json"));
  auto saved = core::read_json_file((fs::path(o.output_dir) / "config.json").string());
  EXPECT_EQ(saved["architectures"][0], "XLMRobertaForSequenceClassification");
  std::cout << fmt::format("[golden] training/xlm_roberta_seqcls: {} tensors, max abs error grads {:.3g}, params after {} steps {:.3g}\n",
                           compared, worst_grad, o.max_steps, worst_param);
}

TEST(TrainingGolden, M2M100LabelSmoothedCrossEntropy) {
  const fs::path dir = kTraining / "m2m100_loss";
  auto meta = core::read_json_file((dir / "golden.json").string());
  auto g = io::Checkpoint::open((dir / "golden.safetensors").string());
  auto logits = tensor(g, "logits"), labels = tensor(g, "labels");
  int n = 0;
  for (const auto& [eps, want] : meta["cross_entropy_mean_by_label_smoothing"].items()) {
    double got = train::token_cross_entropy(logits, labels, std::stod(eps)).item<double>();
    EXPECT_NEAR(got, want.get<double>(), 1e-5 * std::abs(want.get<double>())) << "label smoothing " << eps;
    ++n;
  }
  EXPECT_GE(n, 2);
}

TEST(TrainingGolden, MultipleNegativesRankingLoss) {
  const fs::path st = fs::path(XLING_FIXTURES) / "sentence_transformers";
  auto meta = core::read_json_file((st / "mnrl_golden.json").string());
  auto enc = tasks::SentenceEncoder::load((st / meta["model"].get<std::string>()).string());
  tasks::EncodeOptions opt;
  auto a = enc.encode(meta["anchors"].get<std::vector<std::string>>(), opt);
  auto b = enc.encode(meta["positives"].get<std::vector<std::string>>(), opt);
  double got = train::multiple_negatives_ranking_loss(a, b, meta["scale"].get<double>()).item<double>();
  const double want = meta["loss"].get<double>();
  EXPECT_NEAR(got, want, 1e-5 * std::abs(want));
  // Swapping the pairs' order changes nothing (targets follow the rows); symmetric averages both ways.
  auto perm = torch::flip(torch::arange(a.size(0)), {0});
  EXPECT_NEAR(train::multiple_negatives_ranking_loss(a.index({perm}), b.index({perm}), 20.0).item<double>(), got, 1e-5);
  auto sym = train::multiple_negatives_ranking_loss(a, b, 20.0, /*symmetric=*/true).item<double>();
  auto back = train::multiple_negatives_ranking_loss(b, a, 20.0).item<double>();
  EXPECT_NEAR(sym, (got + back) / 2, 1e-5);
}

TEST(TrainingErrors, BadInputsFailBeforeTraining) {
  const fs::path init = kTraining / "xlm_roberta_seqcls" / "init";
  xling::testing::ScratchDir tmp;
  auto run = [&](const std::string& train_rows, const std::string& eval_rows = "") {
    std::ofstream(tmp.file("t.jsonl")) << train_rows;
    train::TrainOptions o;
    o.model_dir = init.string();
    o.train_path = tmp.file("t.jsonl");
    if (!eval_rows.empty()) {
      std::ofstream(tmp.file("d.jsonl")) << eval_rows;
      o.eval_paths = {tmp.file("d.jsonl")};
    }
    o.output_dir = tmp.file("out");
    o.max_steps = 1;
    o.quiet = true;
    try {
      train::finetune(o);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  auto expect_has = [](const std::string& msg, const std::string& part) {
    EXPECT_NE(msg.find(part), std::string::npos) << msg;
  };
  expect_has(run(""), "empty");
  expect_has(run("{\"input_ids\": [0, 5, 2]}\n"), "t.jsonl:1: no label");
  expect_has(run("{\"input_ids\": [0, 5, 2], \"label\": 1}\n", "{\"input_ids\": [0, 6, 2], \"label\": 7}\n"), "d.jsonl:1");
  expect_has(run("{\"input_ids\": [0, 5, 2], \"label\": \"pos\"}\n{\"input_ids\": [0, 5, 2], \"label\": 1}\n"), "mix");
  expect_has(run("{\"input_ids\": [0, 999999, 2], \"label\": 1}\n"), "outside the model's vocabulary");
  expect_has(run("{\"input_ids\": [0, 5, 2], \"label\": 1}\nnot json\n"), "t.jsonl:2");
  EXPECT_FALSE(fs::exists(tmp.file("out")));  // nothing written on error
}

// Every task and label kind trains: on a fixed small set the loss falls by half, and the saved
// directory loads back as the task's class with the same number of labels.
struct TaskCase {
  const char* name;
  train::Task task;
  const char* rows;  // JSONL
  std::size_t labels;
};

class TrainingTasks : public ::testing::TestWithParam<TaskCase> {};

TEST_P(TrainingTasks, LossFallsAndTheOutputReloads) {
  layers::set_threads(0);
  const auto& c = GetParam();
  xling::testing::ScratchDir tmp;
  std::ofstream(tmp.file("t.jsonl")) << c.rows;
  train::TrainOptions o;
  o.task = c.task;
  o.model_dir = (fs::path(XLING_FIXTURES) / "sentence_transformers" / "e5_like_mean").string();
  o.train_path = tmp.file("t.jsonl");
  o.output_dir = tmp.file("out");
  o.max_steps = 40;
  o.batch_size = 4;
  o.lr = 3e-3;
  o.shuffle = false;
  o.quiet = true;
  auto r = train::finetune(o);
  ASSERT_EQ(r.steps.size(), 40u);
  auto first = (r.steps[0].loss + r.steps[1].loss) / 2, last = (r.steps[38].loss + r.steps[39].loss) / 2;
  EXPECT_LT(last, 0.5 * first) << c.name << ": " << first << " -> " << last;
  auto back = models::load_model(o.output_dir);
  EXPECT_EQ(back.config->num_labels, static_cast<int64_t>(c.labels)) << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    Tasks, TrainingTasks,
    ::testing::Values(
        TaskCase{"named_labels", train::Task::kSeqCls,
                 "{\"text\": \"Deutschland\", \"label\": \"country\"}\n{\"text\": \"Deutsch\", \"label\": \"language\"}\n"
                 "{\"text\": \"Frankreich\", \"label\": \"country\"}\n{\"text\": \"Französisch\", \"label\": \"language\"}\n"
                 "{\"text\": \"Japan\", \"label\": \"country\"}\n{\"text\": \"日本語\", \"label\": \"language\"}\n"
                 "{\"text\": \"Россия\", \"label\": \"country\"}\n{\"text\": \"русский\", \"label\": \"language\"}\n",
                 2},
        TaskCase{"regression", train::Task::kSeqCls,
                 "{\"text\": \"a\", \"label\": 0.1}\n{\"text\": \"bb bb\", \"label\": 0.9}\n{\"text\": \"ccc\", \"label\": 0.3}\n"
                 "{\"text\": \"dd dd dd\", \"label\": 0.7}\n",
                 1},
        TaskCase{"multi_label", train::Task::kSeqCls,
                 "{\"text\": \"news sport\", \"label\": [\"news\", \"sport\"]}\n{\"text\": \"sport\", \"label\": [\"sport\"]}\n"
                 "{\"text\": \"news\", \"label\": [\"news\"]}\n{\"text\": \"weather\", \"label\": []}\n",
                 2},
        TaskCase{"pairs", train::Task::kPairCls,
                 "{\"premise\": \"Ich esse.\", \"hypothesis\": \"Ich esse.\", \"label\": \"entailment\"}\n"
                 "{\"premise\": \"Je dors.\", \"hypothesis\": \"Je mange.\", \"label\": \"contradiction\"}\n"
                 "{\"premise\": \"Yo leo.\", \"hypothesis\": \"Yo leo.\", \"label\": \"entailment\"}\n"
                 "{\"premise\": \"I run.\", \"hypothesis\": \"I sit.\", \"label\": \"contradiction\"}\n",
                 2},
        TaskCase{"tokens", train::Task::kTokenCls,
                 "{\"input_ids\": [0, 10, 11, 12, 2], \"labels\": [-100, 1, 0, 2, -100]}\n"
                 "{\"input_ids\": [0, 13, 14, 2], \"labels\": [-100, 2, 1, -100]}\n"
                 "{\"input_ids\": [0, 15, 10, 16, 17, 2], \"labels\": [-100, 0, 1, 0, 2, -100]}\n",
                 3}),
    [](const auto& info) { return std::string(info.param.name); });

// Checkpoint averaging and task-vector merging, against the arithmetic done here on the tensors.
TEST(WeightArithmetic, AverageAndMerge) {
  xling::testing::ScratchDir tmp;
  const fs::path init = kTraining / "xlm_roberta_seqcls" / "init";
  // Two more "checkpoints": the fixture model trained 1 and 3 steps.
  std::ofstream(tmp.file("t.jsonl")) << "{\"input_ids\": [0, 5, 6, 2], \"label\": 1}\n{\"input_ids\": [0, 7, 2], \"label\": 0}\n";
  for (int steps : {1, 3}) {
    train::TrainOptions o;
    o.model_dir = init.string();
    o.train_path = tmp.file("t.jsonl");
    o.output_dir = tmp.file("s" + std::to_string(steps));
    o.max_steps = steps;
    o.lr = 1e-2;
    o.quiet = true;
    train::finetune(o);
  }
  const std::vector<std::string> dirs = {init.string(), tmp.file("s1"), tmp.file("s3")};
  train::average_checkpoints(dirs, tmp.file("avg"));
  train::merge_checkpoints(tmp.file("s3"), tmp.file("s1"), init.string(), 0.5, tmp.file("merged"));
  std::vector<io::Checkpoint> c;
  for (const auto& d : dirs) c.push_back(io::Checkpoint::open(d));
  auto avg = io::Checkpoint::open(tmp.file("avg")), merged = io::Checkpoint::open(tmp.file("merged"));
  EXPECT_EQ(avg.names(), c[0].names());
  for (const auto& n : c[0].names()) {
    auto a = tensor(c[0], n).to(torch::kFloat64), b = tensor(c[1], n).to(torch::kFloat64), d = tensor(c[2], n).to(torch::kFloat64);
    EXPECT_TRUE(torch::allclose(tensor(avg, n).to(torch::kFloat64), (a + b + d) / 3, 0, 1e-6)) << n;
    EXPECT_TRUE(torch::allclose(tensor(merged, n).to(torch::kFloat64), d + 0.5 * (b - a), 0, 1e-6)) << n;
  }
  EXPECT_TRUE(fs::exists(tmp.file("avg/config.json")));
  // Checkpoints of different models are refused with the tensor named.
  try {
    train::average_checkpoints({init.string(), (fs::path(XLING_FIXTURES) / "models" / "bert__BertModel").string()},
                               tmp.file("bad"));
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("missing in"), std::string::npos) << e.what();
  }
}

// LoRA and BitFit train only what they should, and what they save reloads to the same outputs:
// the LoRA adapter (PEFT format) applied to the base, merged into it, or saved merged by the
// trainer; BitFit's full model with every non-bias, non-head weight unchanged.
TEST(TrainingPeft, LoraAndBitFitSaveAndReloadIdentically) {
  layers::set_threads(0);
  xling::testing::ScratchDir tmp;
  const fs::path base = fs::path(XLING_FIXTURES) / "sentence_transformers" / "e5_like_mean";
  std::ofstream(tmp.file("t.jsonl"))
      << "{\"text\": \"Deutschland\", \"label\": \"country\"}\n{\"text\": \"Deutsch\", \"label\": \"language\"}\n"
         "{\"text\": \"Frankreich\", \"label\": \"country\"}\n{\"text\": \"Französisch\", \"label\": \"language\"}\n";
  auto train_with = [&](const std::string& peft, const std::string& out, bool merge) {
    train::TrainOptions o;
    o.model_dir = base.string();
    o.train_path = tmp.file("t.jsonl");
    o.output_dir = tmp.file(out);
    o.max_steps = 12;
    o.batch_size = 2;
    o.lr = 1e-2;
    o.peft = peft;
    o.lora_r = 4;
    o.merge_adapter = merge;
    o.quiet = true;
    return train::finetune(o);
  };
  auto lora = train_with("lora", "lora", false);
  EXPECT_LT(lora.trainable_params * 20, lora.total_params);  // a small fraction
  EXPECT_TRUE(fs::exists(tmp.file("lora/adapter_config.json")));
  EXPECT_FALSE(fs::exists(tmp.file("lora/model.safetensors")));
  train_with("lora", "lora_merged", true);
  train_with("bitfit", "bitfit", false);
  models::NamedTensors in = {{"input_ids", torch::tensor({{0, 2391, 83, 5, 2}, {0, 61, 1631, 2, 1}})},
                             {"attention_mask", torch::tensor({{1, 1, 1, 1, 1}, {1, 1, 1, 1, 0}})}};
  torch::InferenceMode guard;
  auto with_adapter = [&](bool merge) {
    auto m = models::load_model(base.string(), models::LoadOptions::for_class("XLMRobertaForSequenceClassification", false));
    models::apply_adapter(m, models::load_adapter(tmp.file("lora")));
    if (merge) models::merge_adapter(*m.module);
    return m.forward(in).at("logits");
  };
  auto applied = with_adapter(false), merged = with_adapter(true);
  auto saved_merged = models::load_model(tmp.file("lora_merged")).forward(in).at("logits");
  EXPECT_LT((applied - merged).abs().max().item<double>(), 1e-5);
  EXPECT_LT((applied - saved_merged).abs().max().item<double>(), 1e-5);
  // BitFit: only biases and the head move.
  auto before = io::Checkpoint::open(base.string()), after = io::Checkpoint::open(tmp.file("bitfit"));
  int moved = 0;
  for (const auto& n : after.names()) {
    if (n.rfind("classifier", 0) == 0) continue;
    const std::string bare = n.rfind("roberta.", 0) == 0 ? n.substr(8) : n;
    auto same = torch::equal(tensor(after, n), tensor(before, bare));
    if (n.ends_with("bias")) moved += same ? 0 : 1;
    else EXPECT_TRUE(same) << n;
  }
  EXPECT_GT(moved, 0);
}

// Layer-wise lr decay scales each layer's first Adam update (|update| ~ lr * scale on step 1);
// --metric-for-best keeps OUTPUT/best and early stopping ends a run that stops improving.
TEST(TrainingOptions, LayerwiseLrDecayAndEarlyStopping) {
  layers::set_threads(0);
  xling::testing::ScratchDir tmp;
  const fs::path init = kTraining / "xlm_roberta_seqcls" / "init";
  std::ofstream(tmp.file("t.jsonl")) << "{\"input_ids\": [0, 5, 6, 7, 2], \"label\": 1}\n"
                                        "{\"input_ids\": [0, 8, 9, 2], \"label\": 0}\n";
  auto one_step = [&](double decay, const std::string& out) {
    train::TrainOptions o;
    o.model_dir = init.string();
    o.train_path = tmp.file("t.jsonl");
    o.output_dir = tmp.file(out);
    o.max_steps = 1;
    o.lr = 1e-3;
    o.layer_lr_decay = decay;
    o.max_grad_norm = 0;
    o.quiet = true;
    train::finetune(o);
    return io::Checkpoint::open(tmp.file(out));
  };
  auto plain = one_step(1.0, "plain"), decayed = one_step(0.5, "decayed");
  auto before = io::Checkpoint::open(init.string());
  auto cfg = core::read_json_file((init / "config.json").string());
  const int layers = cfg["num_hidden_layers"].get<int>();
  auto moved = [&](const io::Checkpoint& c, const std::string& n) {
    return (tensor(c, n) - tensor(before, n)).abs().max().item<double>();
  };
  const std::string l0 = "roberta.encoder.layer.0.intermediate.dense.weight";
  EXPECT_NEAR(moved(decayed, l0) / moved(plain, l0), std::pow(0.5, layers), 1e-3);
  EXPECT_NEAR(moved(decayed, "classifier.out_proj.weight") / moved(plain, "classifier.out_proj.weight"), 1.0, 1e-3);
  // A run whose dev metric cannot move (a vanishing lr) keeps its first evaluation as the best
  // and stops after `patience` more.
  train::TrainOptions o;
  o.model_dir = init.string();
  o.train_path = tmp.file("t.jsonl");
  o.eval_paths = {tmp.file("t.jsonl")};
  o.output_dir = tmp.file("es");
  o.max_steps = 50;
  o.batch_size = 1;
  o.lr = 1e-12;
  o.eval_steps = 2;
  o.metric_for_best = "accuracy";
  o.early_stopping_patience = 2;
  o.quiet = true;
  auto r = train::finetune(o);
  EXPECT_EQ(r.steps.size(), 6u);  // best at step 2, no gain at 4 and 6
  EXPECT_TRUE(fs::exists(tmp.file("es/best/model.safetensors")));
  EXPECT_TRUE(fs::exists(tmp.file("es/model.safetensors")));
}

// TSV and CSV rows (header line; CSV quoting with commas, quotes and line breaks inside fields)
// read as the same examples as their JSONL twin; errors name the file and line.
TEST(TrainingData, TsvAndCsvReadLikeJsonl) {
  xling::testing::ScratchDir tmp;
  const fs::path model = fs::path(XLING_FIXTURES) / "sentence_transformers" / "e5_like_mean";
  auto tok = tokenize::Tokenizer::from_file(model.string());
  std::ofstream(tmp.file("a.jsonl")) << "{\"text\": \"Paris, France\", \"label\": \"country\"}\n"
                                        "{\"text\": \"1999\", \"label\": \"number\"}\n"
                                        "{\"text\": \"say \\\"hi\\\"\\nnow\", \"label\": \"country\"}\n";
  std::ofstream(tmp.file("a.csv")) << "text,label\n\"Paris, France\",country\n1999,number\n\"say \"\"hi\"\"\nnow\",country\n";
  std::ofstream(tmp.file("a.tsv")) << "label\ttext\ncountry\tParis, France\nnumber\t1999\n";
  train::ReadOptions ro;
  auto labels = train::scan_labels(tmp.file("a.jsonl"), train::Task::kSeqCls, {});
  auto want = train::read_examples(tmp.file("a.jsonl"), &tok, labels, ro);
  auto csv = train::read_examples(tmp.file("a.csv"), &tok, train::scan_labels(tmp.file("a.csv"), train::Task::kSeqCls, {}), ro);
  auto tsv = train::read_examples(tmp.file("a.tsv"), &tok, train::scan_labels(tmp.file("a.tsv"), train::Task::kSeqCls, {}), ro);
  ASSERT_EQ(csv.size(), want.size());
  ASSERT_EQ(tsv.size(), 2u);
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(csv[i].input_ids, want[i].input_ids) << i;
    EXPECT_EQ(csv[i].labels, want[i].labels) << i;
    if (i < 2) EXPECT_EQ(tsv[i].input_ids, want[i].input_ids) << i;
  }
  // Regression labels are numbers in a CSV too.
  std::ofstream(tmp.file("r.csv")) << "sentence1,sentence2,score\na,b,0.5\nc,d,4\n";
  auto r = train::scan_labels(tmp.file("r.csv"), train::Task::kPairCls, {});
  EXPECT_EQ(r.kind, train::LabelKind::kRegression);
  auto msg = [&](const std::string& body, const std::string& name) {
    std::ofstream(tmp.file(name)) << body;
    try {
      train::scan_labels(tmp.file(name), train::Task::kSeqCls, {});
      train::read_examples(tmp.file(name), &tok, labels, ro);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(msg("text,label\na,country,extra\n", "b.csv").find("b.csv:2: 3 fields, the header has 2"), std::string::npos);
  EXPECT_NE(msg("text,label\n\"open,country\n", "c.csv").find("c.csv:2: a quoted field is not closed"), std::string::npos);
  EXPECT_NE(msg("text\tlabel\n", "d.tsv").find("no rows after the header"), std::string::npos);
  EXPECT_NE(msg("text\tlabel\nx\xff\tcountry\n", "e.tsv").find("e.tsv:2: invalid UTF-8"), std::string::npos);
}
