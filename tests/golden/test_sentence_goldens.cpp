// sentence-transformers and CrossEncoder fixture directories end to end from raw text
// (tokenizer + model + pooling/dense/normalize; pair classification + sigmoid).
#include <filesystem>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/json.hpp"
#include "io/checkpoint.hpp"
#include "layers/weights.hpp"
#include "models/registry.hpp"
#include "tasks/sentence_encoder.hpp"
#include "tokenize/tokenizer.hpp"
#include "encode_util.hpp"

namespace fs = std::filesystem;
using namespace xling;

namespace {
const fs::path kDir = fs::path(XLING_FIXTURES) / "sentence_transformers";
}

class SentenceGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(SentenceGolden, EmbeddingsFromRawText) {
  fs::path dir = kDir / GetParam();
  auto meta = core::read_json_file((dir / "golden.json").string());
  auto texts = meta["texts"].get<std::vector<std::string>>();
  auto enc = tasks::SentenceEncoder::load(dir.string());
  // A small token budget forces several batches of different lengths.
  tasks::EncodeOptions opt;
  opt.batch_tokens = 64;
  auto got = enc.encode(texts, opt);
  auto golden = io::Checkpoint::open((dir / "golden.safetensors").string());
  auto want = layers::tensor_from_view(golden.at("embeddings"), golden.owner("embeddings"));
  ASSERT_EQ(got.sizes(), want.sizes());
  double err = (got - want).abs().max().item<double>();
  EXPECT_LE(err, meta.value("atol", 1e-4)) << GetParam();
  std::cout << fmt::format("[golden] {}: {} embeddings, max abs error {:.3g}\n", GetParam(), texts.size(), err);
  // One text per batch (no padding, so no attention mask at all) gives the same rows.
  opt.batch_tokens = 1;
  auto alone = enc.encode(texts, opt);
  EXPECT_LE((alone - want).abs().max().item<double>(), meta.value("atol", 1e-4)) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SentenceGolden, ::testing::Values("e5_like_mean", "labse_like_cls_dense"),
                         [](const auto& info) { return info.param; });

TEST(CrossEncoderGolden, RawLogitsAndPredict) {
  fs::path dir = kDir / "cross_encoder_xlmr";
  auto meta = core::read_json_file((dir / "golden.json").string());
  auto model = models::load_model(dir.string());
  auto tok = tokenize::Tokenizer::from_file(dir.string());
  std::vector<std::string> a, b;
  for (const auto& p : meta["pairs"]) {
    a.push_back(p[0]);
    b.push_back(p[1]);
  }
  const auto [ids, mask] = xling::testing::encode_padded(tok, a, &b);
  torch::InferenceMode guard;
  auto logits = model.forward({{"input_ids", ids}, {"attention_mask", mask}}).at("logits");
  auto golden = io::Checkpoint::open((dir / "golden.safetensors").string());
  auto raw = layers::tensor_from_view(golden.at("raw_logits"), golden.owner("raw_logits"));
  auto predict = layers::tensor_from_view(golden.at("predict"), golden.owner("predict"));
  ASSERT_EQ(logits.numel(), raw.numel());
  EXPECT_LE((logits.view(-1) - raw.view(-1)).abs().max().item<double>(), 1e-4);
  EXPECT_EQ(meta["predict_activation"], "Sigmoid");
  EXPECT_LE((torch::sigmoid(logits).view(-1) - predict.view(-1)).abs().max().item<double>(), 1e-4);
}
