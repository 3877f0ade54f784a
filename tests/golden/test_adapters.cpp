// Prompt tuning and bottleneck adapters on the fixture encoders (XLM-R and BERT): fresh adapters
// keep the base model's logits, prompts follow PEFT's mask / token-type / position rules (a
// padded batch equals its rows run alone), save + load reproduce the logits, a few SGD steps
// move only the adapter (+ head) parameters, and malformed adapters fail naming the file.
// Parity with the real PEFT: tools/parity/checks_adapters.py.
#include <filesystem>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/json.hpp"
#include "io/checkpoint.hpp"
#include "io/safetensors_writer.hpp"
#include "layers/weights.hpp"
#include "models/adapters.hpp"
#include "models/bert.hpp"
#include "models/peft.hpp"
#include "models/registry.hpp"
#include "../unit/test_util.hpp"
#include "xling/errors.hpp"

namespace fs = std::filesystem;
using namespace xling;

namespace {

const fs::path kModels = fs::path(XLING_FIXTURES) / "models";
const std::string kXlmrSeq = (kModels / "xlm_roberta__XLMRobertaForSequenceClassification").string();
const std::string kXlmrTok = (kModels / "xlm_roberta__XLMRobertaForTokenClassification").string();
const std::string kBertSeq = (kModels / "bert__BertForSequenceClassification").string();
const std::string kBertTok = (kModels / "bert__BertForTokenClassification").string();

// The fixture's right-padded batch: input_ids, attention_mask (+ token_type_ids for BERT).
models::NamedTensors golden_inputs(const std::string& dir) {
  auto golden = io::Checkpoint::open((fs::path(dir) / "golden.safetensors").string());
  models::NamedTensors in;
  for (const char* k : {"input_ids", "attention_mask", "token_type_ids"}) {
    if (golden.find(k)) in[k] = layers::tensor_from_view(golden.at(k), golden.owner(k)).to(torch::kLong).clone();
  }
  return in;
}

models::NamedTensors run(models::LoadedModel& m, const models::NamedTensors& in) {
  torch::InferenceMode guard;
  return m.forward(in);
}

torch::Tensor logits(models::LoadedModel& m, const models::NamedTensors& in) { return run(m, in).at("logits"); }

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

std::set<std::string> parameter_names(torch::nn::Module& m, const std::string& needle) {
  std::set<std::string> out;
  for (const auto& p : m.named_parameters()) {
    if (p.key().find(needle) != std::string::npos) out.insert(p.key());
  }
  return out;
}

// Gives every adapter parameter (names holding ".adapter.") random non-zero values.
void randomize_adapters(torch::nn::Module& m, uint64_t seed) {
  torch::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  for (auto& p : m.named_parameters()) {
    if (p.key().find(".adapter.") != std::string::npos) p.value().normal_(0.0, 0.3, gen);
  }
}

// Changes the head so that a saved adapter's modules_to_save differ from the base checkpoint's.
void perturb_head(torch::nn::Module& m) {
  torch::NoGradGuard no_grad;
  for (auto& p : m.named_parameters()) {
    if (p.key().rfind("classifier.", 0) == 0) p.value().set_data(p.value() * 1.5 + 0.1);
  }
}

std::set<std::string> file_keys(const std::string& dir) {
  auto ckpt = io::Checkpoint::open((fs::path(dir) / "adapter_model.safetensors").string());
  auto names = ckpt.names();
  return {names.begin(), names.end()};
}

models::BottleneckConfig bottleneck_config(models::BottleneckKind kind) {
  models::BottleneckConfig c;
  c.kind = kind;
  c.reduction_factor = 4;  // 32 -> 8
  c.non_linearity = kind == models::BottleneckKind::kHoulsby ? "swish" : "relu";
  c.task_type = "SEQ_CLS";
  c.modules_to_save = {"classifier"};
  return c;
}

// Plain SGD on the loss of `in` (with labels) for `steps` steps, training only the parameters
// `trainable` accepts; returns every parameter's value before training.
template <typename Pred>
std::map<std::string, torch::Tensor> sgd(models::LoadedModel& m, const models::NamedTensors& in, int steps, Pred trainable) {
  std::map<std::string, torch::Tensor> before;
  std::vector<torch::Tensor> params;
  for (auto& p : m.module->named_parameters()) {
    before[p.key()] = p.value().detach().clone();
    const bool train = trainable(p.key());
    p.value().set_requires_grad(train);
    if (train) params.push_back(p.value());
  }
  EXPECT_FALSE(params.empty());
  m.module->train();
  torch::optim::SGD opt(params, torch::optim::SGDOptions(0.5));
  for (int i = 0; i < steps; ++i) {
    opt.zero_grad();
    auto loss = m.forward(in).at("loss");
    loss.backward();
    opt.step();
  }
  m.module->eval();
  return before;
}

bool is_head(const std::string& name) { return name.rfind("classifier.", 0) == 0; }

}  // namespace

