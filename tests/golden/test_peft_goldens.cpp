// PEFT LoRA adapters against the fixture made by peft 0.21 (tests/fixtures/hf/peft/
// xlm_roberta_lora): logits with the adapter applied and after merging, save/load round trip,
// LoRA in layers::Linear, and the errors for malformed or unsupported adapters.
#include <filesystem>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/json.hpp"
#include "io/checkpoint.hpp"
#include "layers/modules.hpp"
#include "layers/weights.hpp"
#include "models/peft.hpp"
#include "models/registry.hpp"
#include "../unit/test_util.hpp"
#include "xling/errors.hpp"

namespace fs = std::filesystem;
using namespace xling;

namespace {

const fs::path kFixture = fs::path(XLING_FIXTURES) / "peft" / "xlm_roberta_lora";
constexpr double kAtol = 1e-5;

torch::Tensor golden_tensor(const std::string& name) {
  static auto golden = io::Checkpoint::open((kFixture / "golden.safetensors").string());
  return layers::tensor_from_view(golden.at(name), golden.owner(name));
}

torch::Tensor logits(models::LoadedModel& m) {
  torch::InferenceMode guard;
  return m.forward({{"input_ids", golden_tensor("input_ids").to(torch::kLong)}}).at("logits");
}

void expect_close(const torch::Tensor& got, const std::string& golden_name) {
  auto want = golden_tensor(golden_name);
  ASSERT_EQ(got.sizes(), want.sizes()) << golden_name;
  const double err = (got.to(torch::kFloat64) - want.to(torch::kFloat64)).abs().max().item<double>();
  EXPECT_LE(err, kAtol) << golden_name << ": max abs error " << err;
  std::cout << fmt::format("[golden] peft {}: max abs error {:.3g}\n", golden_name, err);
}

models::LoadedModel base_model() { return models::load_model((kFixture / "base").string()); }

std::vector<std::string> lora_parameter_names(torch::nn::Module& m) {
  std::vector<std::string> out;
  for (const auto& p : m.named_parameters()) {
    if (p.key().find(".lora_") != std::string::npos) out.push_back(p.key());
  }
  return out;
}

// A copy of the fixture adapter in `dir`, with `edit` applied to its adapter_config.json.
template <typename Edit>
std::string adapter_copy(const xling::testing::ScratchDir& dir, Edit&& edit) {
  fs::copy_file(kFixture / "adapter" / "adapter_model.safetensors", dir.path() / "adapter_model.safetensors");
  auto cfg = core::read_json_file((kFixture / "adapter" / "adapter_config.json").string());
  edit(cfg);
  xling::testing::write_bytes(dir.file("adapter_config.json"), cfg.dump(2));
  return dir.path().string();
}

}  // namespace

TEST(PeftGolden, LogitsWithAdapter) {
  auto m = base_model();
  const auto base_logits = logits(m);
  auto report = models::apply_adapter(m, models::load_adapter((kFixture / "adapter").string()));
  EXPECT_EQ(report.lora_modules.size(), 4u);  // query, value x 2 layers
  EXPECT_EQ(report.replaced.size(), 4u);      // classifier.{dense,out_proj}.{weight,bias}
  EXPECT_EQ(lora_parameter_names(*m.module).size(), 8u);
  auto got = logits(m);
  EXPECT_FALSE(torch::allclose(got, base_logits, 0, 1e-3));  // the adapter changes the result
  expect_close(got, "logits_with_adapter");
}

TEST(PeftGolden, LogitsMerged) {
  auto m = base_model();
  const auto name = "roberta.encoder.layer.0.attention.self.query.weight";
  const auto old_weight = m.module->named_parameters()[name].data();  // the mmapped checkpoint tensor
  const auto old_values = old_weight.clone();
  models::apply_adapter(m, models::load_adapter((kFixture / "adapter").string()));
  EXPECT_EQ(models::merge_adapter(*m.module), 4);
  EXPECT_TRUE(lora_parameter_names(*m.module).empty());
  EXPECT_EQ(models::merge_adapter(*m.module), 0);
  expect_close(logits(m), "logits_merged");
  // The merged weight is a new tensor; the old one (the checkpoint's mapping) is unchanged.
  EXPECT_FALSE(torch::equal(m.module->named_parameters()[name], old_values));
  EXPECT_TRUE(torch::equal(old_weight, old_values));
}

