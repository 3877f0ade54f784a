// Every encoder-decoder fixture (M2M-100, mBART, Marian, mT5; made by HF transformers) run by
// xling: encoder/decoder hidden states, logits and loss within the fixture's tolerance, and
// the golden greedy / 4-beam generations (one source at a time and as a padded batch) with
// identical ids and beam scores within 1e-4. Settings not in golden.json come from the
// fixture's generation_config.json, as in HF.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/json.hpp"
#include "generate/seq2seq_scorer.hpp"
#include "io/checkpoint.hpp"
#include "io/generation_config.hpp"
#include "io/seq2seq_config.hpp"
#include "layers/torch_runtime.hpp"
#include "layers/weights.hpp"
#include "models/registry.hpp"
#include "models/seq2seq.hpp"
#include "xling/errors.hpp"

namespace fs = std::filesystem;
using namespace xling;

namespace {

std::vector<std::string> fixture_dirs(bool generation_only) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(std::string(XLING_FIXTURES) + "/models")) {
    auto g = e.path() / "golden.json";
    if (!fs::exists(g)) continue;
    auto meta = core::read_json_file(g.string());
    std::string family = meta.value("family", "");
    if (family != "m2m100" && family != "mbart" && family != "marian" && family != "mt5") continue;
    if (generation_only && !meta.contains("generation")) continue;
    out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

torch::Tensor golden_tensor(const io::Checkpoint& g, const std::string& name) {
  return layers::tensor_from_view(g.at(name), g.owner(name));
}

std::vector<int64_t> ints(const nlohmann::json& j) { return j.get<std::vector<int64_t>>(); }

}  // namespace

class Seq2SeqForward : public ::testing::TestWithParam<std::string> {};

TEST_P(Seq2SeqForward, AllOutputsWithinTolerance) {
  layers::set_threads(0);
  fs::path dir = fs::path(XLING_FIXTURES) / "models" / GetParam();
  auto meta = core::read_json_file((dir / "golden.json").string());
  const double atol = meta.value("atol", 1e-4), rtol = meta.value("rtol", 1e-4);
  auto model = models::load_model(dir.string());
  EXPECT_EQ(model.architecture, meta["class"].get<std::string>());
  auto golden = io::Checkpoint::open((dir / "golden.safetensors").string());
  models::NamedTensors inputs;
  for (const char* k : {"input_ids", "attention_mask", "labels"}) {
    if (golden.find(k)) inputs[k] = golden_tensor(golden, k).to(torch::kLong);
  }
  torch::InferenceMode guard;
  auto out = model.forward(inputs);
  auto mask = inputs.at("attention_mask").to(torch::kBool);
  int compared = 0;
  double worst = 0;
  for (const auto& name : golden.names()) {
    if (inputs.count(name)) continue;
    ASSERT_TRUE(out.count(name)) << "xling does not produce '" << name << "'";
    auto want = golden_tensor(golden, name).to(torch::kFloat64);
    auto got = out.at(name).to(torch::kFloat64);
    ASSERT_EQ(got.sizes(), want.sizes()) << name;
    torch::Tensor g = got, w = want;
    // encoder-side outputs: padded source positions carry no meaning
    if (got.dim() == 3 && got.size(0) == mask.size(0) && got.size(1) == mask.size(1)) {
      g = got.index({mask});
      w = want.index({mask});
    }
    const double max_abs = (g - w).abs().max().item<double>();
    worst = std::max(worst, max_abs);
    EXPECT_TRUE(torch::allclose(g, w, rtol, atol)) << GetParam() << " " << name << ": max abs error " << max_abs;
    ++compared;
  }
  EXPECT_GE(compared, 4);
  std::cout << fmt::format("[golden] {}: {} outputs within atol={} rtol={}, max abs error {:.3g}\n", GetParam(), compared,
                           atol, rtol, worst);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Seq2SeqForward, ::testing::ValuesIn(fixture_dirs(false)),
                         [](const auto& info) { return info.param; });

class Seq2SeqGeneration : public ::testing::TestWithParam<std::string> {};