// (a) A fresh adapter has a zero up-projection: the logits are the base model's.
TEST(AdapterBottleneck, FreshAdaptersKeepLogits) {
  for (const auto& dir : {kXlmrSeq, kBertTok}) {
    for (auto kind : {models::BottleneckKind::kPfeiffer, models::BottleneckKind::kHoulsby}) {
      SCOPED_TRACE(fmt::format("{} {}", dir, models::bottleneck_kind_name(kind)));
      auto m = models::load_model(dir);
      const auto in = golden_inputs(dir);
      const auto base = logits(m, in);
      const int added = models::add_bottleneck_adapters(*m.module, bottleneck_config(kind), /*seed=*/1);
      const bool houlsby = kind == models::BottleneckKind::kHoulsby;
      EXPECT_EQ(added, houlsby ? 4 : 2);  // 2 layers
      const auto names = parameter_names(*m.module, ".adapter.");
      EXPECT_EQ(names.size(), 4u * added);
      const std::string layer0 = dir == kXlmrSeq ? "roberta.encoder.layer.0." : "bert.encoder.layer.0.";
      EXPECT_TRUE(names.count(layer0 + "output.adapter.down.weight"));
      EXPECT_EQ(names.count(layer0 + "attention.output.adapter.up.bias"), houlsby ? 1u : 0u);
      auto params = m.module->named_parameters();
      EXPECT_EQ(params[layer0 + "output.adapter.down.weight"].sizes(), (at::IntArrayRef{8, 32}));
      EXPECT_GT(params[layer0 + "output.adapter.down.weight"].abs().max().item<double>(), 0.0);
      EXPECT_EQ(params[layer0 + "output.adapter.up.weight"].abs().max().item<double>(), 0.0);
      EXPECT_LE(max_diff(logits(m, in), base), 1e-6);
      // Non-zero adapters change the result (the adapters are on the path).
      randomize_adapters(*m.module, 2);
      EXPECT_GT(max_diff(logits(m, in), base), 1e-3);
    }
  }
}

// The adapter block is AdapterHub's: houlsby LN(h + up(act(down(h))) + r), pfeiffer reads LN(h + r).
TEST(AdapterBottleneck, BlockFormulas) {
  torch::manual_seed(0);
  layers::LayerNorm norm(6, 1e-5);
  {
    torch::NoGradGuard no_grad;
    norm->weight.normal_();
    norm->bias.normal_();
  }
  auto h = torch::randn({4, 6}), r = torch::randn({4, 6});
  for (bool pfeiffer : {false, true}) {
    layers::BottleneckAdapter a(6, 2, io::Activation::kRelu, pfeiffer);
    torch::NoGradGuard no_grad;
    for (auto& p : a->parameters()) p.normal_();
    auto x = pfeiffer ? norm(h + r) : h;
    auto want = norm(h + torch::relu(x.matmul(a->down->weight.t()) + a->down->bias).matmul(a->up->weight.t()) +
                     a->up->bias + r);
    EXPECT_TRUE(torch::allclose(a->forward(h, r, *norm), want, 1e-5, 1e-5)) << "pfeiffer=" << pfeiffer;
  }
}

