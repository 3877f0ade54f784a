// The decoder-only fixtures (Llama, Qwen2, BLOOM made by transformers 5.17) run by xling:
// every hidden state and the logits within the fixture's tolerance, greedy continuations of
// each prompt alone and of the left-padded batch, and the same through `xling generate`'s
// library path (CausalGenerator), with beams and sampling checked for consistency.
#include <filesystem>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/json.hpp"
#include "generate/causal_scorer.hpp"
#include "io/checkpoint.hpp"
#include "layers/torch_runtime.hpp"
#include "layers/weights.hpp"
#include "models/causal_lm.hpp"
#include "models/registry.hpp"
#include "../unit/test_util.hpp"
#include "xling/errors.hpp"

namespace fs = std::filesystem;
using namespace xling;

namespace {

std::vector<std::string> decoder_fixture_dirs() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(std::string(XLING_FIXTURES) + "/models")) {
    auto g = e.path() / "golden.json";
    if (!fs::exists(g)) continue;
    const std::string cls = core::read_json_file(g.string()).value("class", "");
    if (cls.size() > 11 && cls.compare(cls.size() - 11, 11, "ForCausalLM") == 0) out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

fs::path fixture(const std::string& name) { return fs::path(XLING_FIXTURES) / "models" / name; }

std::vector<int64_t> ids_of(const nlohmann::json& j) { return j.get<std::vector<int64_t>>(); }

}  // namespace

class DecoderGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(DecoderGolden, HiddenStatesAndLogitsWithinTolerance) {
  layers::set_threads(0);
  const auto dir = fixture(GetParam());
  auto meta = core::read_json_file((dir / "golden.json").string());
  const double atol = meta.value("atol", 1e-4), rtol = meta.value("rtol", 1e-4);
  auto model = models::load_model(dir.string());
  EXPECT_EQ(model.architecture, meta["class"].get<std::string>());
  auto golden = io::Checkpoint::open((dir / "golden.safetensors").string());
  models::NamedTensors inputs;
  for (const char* k : {"input_ids", "attention_mask"}) {
    if (golden.find(k)) inputs[k] = layers::tensor_from_view(golden.at(k), golden.owner(k));
  }
  torch::InferenceMode guard;
  auto out = model.forward(inputs);
  int compared = 0;
  double worst = 0;
  for (const auto& name : golden.names()) {
    if (inputs.count(name)) continue;
    ASSERT_TRUE(out.count(name)) << "xling does not produce '" << name << "'";
    auto want = layers::tensor_from_view(golden.at(name), golden.owner(name)).to(torch::kFloat64);
    auto got = out.at(name).to(torch::kFloat64);
    ASSERT_EQ(got.sizes(), want.sizes()) << name;
    const double err = (got - want).abs().max().item<double>();
    worst = std::max(worst, err);
    EXPECT_TRUE(torch::allclose(got, want, rtol, atol)) << GetParam() << " " << name << ": max abs error " << err;
    ++compared;
  }
  EXPECT_GT(compared, 2);
  // The last hidden state is after the final norm: the same tensor as last_hidden_state.
  const auto layers_out = compared - 1;
  EXPECT_TRUE(torch::equal(out.at(fmt::format("hidden_states.{}", layers_out - 1)), out.at("last_hidden_state")));
  std::cout << fmt::format("[golden] {}: {} outputs within atol={} rtol={}, max abs error {:.3g}\n", GetParam(), compared,
                           atol, rtol, worst);
}

TEST_P(DecoderGolden, GreedyAloneAndAsALeftPaddedBatch) {
  layers::set_threads(0);
  const auto dir = fixture(GetParam());
  auto meta = core::read_json_file((dir / "golden.json").string());
  const auto& gen = meta.at("generation");
  auto g = generate::CausalGenerator::load(dir.string(), {}, "test");
  torch::InferenceMode guard;
  for (const char* key : {"greedy.0", "greedy.1"}) {
    const auto& c = gen.at(key);
    const auto prompt = ids_of(c.at("prompt_ids")), want = ids_of(c.at("output_ids"));
    generate::GenerationOverrides ov;
    ov.max_new_tokens = static_cast<int64_t>(want.size() - prompt.size());
    ov.min_new_tokens = ov.max_new_tokens;  // EOS suppressed, as the fixture made them
    auto got = g.run({prompt}, ov);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].at(0).ids, want) << GetParam() << " " << key;
  }
  // The left-padded batch: prompts given with their padding and mask; xling pads them itself.
  const auto& b = gen.at("greedy.left_padded_batch");
  std::vector<std::vector<int64_t>> prompts, wants;
  for (std::size_t r = 0; r < b.at("prompt_ids").size(); ++r) {
    auto padded = ids_of(b["prompt_ids"][r]), mask = ids_of(b["attention_mask"][r]), out = ids_of(b["output_ids"][r]);
    const auto pads = static_cast<std::ptrdiff_t>(std::count(mask.begin(), mask.end(), 0));
    prompts.emplace_back(padded.begin() + pads, padded.end());
    wants.emplace_back(out.begin() + pads, out.end());
  }
  generate::GenerationOverrides ov;
  ov.max_new_tokens = static_cast<int64_t>(wants[0].size() - prompts[0].size());
  ov.min_new_tokens = ov.max_new_tokens;
  auto got = g.run(prompts, ov);
  ASSERT_EQ(got.size(), prompts.size());
  for (std::size_t r = 0; r < prompts.size(); ++r) EXPECT_EQ(got[r].at(0).ids, wants[r]) << GetParam() << " batch row " << r;
}