TEST_P(Seq2SeqGeneration, GreedyAndBeamEqualHF) {
  layers::set_threads(0);
  fs::path dir = fs::path(XLING_FIXTURES) / "models" / GetParam();
  auto meta = core::read_json_file((dir / "golden.json").string());
  auto model = models::load_model(dir.string());
  auto* s2s = models::as_seq2seq(*model.module);
  ASSERT_NE(s2s, nullptr);
  auto gen_config = io::load_generation_config(dir.string());
  const auto& cfg = s2s->seq2seq_config();
  const int64_t start = generate::decoder_start_token(cfg, &gen_config);
  const auto& args = meta["generation_args"];
  torch::InferenceMode guard;
  int checked = 0;
  for (const auto& [name, entry] : meta["generation"].items()) {
    const bool beam = name.rfind("beam", 0) == 0;
    generate::GenerationOverrides ov;
    ov.max_new_tokens = args.at("max_new_tokens").get<int64_t>();
    ov.min_new_tokens = 0;
    if (args.contains("forced_bos_token_id")) ov.forced_bos_token_id = args["forced_bos_token_id"].get<int64_t>();
    ov.num_beams = beam ? 4 : 1;
    if (beam) {
      ov.length_penalty = 1.0;
      ov.early_stopping = io::EarlyStopping::kTrue;
    }
    auto opts = generate::resolve_options(cfg, &gen_config, ov, 1);
    const bool batch = name.size() > 6 && name.substr(name.size() - 6) == ".batch";
    std::vector<std::vector<int64_t>> sources;
    std::vector<std::vector<int64_t>> want;
    if (batch) {
      // the golden's own padded rows: cut at the mask, re-padded by generate_seq2seq
      auto src = entry["source_ids"].get<std::vector<std::vector<int64_t>>>();
      auto mask = entry["attention_mask"].get<std::vector<std::vector<int64_t>>>();
      for (std::size_t i = 0; i < src.size(); ++i) {
        int64_t n = 0;
        for (int64_t m : mask[i]) n += m;
        sources.emplace_back(src[i].begin(), src[i].begin() + n);
      }
      want = entry["output_ids"].get<std::vector<std::vector<int64_t>>>();
    } else {
      sources.push_back(ints(entry["source_ids"]));
      want.push_back(ints(entry["output_ids"]));
    }
    auto result = generate::generate_seq2seq(*s2s, sources, start, opts, torch::kCPU);
    ASSERT_EQ(result.size(), sources.size()) << name;
    // HF pads a batch to its longest output: greedy with pad, beam search with pad or, when
    // pad is 0 (falsy in Python), the first EOS.
    const int64_t fill = beam ? (opts.pad_token_id != 0 ? opts.pad_token_id : opts.eos_token_ids.at(0)) : opts.pad_token_id;
    std::size_t longest = 0;
    for (const auto& r : result) longest = std::max(longest, r.at(0).ids.size());
    for (std::size_t i = 0; i < result.size(); ++i) {
      std::vector<int64_t> got = result[i].at(0).ids;
      if (batch) got.resize(longest, fill);
      EXPECT_EQ(got, want[i]) << GetParam() << " " << name << " row " << i << ": got " << fmt::format("{}", got)
                              << " want " << fmt::format("{}", want[i]);
    }
    if (entry.contains("sequence_score")) {
      ASSERT_TRUE(result[0][0].score.has_value());
      EXPECT_NEAR(*result[0][0].score, entry["sequence_score"].get<double>(), 1e-4) << GetParam() << " " << name;
    }
    ++checked;
  }
  EXPECT_EQ(checked, 6);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Seq2SeqGeneration, ::testing::ValuesIn(fixture_dirs(true)),
                         [](const auto& info) { return info.param; });

// Configs transformers would run into garbage are refused with the key named; a family's class
// with another model_type is refused too.
TEST(Seq2SeqLoading, DegenerateConfigsAreClearErrors) {
  const fs::path src = fs::path(XLING_FIXTURES) / "models" / "mt5__MT5ForConditionalGeneration";
  const fs::path dir = fs::temp_directory_path() / fmt::format("xling-s2s-{}", ::getpid());
  fs::create_directories(dir);
  fs::copy_file(src / "model.safetensors", dir / "model.safetensors", fs::copy_options::overwrite_existing);
  auto cfg = core::read_json_file((src / "config.json").string());
  cfg["relative_attention_max_distance"] = cfg["relative_attention_num_buckets"].get<int64_t>() / 2;
  std::ofstream(dir / "config.json") << cfg.dump();
  try {
    models::load_model(dir.string());
    FAIL() << "loaded a degenerate relative-position config";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("relative_attention_max_distance"), std::string::npos) << e.what();
  }
  auto marian = core::read_json_file((fs::path(XLING_FIXTURES) / "models/marian__MarianMTModel/config.json").string());
  marian["architectures"] = {"M2M100ForConditionalGeneration"};
  std::ofstream(dir / "config.json") << marian.dump();
  EXPECT_THROW(models::load_model(dir.string()), UnsupportedModel);
  fs::remove_all(dir);
}

// Opt-in int8 (FBGEMM dynamic quantization): every fixture's logits stay close to fp32 (the
// golden's forward pass), the fp32 weights stay as loaded, and generation runs.
TEST_P(Seq2SeqGeneration, Int8StaysCloseToFp32) {
  layers::set_threads(0);
  fs::path dir = fs::path(XLING_FIXTURES) / "models" / GetParam();
  auto golden = io::Checkpoint::open((dir / "golden.safetensors").string());
  models::NamedTensors inputs;
  for (const char* k : {"input_ids", "attention_mask", "labels"}) inputs[k] = golden_tensor(golden, k).to(torch::kLong);
  auto model = models::load_model(dir.string());
  auto* s2s = models::as_seq2seq(*model.module);
  ASSERT_NE(s2s, nullptr);
  torch::InferenceMode guard;
  auto ref = model.forward(inputs).at("logits");
  auto weights_before = model.module->named_parameters().values().front().clone();
  EXPECT_GT(s2s->quantize_int8(), 8);
  auto got = model.forward(inputs).at("logits");
  EXPECT_TRUE(torch::equal(weights_before, model.module->named_parameters().values().front()));
  const double rel = ((got - ref).norm() / ref.norm()).item<double>();
  EXPECT_LT(rel, 0.05) << GetParam();
  EXPECT_GT(rel, 0.0) << "int8 path not taken";
  auto opts = generate::resolve_options(s2s->seq2seq_config(), nullptr, {}, 1);
  auto meta = core::read_json_file((dir / "golden.json").string());
  auto r = generate::generate_seq2seq(*s2s, {ints(meta["generation"]["greedy.0"]["source_ids"])},
                                      generate::decoder_start_token(s2s->seq2seq_config(), nullptr), opts, torch::kCPU);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_GE(r[0][0].ids.size(), 2u);
  std::cout << fmt::format("[int8] {}: logits relative error {:.3g}\n", GetParam(), rel);
}