// (c) Non-zero adapters + a changed head, saved and applied to a fresh model: identical logits.
TEST(AdapterBottleneck, SaveLoadRoundTrip) {
  for (auto kind : {models::BottleneckKind::kPfeiffer, models::BottleneckKind::kHoulsby}) {
    SCOPED_TRACE(models::bottleneck_kind_name(kind));
    const auto cfg = bottleneck_config(kind);
    auto a = models::load_model(kXlmrSeq);
    const auto in = golden_inputs(kXlmrSeq);
    models::add_bottleneck_adapters(*a.module, cfg, 3);
    randomize_adapters(*a.module, 4);
    perturb_head(*a.module);
    const auto want = logits(a, in);
    xling::testing::ScratchDir dir;
    const std::string out = (dir.path() / "adapter").string();
    models::save_adapter(out, *a.module, cfg, models::base_model_prefix(*a.module));

    const auto keys = file_keys(out);
    EXPECT_TRUE(keys.count("base_model.model.roberta.encoder.layer.1.output.adapter.up.weight"));
    EXPECT_TRUE(keys.count("base_model.model.classifier.out_proj.weight"));
    EXPECT_EQ(keys.size(), 4u * (kind == models::BottleneckKind::kHoulsby ? 4 : 2) + 4);  // + classifier.{dense,out_proj}
    auto json = core::read_json_file((fs::path(out) / "adapter_config.json").string());
    EXPECT_EQ(json["peft_type"], "BOTTLENECK");
    EXPECT_EQ(json["adapter_kind"], models::bottleneck_kind_name(kind));
    EXPECT_EQ(json["reduction_factor"], 4);
    EXPECT_EQ(json["non_linearity"], cfg.non_linearity);

    auto adapter = models::load_adapter(out);
    EXPECT_EQ(adapter.type, models::PeftType::kBottleneck);
    EXPECT_EQ(adapter.config.task_type, "SEQ_CLS");  // the shared fields, for every type
    auto b = models::load_model(kXlmrSeq);
    auto report = models::apply_adapter(b, adapter);
    EXPECT_EQ(report.replaced.size(), 4u);
    EXPECT_EQ(report.added.size(), keys.size() - 4);
    EXPECT_TRUE(torch::equal(logits(b, in), want));
  }
}

// (d) SGD with only adapters + head trainable changes exactly those.
TEST(AdapterBottleneck, SgdTrainsOnlyAdapters) {
  auto m = models::load_model(kXlmrSeq);
  auto in = golden_inputs(kXlmrSeq);
  in["labels"] = torch::arange(in.at("input_ids").size(0)) % 2;
  models::add_bottleneck_adapters(*m.module, bottleneck_config(models::BottleneckKind::kHoulsby), 5);
  auto trainable = [](const std::string& n) { return n.find(".adapter.") != std::string::npos || is_head(n); };
  const auto before = sgd(m, in, 3, trainable);
  int trained = 0;
  for (auto& p : m.module->named_parameters()) {
    EXPECT_EQ(torch::equal(p.value().detach(), before.at(p.key())), !trainable(p.key())) << p.key();
    trained += trainable(p.key());
  }
  EXPECT_EQ(trained, 16 + 4);  // 4 adapters x 4 tensors + classifier.{dense,out_proj}.{weight,bias}
}