// Beam search and sampling have no fixture here: check what must hold whatever the weights.
TEST_P(DecoderGolden, BeamsAndSamplingAreConsistent) {
  layers::set_threads(0);
  const auto dir = fixture(GetParam());
  auto g = generate::CausalGenerator::load(dir.string(), {}, "test");
  torch::InferenceMode guard;
  const std::vector<std::vector<int64_t>> prompts = {{5, 17, 200, 3}, {42, 7, 9, 11, 13, 400, 2}};
  generate::GenerationOverrides ov;
  ov.max_new_tokens = 8;
  ov.min_new_tokens = 8;
  ov.num_beams = 3;
  ov.num_return_sequences = 3;
  auto batched = g.run(prompts, ov);
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    auto alone = g.run({prompts[i]}, ov);
    ASSERT_EQ(batched[i].size(), 3u);
    for (std::size_t k = 0; k < 3; ++k) {
      EXPECT_EQ(batched[i][k].ids, alone[0][k].ids) << "prompt " << i << " beam " << k;
      ASSERT_TRUE(batched[i][k].score && alone[0][k].score);
      EXPECT_NEAR(*batched[i][k].score, *alone[0][k].score, 1e-4);
      if (k > 0) EXPECT_GE(*batched[i][k - 1].score, *batched[i][k].score);
      EXPECT_TRUE(std::equal(prompts[i].begin(), prompts[i].end(), batched[i][k].ids.begin()));
      EXPECT_EQ(batched[i][k].ids.size(), prompts[i].size() + 8);
    }
  }
  generate::GenerationOverrides s;
  s.max_new_tokens = 6;
  s.do_sample = true;
  s.seed = 11;
  s.top_k = 20;
  auto a = g.run(prompts, s), b = g.run(prompts, s);
  for (std::size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(a[i][0].ids, b[i][0].ids) << "seeded sampling repeats";
}

INSTANTIATE_TEST_SUITE_P(Fixtures, DecoderGolden, ::testing::ValuesIn(decoder_fixture_dirs()),
                         [](const auto& info) { return info.param; });

TEST(DecoderGoldens, AllThreeFamiliesAreCovered) {
  auto dirs = decoder_fixture_dirs();
  for (const char* family : {"llama", "qwen2", "bloom"}) {
    EXPECT_TRUE(std::any_of(dirs.begin(), dirs.end(), [&](const std::string& d) { return d.rfind(family, 0) == 0; }))
        << family;
  }
}

TEST(DecoderLoading, ClearErrors) {
  xling::testing::ScratchDir scratch;
  // A prompt plus new tokens beyond the context is refused before any work.
  auto g = generate::CausalGenerator::load(fixture("llama__LlamaForCausalLM").string(), {}, "test");
  generate::GenerationOverrides ov;
  ov.max_new_tokens = 200;  // max_position_embeddings is 128
  try {
    torch::InferenceMode guard;
    g.run({{1, 2, 3}}, ov);
    FAIL() << "no error for 203 positions";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("max_position_embeddings"), std::string::npos) << e.what();
  }
  // Ids outside the vocabulary are named.
  try {
    torch::InferenceMode guard;
    g.run({{1, 5000}}, {});
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("5000"), std::string::npos) << e.what();
  }
  // An encoder is not a generation class.
  try {
    generate::CausalGenerator::load(fixture("bert__BertModel").string(), {}, "`xling chat`");
    FAIL();
  } catch (const UnsupportedModel& e) {
    EXPECT_NE(std::string(e.what()).find("`xling chat`"), std::string::npos) << e.what();
  }
  // A config with a bad key-value head count names the key.
  auto cfg = core::read_json_file((fixture("llama__LlamaForCausalLM") / "config.json").string());
  cfg["num_key_value_heads"] = 3;
  xling::testing::write_bytes(scratch.file("config.json"), cfg.dump());
  try {
    models::load_model(scratch.path().string());
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("num_key_value_heads"), std::string::npos) << e.what();
  }
}
