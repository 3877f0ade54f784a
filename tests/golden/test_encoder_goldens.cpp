// Every BERT/XLM-R fixture model (made by HF transformers) run by xling: all hidden states,
// last_hidden_state, pooler_output and logits within the fixture's tolerance on valid
// (attention_mask == 1) positions.
#include <filesystem>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/json.hpp"
#include "io/bert_config.hpp"
#include "io/checkpoint.hpp"
#include "layers/torch_runtime.hpp"
#include "layers/weights.hpp"
#include "models/registry.hpp"
#include "../unit/test_util.hpp"
#include "xling/errors.hpp"

namespace fs = std::filesystem;
using namespace xling;

namespace {

std::vector<std::string> encoder_fixture_dirs() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(std::string(XLING_FIXTURES) + "/models")) {
    auto g = e.path() / "golden.json";
    if (!fs::exists(g)) continue;
    std::string family = core::read_json_file(g.string()).value("family", "");
    if (family == "bert" || family == "xlm_roberta") out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

class EncoderGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(EncoderGolden, AllOutputsWithinTolerance) {
  layers::set_threads(0);
  fs::path dir = fs::path(XLING_FIXTURES) / "models" / GetParam();
  auto meta = core::read_json_file((dir / "golden.json").string());
  double atol = meta.value("atol", 1e-4), rtol = meta.value("rtol", 1e-4);
  auto model = models::load_model(dir.string());
  EXPECT_EQ(model.architecture, meta["class"].get<std::string>());
  auto golden = io::Checkpoint::open((dir / "golden.safetensors").string());
  models::NamedTensors inputs;
  for (const char* k : {"input_ids", "attention_mask", "token_type_ids"}) {
    if (golden.find(k)) inputs[k] = layers::tensor_from_view(golden.at(k), golden.owner(k));
  }
  torch::InferenceMode guard;
  auto out = model.forward(inputs);
  auto mask = inputs.at("attention_mask").to(torch::kBool);
  int compared = 0;
  double worst = 0;
  for (const auto& name : golden.names()) {
    if (inputs.count(name) || name == "labels") continue;
    ASSERT_TRUE(out.count(name)) << "xling does not produce '" << name << "'";
    auto want = layers::tensor_from_view(golden.at(name), golden.owner(name)).to(torch::kFloat64);
    auto got = out.at(name).to(torch::kFloat64);
    ASSERT_EQ(got.sizes(), want.sizes()) << name;
    torch::Tensor g = got, w = want;
    if (got.dim() >= 2 && got.size(0) == mask.size(0) && got.size(1) == mask.size(1)) {
      g = got.index({mask});
      w = want.index({mask});
    }
    double max_abs = (g - w).abs().max().item<double>();
    worst = std::max(worst, max_abs);
    EXPECT_TRUE(torch::allclose(g, w, rtol, atol)) << GetParam() << " " << name << ": max abs error " << max_abs;
    ++compared;
  }
  EXPECT_GT(compared, 2);
  std::cout << fmt::format("[golden] {}: {} outputs within atol={} rtol={}, max abs error {:.3g}\n", GetParam(), compared,
                           atol, rtol, worst);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, EncoderGolden, ::testing::ValuesIn(encoder_fixture_dirs()),
                         [](const auto& info) { return info.param; });

TEST(EncoderLoading, ClearErrors) {
  fs::path base = fs::path(XLING_FIXTURES) / "models";
  // Unsupported architecture: named, supported ones listed.
  xling::testing::ScratchDir scratch;
  auto gpt2 = core::read_json_file((base / "bloom__BloomForCausalLM" / "config.json").string());
  gpt2["model_type"] = "gpt2";
  gpt2["architectures"] = {"GPT2LMHeadModel"};
  xling::testing::write_bytes(scratch.file("config.json"), gpt2.dump());
  try {
    models::load_model(scratch.path().string());
    FAIL();
  } catch (const UnsupportedModel& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("GPT2LMHeadModel"), std::string::npos) << msg;
    EXPECT_NE(msg.find("BloomForCausalLM"), std::string::npos) << msg;  // in the supported list
    EXPECT_NE(msg.find("XLMRobertaForSequenceClassification"), std::string::npos) << msg;
  }
  // A base checkpoint into a head class: strict loading lists the missing head weights.
  try {
    models::load_model((base / "xlm_roberta__XLMRobertaModel").string(),
                       models::LoadOptions::for_class("XLMRobertaForSequenceClassification", true));
    FAIL();
  } catch (const InvalidArgument& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("missing: "), std::string::npos) << msg;
    EXPECT_NE(msg.find("classifier.out_proj.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("unexpected: "), std::string::npos) << msg;  // the pooler
    EXPECT_NE(msg.find("pooler.dense.weight"), std::string::npos) << msg;
  }
  // Non-strict (fine-tuning start): the report says what was initialised and left unused.
  auto m = models::load_model((base / "xlm_roberta__XLMRobertaModel").string(),
                              models::LoadOptions::for_class("XLMRobertaForSequenceClassification", false));
  EXPECT_FALSE(m.report.initialized.empty());
  EXPECT_FALSE(m.report.unused.empty());
  // New weights follow HF's init: Linear weights ~ N(0, initializer_range), biases 0.
  const auto& cfg = dynamic_cast<const io::BertConfig&>(*m.config);
  auto params = m.module->named_parameters();
  for (const auto& name : m.report.initialized) {
    const auto& t = params[name];
    ASSERT_TRUE(torch::isfinite(t).all().item<bool>()) << name;
    if (name.ends_with("bias")) {
      EXPECT_EQ(t.abs().max().item<float>(), 0.0f) << name;
    } else {
      EXPECT_NEAR(t.std().item<double>(), cfg.initializer_range, cfg.initializer_range * 0.35) << name;
    }
  }
  // The same seed gives the same head; another seed another one.
  auto again = models::load_model((base / "xlm_roberta__XLMRobertaModel").string(),
                                  models::LoadOptions::for_class("XLMRobertaForSequenceClassification", false));
  auto w = params["classifier.out_proj.weight"];
  EXPECT_TRUE(torch::equal(w, again.module->named_parameters()["classifier.out_proj.weight"]));
  auto other = models::LoadOptions::for_class("XLMRobertaForSequenceClassification", false);
  other.init_seed = 7;
  auto third = models::load_model((base / "xlm_roberta__XLMRobertaModel").string(), other);
  EXPECT_FALSE(torch::equal(w, third.module->named_parameters()["classifier.out_proj.weight"]));
  EXPECT_THROW(models::load_model((base / "..").string()), IoError);  // no config.json
}

// A reduced-precision compute dtype: every float weight is in it (the fp32 checkpoint is
// converted) and the outputs stay close to the fp32 goldens.
TEST(EncoderLoading, ComputeDtype) {
  const fs::path dir = fs::path(XLING_FIXTURES) / "models" / "xlm_roberta__XLMRobertaModel";
  EXPECT_EQ(models::parse_compute_dtype("bf16"), torch::kBFloat16);
  EXPECT_EQ(models::parse_compute_dtype("float16"), torch::kFloat16);
  try {
    models::parse_compute_dtype("int4");
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("int4"), std::string::npos);
  }
  auto ref = models::load_model(dir.string());
  auto low = models::load_model(dir.string(), models::LoadOptions::with_dtype(torch::kBFloat16));
  for (const auto& p : low.module->parameters()) EXPECT_EQ(p.scalar_type(), torch::kBFloat16);
  auto golden = io::Checkpoint::open((dir / "golden.safetensors").string());
  models::NamedTensors in;
  for (const char* k : {"input_ids", "attention_mask"}) {
    in[k] = layers::tensor_from_view(golden.at(k), golden.owner(k)).to(torch::kLong);
  }
  torch::InferenceMode guard;
  auto a = ref.forward(in).at("last_hidden_state");
  auto b = low.forward(in).at("last_hidden_state");
  EXPECT_EQ(b.scalar_type(), torch::kBFloat16);
  auto mask = in["attention_mask"].to(torch::kBool);
  auto va = a.index({mask}), vb = b.to(torch::kFloat32).index({mask});
  auto cos = torch::cosine_similarity(va, vb, 1);
  EXPECT_GT(cos.min().item<double>(), 0.99);
  EXPECT_LT((va - vb).abs().max().item<double>(), 0.25);
}