// (b) A prompt changes the logits; the padded batch equals each row run alone (PEFT: ones in
// the mask, zeros in the token types, positions counted over prompt + tokens).
TEST(PromptTuning, PaddedBatchMatchesRowsAlone) {
  for (const auto& dir : {kXlmrSeq, kXlmrTok, kBertSeq, kBertTok}) {
    SCOPED_TRACE(dir);
    auto m = models::load_model(dir);
    const auto in = golden_inputs(dir);
    const auto base = logits(m, in);
    models::add_prompt_tuning(*m.module, /*num_virtual_tokens=*/3, /*seed=*/7);
    EXPECT_EQ(parameter_names(*m.module, "prompt_embeddings"), (std::set<std::string>{"prompt_embeddings"}));
    const auto out = run(m, in);
    const auto& got = out.at("logits");
    ASSERT_EQ(got.sizes(), base.sizes());  // token logits cover the real tokens only
    EXPECT_GT(max_diff(got, base), 1e-3);
    const auto& ids = in.at("input_ids");
    EXPECT_EQ(out.at("hidden_states.0").size(1), ids.size(1) + 3);  // hidden states keep the prompt rows
    const auto mask = in.at("attention_mask");
    bool padded = false;
    for (int64_t i = 0; i < ids.size(0); ++i) {
      const int64_t len = mask[i].sum().item<int64_t>();
      padded = padded || len < ids.size(1);
      models::NamedTensors row;
      for (const auto& [k, v] : in) row[k] = v.narrow(0, i, 1).narrow(1, 0, len);
      auto alone = logits(m, row);
      auto batch = got.narrow(0, i, 1);
      if (got.dim() == 3) batch = batch.narrow(1, 0, len);
      EXPECT_LE(max_diff(batch, alone), 1e-5) << "row " << i;
    }
    EXPECT_TRUE(padded);  // the fixture batch does exercise padding
  }
}

// The embedding output is HF's for inputs_embeds = cat(prompt, word_embeddings(ids)): token type
// 0 and positions 0.. (BERT) or padding_idx + 1.. (XLM-R) over all N + T rows.
TEST(PromptTuning, EmbeddingsAsHfInputsEmbeds) {
  for (const auto& dir : {kXlmrSeq, kBertSeq}) {
    SCOPED_TRACE(dir);
    auto m = models::load_model(dir);
    auto in = golden_inputs(dir);
    models::add_prompt_tuning(*m.module, 4, 8);
    auto& bert = models::as_bert(*m.module, "test");
    auto& emb = *bert.backbone->embeddings;
    const auto& ids = in.at("input_ids");
    const int64_t b = ids.size(0), t = ids.size(1) + 4;
    torch::InferenceMode guard;
    auto words = torch::cat({bert.prompt_embeddings.unsqueeze(0).expand({b, 4, 32}), emb.word_embeddings(ids)}, 1);
    const int64_t start = dir == kXlmrSeq ? 2 : 0;  // XLM-R: padding_idx (1) + 1
    auto pos = torch::arange(start, start + t).unsqueeze(0).expand({b, t});
    auto types = torch::zeros({b, t}, torch::kLong);
    if (in.count("token_type_ids")) types.narrow(1, 4, t - 4).copy_(in.at("token_type_ids"));
    auto want = emb.LayerNorm(words + emb.token_type_embeddings(types) + emb.position_embeddings(pos));
    EXPECT_LE(max_diff(run(m, in).at("hidden_states.0"), want), 1e-6);
  }
}

// (c) Prompt + head saved in PEFT's layout and applied to a fresh model: identical logits.
TEST(PromptTuning, SaveLoadRoundTrip) {
  for (const auto& dir : {kXlmrSeq, kBertTok}) {
    SCOPED_TRACE(dir);
    auto a = models::load_model(dir);
    const auto in = golden_inputs(dir);
    models::add_prompt_tuning(*a.module, 5, 9);
    perturb_head(*a.module);
    const auto want = logits(a, in);
    models::PromptTuningConfig cfg;
    cfg.task_type = dir == kXlmrSeq ? "SEQ_CLS" : "TOKEN_CLS";
    cfg.modules_to_save = {"classifier", "score"};
    cfg.base_model_name_or_path = dir;
    xling::testing::ScratchDir scratch;
    const std::string out = (scratch.path() / "prompt").string();
    models::save_adapter(out, *a.module, cfg, models::base_model_prefix(*a.module));

    const auto keys = file_keys(out);
    EXPECT_TRUE(keys.count("prompt_embeddings"));
    EXPECT_TRUE(keys.count(dir == kXlmrSeq ? "base_model.classifier.dense.weight" : "base_model.classifier.weight"));
    auto json = core::read_json_file((fs::path(out) / "adapter_config.json").string());
    EXPECT_EQ(json["peft_type"], "PROMPT_TUNING");
    EXPECT_EQ(json["task_type"], cfg.task_type);
    EXPECT_EQ(json["num_virtual_tokens"], 5);
    EXPECT_EQ(json["token_dim"], 32);
    EXPECT_EQ(json["num_transformer_submodules"], 1);
    EXPECT_EQ(json["num_layers"], 2);
    EXPECT_EQ(json["num_attention_heads"], 4);
    EXPECT_EQ(json["prompt_tuning_init"], "RANDOM");

    auto adapter = models::load_adapter(out);
    EXPECT_EQ(adapter.type, models::PeftType::kPromptTuning);
    EXPECT_EQ(adapter.config.task_type, cfg.task_type);
    auto b = models::load_model(dir);
    auto report = models::apply_adapter(b, adapter);
    EXPECT_EQ(report.added, std::vector<std::string>{"prompt_embeddings"});
    EXPECT_EQ(report.replaced.size(), dir == kXlmrSeq ? 4u : 2u);
    EXPECT_TRUE(torch::equal(logits(b, in), want));
    // The applied prompt is a copy: changing one model's leaves the other alone.
    {
      torch::NoGradGuard no_grad;
      models::as_bert(*b.module, "test").prompt_embeddings.add_(1.0);
    }
    EXPECT_TRUE(torch::equal(logits(a, in), want));
  }
}