// The decoder-only fixture (peft/llama_lora: r 4 on q/k/v/o of a LlamaForCausalLM).
TEST(PeftGolden, LlamaLogitsWithAdapterAndMerged) {
  const fs::path dir = fs::path(XLING_FIXTURES) / "peft" / "llama_lora";
  auto golden = io::Checkpoint::open((dir / "golden.safetensors").string());
  auto tensor = [&](const std::string& n) { return layers::tensor_from_view(golden.at(n), golden.owner(n)); };
  auto run = [&](models::LoadedModel& m) {
    torch::InferenceMode guard;
    return m.forward({{"input_ids", tensor("input_ids").to(torch::kLong)}}).at("logits");
  };
  auto check = [&](const torch::Tensor& got, const std::string& name) {
    auto want = tensor(name);
    ASSERT_EQ(got.sizes(), want.sizes()) << name;
    const double err = (got.to(torch::kFloat64) - want.to(torch::kFloat64)).abs().max().item<double>();
    EXPECT_LE(err, 1e-4) << name;
    std::cout << fmt::format("[golden] peft llama {}: max abs error {:.3g}\n", name, err);
  };
  auto m = models::load_model((dir / "base").string());
  const auto base = run(m);
  auto report = models::apply_adapter(m, models::load_adapter((dir / "adapter").string()));
  EXPECT_EQ(report.lora_modules.size(), 8u);  // q, k, v, o x 2 layers
  auto with = run(m);
  EXPECT_FALSE(torch::allclose(with, base, 0, 1e-3));
  check(with, "logits_with_adapter");
  EXPECT_EQ(models::merge_adapter(*m.module), 8);
  check(run(m), "logits_merged");
}

TEST(PeftSave, RoundTrip) {
  auto adapter = models::load_adapter((kFixture / "adapter").string());
  auto a = base_model();
  models::apply_adapter(a, adapter);
  xling::testing::ScratchDir dir;
  const std::string out = (dir.path() / "saved").string();
  models::save_adapter(out, *a.module, adapter.config, models::base_model_prefix(*a.module));

  auto saved = models::load_adapter(out);
  std::vector<std::string> want, got;
  for (const auto& [k, v] : adapter.tensors) want.push_back(k);
  for (const auto& [k, v] : saved.tensors) got.push_back(k);
  EXPECT_EQ(got, want);  // PEFT's key names, classifier head included
  for (const auto& [k, v] : adapter.tensors) EXPECT_TRUE(torch::equal(saved.tensors.at(k), v)) << k;
  EXPECT_EQ(saved.config.r, 4);
  EXPECT_EQ(saved.config.lora_alpha, 8);
  EXPECT_EQ(saved.config.target_modules, adapter.config.target_modules);
  EXPECT_EQ(saved.config.modules_to_save, adapter.config.modules_to_save);

  auto b = base_model();
  models::apply_adapter(b, saved);
  auto la = logits(a), lb = logits(b);
  EXPECT_TRUE(torch::equal(la, lb));
  expect_close(lb, "logits_with_adapter");
  // The applied tensors are copies: changing one model's LoRA leaves the other's alone.
  {
    torch::NoGradGuard no_grad;
    b.module->named_parameters()["roberta.encoder.layer.0.attention.self.query.lora_B.weight"].add_(1.0);
  }
  EXPECT_TRUE(torch::equal(logits(a), la));
  EXPECT_FALSE(torch::equal(logits(b), lb));
}

