// The BERT family (BERT, mBERT, LaBSE, RoBERTa, XLM-R, CamemBERT) as libtorch modules whose
// state_dict keys are HF's. Variants come from the typed io::BertConfig (position ids, heads),
// never from model_type strings at run time.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "io/bert_config.hpp"
#include "layers/modules.hpp"
#include "models/encoder_outputs.hpp"

namespace xling::models {

struct BertEmbeddingsImpl : torch::nn::Module {
  explicit BertEmbeddingsImpl(const io::BertConfig& c);
  // input_ids, token_type_ids, position_ids: (B, T) int64 -> (B, T, D)
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids,
                        const torch::Tensor& position_ids);
  layers::Embedding word_embeddings{nullptr}, position_embeddings{nullptr}, token_type_embeddings{nullptr};
  layers::LayerNorm LayerNorm{nullptr};
  double dropout;  // hidden_dropout_prob, after the LayerNorm (training only)
};
TORCH_MODULE(BertEmbeddings);

struct BertLayerImpl : torch::nn::Module {
  explicit BertLayerImpl(const io::BertConfig& c);
  // x: (B, T, D), mask: (B, 1, 1, T) additive float -> (B, T, D)
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask);
  layers::Linear query{nullptr}, key{nullptr}, value{nullptr}, attn_out{nullptr}, inter{nullptr}, out{nullptr};
  layers::LayerNorm attn_norm{nullptr}, out_norm{nullptr};
  int64_t heads, head_dim;
  io::Activation act;
  double hidden_dropout, attention_dropout;  // training only
};
TORCH_MODULE(BertLayer);

// embeddings + encoder (+ pooler), registered under HF's names.
struct BertBackboneImpl : torch::nn::Module {
  BertBackboneImpl(const io::BertConfig& c, bool with_pooler);
  // Returns hidden states of every layer (index 0 = embeddings) and the pooler output.
  std::vector<torch::Tensor> forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                     const torch::Tensor& token_type_ids, torch::Tensor* pooled);
  torch::Tensor position_ids(const torch::Tensor& input_ids) const;
  io::BertConfig config;
  BertEmbeddings embeddings{nullptr};
  torch::nn::ModuleList layers{nullptr};
  layers::Linear pooler{nullptr};
};
TORCH_MODULE(BertBackbone);

enum class BertHead { kNone, kSequenceClassification, kTokenClassification, kMaskedLM };

// A base model or a base model with one head, as one HF architecture class.
struct BertTaskModelImpl : torch::nn::Module {
  BertTaskModelImpl(const io::BertConfig& c, BertHead head, bool with_pooler);
  // Inputs as HF names them; absent ones are undefined tensors. Outputs by HF name.
  NamedTensors forward(const NamedTensors& inputs);

  io::BertConfig config;
  BertHead head;
  std::string prefix;  // "bert" / "roberta": where HF's head classes keep the base model
  BertBackbone backbone{nullptr};
  // heads (only the one in use is created)
  layers::Linear classifier{nullptr}, classifier_dense{nullptr}, classifier_out{nullptr};
  layers::Linear mlm_dense{nullptr};
  layers::LayerNorm mlm_norm{nullptr};
  torch::Tensor mlm_bias;
};
TORCH_MODULE(BertTaskModel);

// HF architecture names this family implements, e.g. "XLMRobertaForSequenceClassification".
std::vector<std::string> bert_architectures();
// Builds the class `architecture` (one of bert_architectures()); nullopt when not one.
std::optional<BertTaskModel> make_bert_model(const io::BertConfig& c, const std::string& architecture);

}  // namespace xling::models
