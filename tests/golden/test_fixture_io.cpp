// Every checkpoint and config under tests/fixtures/hf (a verbatim copy of the HF-made
// fixtures) loads; rewriting each file with xling's writer preserves every tensor; the
// BERT-family configs agree with the shapes stored in their checkpoints.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <regex>
#include <set>

#include <gtest/gtest.h>

#include "core/json.hpp"
#include "io/bert_config.hpp"
#include "io/checkpoint.hpp"
#include "io/config.hpp"
#include "io/generation_config.hpp"
#include "io/safetensors_writer.hpp"
#include "io/tensor_values.hpp"
#include "../unit/test_util.hpp"

namespace fs = std::filesystem;
using namespace xling;
using namespace xling::io;

namespace {

std::vector<std::string> files_named(const std::function<bool(const fs::path&)>& pred) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(XLING_FIXTURES)) {
    if (e.is_regular_file() && pred(e.path())) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

const TensorView* find_suffix(const Checkpoint& ckpt, const std::string& suffix) {
  for (const auto& name : ckpt.names()) {
    if (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return &ckpt.at(name);
    }
  }
  return nullptr;
}

}  // namespace

TEST(FixtureIo, EverySafetensorsFileLoadsAndSurvivesARewrite) {
  auto files = files_named([](const fs::path& p) { return p.extension() == ".safetensors"; });
  ASSERT_GT(files.size(), 10u) << "fixtures missing under " << XLING_FIXTURES;
  xling::testing::ScratchDir scratch;
  for (const auto& path : files) {
    SCOPED_TRACE(path);
    auto src = SafeTensorsFile::open(path);
    ASSERT_FALSE(src.tensors().empty());
    std::vector<TensorToWrite> specs;
    for (const auto& t : src.tensors()) {
      specs.push_back({t.name, t.dtype, t.shape, t.data, t.nbytes});
      // Weights and goldens are finite (a decoding bug shows up as NaN/inf or garbage).
      if (is_floating(t.dtype)) {
        for (int64_t i = 0; i < t.numel(); ++i) ASSERT_TRUE(std::isfinite(value_at(t, i))) << t.name << "[" << i << "]";
      }
    }
    std::string out = scratch.file("rewrite.safetensors");
    write_safetensors(out, specs, src.metadata());
    auto back = SafeTensorsFile::open(out);
    EXPECT_EQ(back.metadata(), src.metadata());
    ASSERT_EQ(back.tensors().size(), src.tensors().size());
    for (const auto& t : src.tensors()) {
      const TensorView& u = back.at(t.name);
      EXPECT_EQ(u.dtype, t.dtype);
      EXPECT_EQ(u.shape, t.shape);
      ASSERT_EQ(u.nbytes, t.nbytes);
      EXPECT_EQ(std::memcmp(u.data, t.data, t.nbytes), 0) << t.name;
    }
  }
}

TEST(FixtureIo, EveryConfigParses) {
  auto configs = files_named([](const fs::path& p) { return p.filename() == "config.json" &&
                                                            fs::exists(p.parent_path() / "model.safetensors"); });
  ASSERT_GT(configs.size(), 10u);
  int bert_family = 0;
  for (const auto& path : configs) {
    SCOPED_TRACE(path);
    // sentence-transformers module folders (2_Dense/) have a config.json of their own kind.
    if (!xling::core::read_json_file(path).contains("model_type")) continue;
    auto config = load_config_any(path);
    EXPECT_FALSE(config->model_type.empty());
    auto ckpt = Checkpoint::open(fs::path(path).parent_path().string());
    auto* bert = dynamic_cast<const BertConfig*>(config.get());
    if (!bert) continue;
    ++bert_family;
    // The typed config must describe the stored tensors.
    const TensorView* words = find_suffix(ckpt, "embeddings.word_embeddings.weight");
    ASSERT_NE(words, nullptr);
    EXPECT_EQ(words->shape, (std::vector<int64_t>{bert->vocab_size, bert->hidden_size}));
    const TensorView* pos = find_suffix(ckpt, "embeddings.position_embeddings.weight");
    ASSERT_NE(pos, nullptr);
    EXPECT_EQ(pos->shape, (std::vector<int64_t>{bert->max_position_embeddings, bert->hidden_size}));
    const TensorView* types = find_suffix(ckpt, "embeddings.token_type_embeddings.weight");
    ASSERT_NE(types, nullptr);
    EXPECT_EQ(types->shape, (std::vector<int64_t>{bert->type_vocab_size, bert->hidden_size}));
    std::set<int> layers;
    std::regex layer_re(R"(encoder\.layer\.(\d+)\.)");
    for (const auto& name : ckpt.names()) {
      std::smatch m;
      if (std::regex_search(name, m, layer_re)) layers.insert(std::stoi(m[1]));
    }
    EXPECT_EQ(static_cast<int64_t>(layers.size()), bert->num_hidden_layers);
    const TensorView* inter = find_suffix(ckpt, "layer.0.intermediate.dense.weight");
    ASSERT_NE(inter, nullptr);
    EXPECT_EQ(inter->shape, (std::vector<int64_t>{bert->intermediate_size, bert->hidden_size}));
    for (const auto& arch : bert->architectures) {
      if (arch.find("SequenceClassification") != std::string::npos ||
          arch.find("TokenClassification") != std::string::npos) {
        const TensorView* head = find_suffix(ckpt, "classifier.weight");
        if (!head) head = find_suffix(ckpt, "classifier.out_proj.weight");
        ASSERT_NE(head, nullptr);
        EXPECT_EQ(head->shape[0], bert->num_labels);
      }
      if (arch.find("MaskedLM") != std::string::npos) {
        // Tied decoder: transformers 5 stores the embedding once; resolve() finds it either way.
        const std::string prefix = bert->position_ids == PositionIds::kArange ? "bert." : "roberta.";
        const TensorView& decoder = ckpt.resolve({bert->position_ids == PositionIds::kArange
                                                      ? "cls.predictions.decoder.weight"
                                                      : "lm_head.decoder.weight",
                                                  prefix + "embeddings.word_embeddings.weight"});
        EXPECT_EQ(decoder.shape, words->shape);
      }
    }
  }
  EXPECT_GT(bert_family, 5);
}

TEST(FixtureIo, EveryGenerationConfigParses) {
  auto files = files_named([](const fs::path& p) { return p.filename() == "generation_config.json"; });
  ASSERT_FALSE(files.empty());
  for (const auto& path : files) {
    SCOPED_TRACE(path);
    auto g = load_generation_config(path);
    EXPECT_GE(g.num_beams, 1);
  }
}

TEST(FixtureIo, PeftAdaptersAndSentenceTransformerModulesLoad) {
  auto adapters = files_named([](const fs::path& p) { return p.filename() == "adapter_config.json"; });
  ASSERT_FALSE(adapters.empty());
  for (const auto& cfg : adapters) {
    auto ckpt = Checkpoint::open(fs::path(cfg).parent_path().string(), "adapter_model");
    bool has_lora = false;
    for (const auto& n : ckpt.names()) has_lora |= n.find("lora_A") != std::string::npos;
    EXPECT_TRUE(has_lora) << cfg;
  }
  auto dense = files_named([](const fs::path& p) {
    return p.filename() == "model.safetensors" && p.parent_path().filename().string().find("Dense") != std::string::npos;
  });
  ASSERT_FALSE(dense.empty());
  for (const auto& d : dense) EXPECT_NO_THROW(Checkpoint::open(fs::path(d).parent_path().string())) << d;
}