// LoRA in layers::Linear: the any-D and 2-D paths agree with each other and with the merged
// weight, and A/B show up under PEFT's parameter names.
TEST(PeftLinear, ForwardPathsAndMerge) {
  torch::manual_seed(0);
  layers::Linear lin(6, 5);
  {
    torch::NoGradGuard no_grad;
    lin->weight.normal_();
    lin->bias.normal_();
  }
  auto x = torch::randn({2, 3, 6});
  const auto plain = lin(x);
  lin->set_lora(torch::randn({2, 6}), torch::randn({5, 2}), 0.5);
  auto names = lin->named_parameters().keys();
  EXPECT_EQ(names, (std::vector<std::string>{"weight", "bias", "lora_A.weight", "lora_B.weight"}));
  auto want = plain + 0.5 * torch::matmul(torch::matmul(x, lin->lora_A.t()), lin->lora_B.t());
  EXPECT_TRUE(torch::allclose(lin(x), want, 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(lin->forward2d(x.reshape({6, 6})).view({2, 3, 5}), want, 1e-5, 1e-5));
  EXPECT_THROW(lin->set_lora(torch::randn({2, 5}), torch::randn({5, 2}), 1.0), InvalidArgument);
  lin->merge_lora();
  EXPECT_FALSE(lin->has_lora());
  EXPECT_EQ(lin->named_parameters().size(), 2u);
  EXPECT_TRUE(torch::allclose(lin(x), want, 1e-5, 1e-5));
}

TEST(PeftConfig, ScalingVariants) {
  models::LoraConfig c;
  c.r = 4;
  c.lora_alpha = 8;
  EXPECT_DOUBLE_EQ(c.scaling("encoder.layer.0.attention.self.query"), 2.0);
  c.use_rslora = true;  // alpha / sqrt(r)
  EXPECT_DOUBLE_EQ(c.scaling("encoder.layer.0.attention.self.query"), 4.0);
  c.use_rslora = false;
  c.rank_pattern["value"] = 2;
  c.alpha_pattern["layer\\.1\\.attention\\.self\\.value"] = 1;
  EXPECT_EQ(c.rank("encoder.layer.0.attention.self.value"), 2);
  EXPECT_DOUBLE_EQ(c.scaling("encoder.layer.0.attention.self.value"), 4.0);
  EXPECT_DOUBLE_EQ(c.scaling("encoder.layer.1.attention.self.value"), 0.5);
  c.target_modules = {"query", "value"};
  c.layers_to_transform = {1};
  EXPECT_FALSE(c.targets("roberta.encoder.layer.0.attention.self.query"));
  EXPECT_TRUE(c.targets("roberta.encoder.layer.1.attention.self.query"));
  EXPECT_FALSE(c.targets("roberta.encoder.layer.1.attention.self.key"));
  EXPECT_FALSE(c.targets("roberta.encoder.layer.1.attention.self.myquery"));
}

TEST(PeftErrors, MissingFiles) {
  xling::testing::ScratchDir dir;
  fs::copy_file(kFixture / "adapter" / "adapter_model.safetensors", dir.path() / "adapter_model.safetensors");
  auto msg = xling::testing::message_of<IoError>([&] { models::load_adapter(dir.path().string()); });
  EXPECT_NE(msg.find("adapter_config.json"), std::string::npos) << msg;

  xling::testing::ScratchDir dir2;
  fs::copy_file(kFixture / "adapter" / "adapter_config.json", dir2.path() / "adapter_config.json");
  msg = xling::testing::message_of<IoError>([&] { models::load_adapter(dir2.path().string()); });
  EXPECT_NE(msg.find("adapter_model.safetensors"), std::string::npos) << msg;

  EXPECT_THROW(models::load_adapter((dir.path() / "nope").string()), IoError);
}

TEST(PeftErrors, UnsupportedVariants) {
  {
    xling::testing::ScratchDir dir;
    auto path = adapter_copy(dir, [](nlohmann::json& c) { c["peft_type"] = "PREFIX_TUNING"; });
    auto msg = xling::testing::message_of<UnsupportedModel>([&] { models::load_adapter(path); });
    EXPECT_NE(msg.find("PREFIX_TUNING"), std::string::npos) << msg;
    EXPECT_NE(msg.find("supported: LORA"), std::string::npos) << msg;
  }
  {
    xling::testing::ScratchDir dir;
    auto path = adapter_copy(dir, [](nlohmann::json& c) { c["use_dora"] = true; });
    auto msg = xling::testing::message_of<UnsupportedModel>([&] { models::load_adapter(path); });
    EXPECT_NE(msg.find("use_dora"), std::string::npos) << msg;
  }
  {
    // rsLoRA is supported: same tensors, scaling alpha / sqrt(r) = 4 instead of 2.
    xling::testing::ScratchDir dir;
    auto path = adapter_copy(dir, [](nlohmann::json& c) { c["use_rslora"] = true; });
    auto m = base_model();
    models::apply_adapter(m, models::load_adapter(path));
    auto* q = m.module->named_modules()["roberta.encoder.layer.0.attention.self.query"]->as<layers::LinearImpl>();
    ASSERT_NE(q, nullptr);
    EXPECT_DOUBLE_EQ(q->lora_scaling, 4.0);
  }
}

TEST(PeftErrors, TargetNotInModel) {
  xling::testing::ScratchDir dir;
  auto path = adapter_copy(dir, [](nlohmann::json& c) { c["target_modules"] = {"q_proj", "v_proj"}; });
  auto m = base_model();
  auto msg = xling::testing::invalid_argument_message([&] { models::apply_adapter(m, models::load_adapter(path)); });
  EXPECT_NE(msg.find("q_proj"), std::string::npos) << msg;
  EXPECT_NE(msg.find("match no module"), std::string::npos) << msg;
  EXPECT_NE(msg.find("adapter_config.json"), std::string::npos) << msg;
  EXPECT_TRUE(lora_parameter_names(*m.module).empty());  // nothing applied
}

TEST(PeftErrors, KeysMatchingNothing) {
  auto adapter = models::load_adapter((kFixture / "adapter").string());
  auto m = base_model();
  auto a = adapter.tensors.at("base_model.model.roberta.encoder.layer.0.attention.self.query.lora_A.weight");
  {
    // A LoRA tensor of a module the model does not have.
    auto bad = adapter;
    bad.tensors["base_model.model.roberta.encoder.layer.0.attention.self.nope.lora_A.weight"] = a;
    auto msg = xling::testing::invalid_argument_message([&] { models::apply_adapter(m, bad); });
    EXPECT_NE(msg.find("self.nope.lora_A.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("no module"), std::string::npos) << msg;
  }
  {
    // A LoRA tensor of a real module that target_modules does not select.
    auto bad = adapter;
    bad.tensors["base_model.model.roberta.encoder.layer.0.attention.self.key.lora_A.weight"] = a;
    auto msg = xling::testing::invalid_argument_message([&] { models::apply_adapter(m, bad); });
    EXPECT_NE(msg.find("self.key.lora_A.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("not selected by target_modules"), std::string::npos) << msg;
  }
  {
    // A saved parameter that names nothing.
    auto bad = adapter;
    bad.tensors["base_model.model.score.weight"] = a;
    auto msg = xling::testing::invalid_argument_message([&] { models::apply_adapter(m, bad); });
    EXPECT_NE(msg.find("base_model.model.score.weight"), std::string::npos) << msg;
  }
  {
    // A target without its tensors.
    auto bad = adapter;
    bad.tensors.erase("base_model.model.roberta.encoder.layer.1.attention.self.value.lora_B.weight");
    auto msg = xling::testing::invalid_argument_message([&] { models::apply_adapter(m, bad); });
    EXPECT_NE(msg.find("layer.1.attention.self.value.lora_B.weight"), std::string::npos) << msg;
  }
  EXPECT_TRUE(lora_parameter_names(*m.module).empty());
}

TEST(PeftErrors, ShapeMismatch) {
  xling::testing::ScratchDir dir;
  auto path = adapter_copy(dir, [](nlohmann::json& c) { c["r"] = 8; });
  auto m = base_model();
  auto msg = xling::testing::invalid_argument_message([&] { models::apply_adapter(m, models::load_adapter(path)); });
  EXPECT_NE(msg.find("lora_A.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[4, 32]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected [8, 32]"), std::string::npos) << msg;

  auto adapter = models::load_adapter((kFixture / "adapter").string());
  adapter.tensors["base_model.model.classifier.out_proj.weight"] = torch::zeros({4, 32});
  msg = xling::testing::invalid_argument_message([&] { models::apply_adapter(m, adapter); });
  EXPECT_NE(msg.find("classifier.out_proj.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[4, 32]"), std::string::npos) << msg;
}