// (d) SGD with only the prompt + head trainable; token-classification labels align with the
// real tokens.
TEST(PromptTuning, SgdTrainsOnlyPromptAndHead) {
  for (const auto& dir : {kXlmrSeq, kBertTok}) {
    SCOPED_TRACE(dir);
    auto m = models::load_model(dir);
    auto in = golden_inputs(dir);
    const auto& ids = in.at("input_ids");
    if (dir == kBertTok) {
      in["labels"] = torch::where(in.at("attention_mask") == 1, ids % 3, torch::full_like(ids, -100));
    } else {
      in["labels"] = torch::arange(ids.size(0)) % 2;
    }
    models::add_prompt_tuning(*m.module, 3, 10);
    auto trainable = [](const std::string& n) { return n == "prompt_embeddings" || is_head(n); };
    const auto before = sgd(m, in, 3, trainable);
    for (auto& p : m.module->named_parameters()) {
      EXPECT_EQ(torch::equal(p.value().detach(), before.at(p.key())), !trainable(p.key())) << p.key();
    }
  }
}

// (e) Errors name the file and what is wrong.
TEST(AdapterErrors, UnknownAdapterKind) {
  auto m = models::load_model(kXlmrSeq);
  models::add_bottleneck_adapters(*m.module, bottleneck_config(models::BottleneckKind::kPfeiffer), 1);
  xling::testing::ScratchDir dir;
  const std::string out = (dir.path() / "a").string();
  models::save_adapter(out, *m.module, bottleneck_config(models::BottleneckKind::kPfeiffer), "");
  const std::string cfg_path = (fs::path(out) / "adapter_config.json").string();
  auto json = core::read_json_file(cfg_path);
  json["adapter_kind"] = "parallel";
  xling::testing::write_bytes(cfg_path, json.dump());
  auto msg = xling::testing::invalid_argument_message([&] { models::load_adapter(out); });
  EXPECT_NE(msg.find(cfg_path), std::string::npos) << msg;
  EXPECT_NE(msg.find("adapter_kind"), std::string::npos) << msg;
  EXPECT_NE(msg.find("parallel"), std::string::npos) << msg;

  // A pfeiffer file described as houlsby lacks the attention adapters.
  json["adapter_kind"] = "houlsby";
  xling::testing::write_bytes(cfg_path, json.dump());
  auto fresh = models::load_model(kXlmrSeq);
  msg = xling::testing::invalid_argument_message([&] { models::apply_adapter(fresh, models::load_adapter(out)); });
  EXPECT_NE(msg.find("adapter_model.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("layer.0.attention.output.adapter."), std::string::npos) << msg;
  EXPECT_TRUE(parameter_names(*fresh.module, ".adapter.").empty());  // nothing applied

  // Saving with a config that does not describe the model's adapters.
  auto other = bottleneck_config(models::BottleneckKind::kPfeiffer);
  other.reduction_factor = 2;
  msg = xling::testing::invalid_argument_message([&] { models::save_adapter(out, *m.module, other, ""); });
  EXPECT_NE(msg.find("reduction_factor 2"), std::string::npos) << msg;
  other = bottleneck_config(models::BottleneckKind::kPfeiffer);
  other.non_linearity = "gelu";
  msg = xling::testing::invalid_argument_message([&] { models::save_adapter(out, *m.module, other, ""); });
  EXPECT_NE(msg.find("gelu"), std::string::npos) << msg;
  other.non_linearity = "sparkle";
  msg = xling::testing::invalid_argument_message([&] { models::add_bottleneck_adapters(*m.module, other, 1); });
  EXPECT_NE(msg.find("non_linearity"), std::string::npos) << msg;
}

TEST(PromptErrors, WrongTokenDim) {
  xling::testing::ScratchDir dir;
  models::PromptTuningConfig cfg;
  cfg.num_virtual_tokens = 3;
  cfg.token_dim = 16;  // the fixtures have hidden_size 32
  cfg.task_type = "SEQ_CLS";
  xling::testing::write_bytes(dir.file("adapter_config.json"), cfg.to_json().dump());
  auto prompt = torch::randn({3, 16});
  io::write_safetensors(dir.file("adapter_model.safetensors"),
                        {{"prompt_embeddings", DType::kF32, {3, 16}, prompt.data_ptr(), static_cast<std::size_t>(prompt.nbytes())}});
  auto adapter = models::load_adapter(dir.path().string());
  auto m = models::load_model(kXlmrSeq);
  auto msg = xling::testing::invalid_argument_message([&] { models::apply_adapter(m, adapter); });
  EXPECT_NE(msg.find(dir.file("adapter_config.json")), std::string::npos) << msg;
  EXPECT_NE(msg.find("token_dim is 16"), std::string::npos) << msg;
  EXPECT_FALSE(models::as_bert(*m.module, "test").prompt_embeddings.defined());

  // The file's prompt disagrees with the config.
  cfg.token_dim = 32;
  xling::testing::write_bytes(dir.file("adapter_config.json"), cfg.to_json().dump());
  msg = xling::testing::invalid_argument_message([&] { models::load_adapter(dir.path().string()); });
  EXPECT_NE(msg.find(dir.file("adapter_model.safetensors")), std::string::npos) << msg;
  EXPECT_NE(msg.find("[3, 16]"), std::string::npos) << msg;

  // Encoder-decoder prompts (two transformer submodules) are refused.
  auto j = cfg.to_json();
  j["num_transformer_submodules"] = 2;
  xling::testing::write_bytes(dir.file("adapter_config.json"), j.dump());
  msg = xling::testing::message_of<UnsupportedModel>([&] { models::load_adapter(dir.path().string()); });
  EXPECT_NE(msg.find("num_transformer_submodules"), std::string::npos) << msg;

  EXPECT_THROW(models::add_prompt_tuning(*m.module, 0, 1), InvalidArgument);
  msg = xling::testing::invalid_argument_message([&] { models::save_adapter(dir.file("out"), *m.module, cfg, ""); });
  EXPECT_NE(msg.find("no prompt-tuning embeddings"), std::string::npos) << msg;
}

TEST(AdapterErrors, TruncatedSafetensors) {
  auto m = models::load_model(kXlmrSeq);
  models::add_prompt_tuning(*m.module, 3, 1);
  xling::testing::ScratchDir dir;
  const std::string out = (dir.path() / "p").string();
  models::PromptTuningConfig cfg;
  cfg.modules_to_save = {"classifier"};
  models::save_adapter(out, *m.module, cfg, "");
  const std::string file = (fs::path(out) / "adapter_model.safetensors").string();
  const auto bytes = xling::testing::read_bytes(file);
  xling::testing::write_bytes(file, bytes.substr(0, bytes.size() / 2));
  auto msg = xling::testing::message_of<Error>([&] { models::load_adapter(out); });
  EXPECT_NE(msg.find(file), std::string::npos) << msg;
}
