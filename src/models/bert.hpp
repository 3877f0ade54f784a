// The BERT family (BERT, mBERT, LaBSE, RoBERTa, XLM-R, CamemBERT) as libtorch modules whose
// state_dict keys are HF's. Variants come from the typed io::BertConfig (position ids, heads),
// never from model_type strings at run time.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "io/bert_config.hpp"
#include "layers/adapter.hpp"
#include "layers/modules.hpp"
#include "models/encoder_outputs.hpp"

namespace xling::models {

struct BertEmbeddingsImpl : torch::nn::Module {
  explicit BertEmbeddingsImpl(const io::BertConfig& c);
  // input_ids, token_type_ids, position_ids: (B, T) int64 -> (B, T, D)
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids,
                        const torch::Tensor& position_ids);
  // inputs_embeds: (B, T, D) in place of word_embeddings(input_ids) -> (B, T, D)
  torch::Tensor forward_embeds(const torch::Tensor& inputs_embeds, const torch::Tensor& token_type_ids,
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
  // Bottleneck adapters (models/adapters.hpp), registered as "attention.output.adapter" and
  // "output.adapter"; a null one is left out. Replaces adapters already set.
  void set_adapters(layers::BottleneckAdapter attention, layers::BottleneckAdapter output);
  layers::Linear query{nullptr}, key{nullptr}, value{nullptr}, attn_out{nullptr}, inter{nullptr}, out{nullptr};
  layers::LayerNorm attn_norm{nullptr}, out_norm{nullptr};
  layers::BottleneckAdapter attn_adapter{nullptr}, out_adapter{nullptr};  // null unless adapters are added
  int64_t heads, head_dim;
  io::Activation act;
  double hidden_dropout, attention_dropout;  // training only
};
TORCH_MODULE(BertLayer);

// The backbone's inputs: (B, T) int64, undefined when absent (mask: all ones, types: zeros).
struct BertInputs {
  torch::Tensor input_ids, attention_mask, token_type_ids;
  // (N, D) PEFT prompt-tuning virtual tokens, or undefined. As PEFT feeds them to HF: prepended
  // to the word embeddings (inputs_embeds), with N ones in front of the attention mask, N zeros
  // in front of the token types, and positions as HF makes them for inputs_embeds (sequential
  // over all N + T rows, padding included).
  torch::Tensor prompt;
};

// embeddings + encoder (+ pooler), registered under HF's names.
struct BertBackboneImpl : torch::nn::Module {
  BertBackboneImpl(const io::BertConfig& c, bool with_pooler);
  // Returns hidden states of every layer (index 0 = embeddings), each (B, N + T, D) with N
  // prompt rows first, and the pooler output (of row 0).
  std::vector<torch::Tensor> forward(const BertInputs& in, torch::Tensor* pooled);
  torch::Tensor position_ids(const torch::Tensor& input_ids) const;
  // HF's position ids for inputs_embeds of length t: arange, or padding_idx + 1 + arange for RoBERTa.
  torch::Tensor sequential_position_ids(int64_t b, int64_t t, const torch::TensorOptions& opts) const;
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
  // Inputs as HF names them; absent ones are undefined tensors. Outputs by HF name. With a
  // prompt (N virtual tokens), hidden states keep the N prompt rows in front (as PEFT returns
  // them) while token-level logits (token classification, MLM) and their loss cover the T real
  // tokens only, aligned with input_ids and labels (PEFT 0.21 returns N + T logit rows for
  // TOKEN_CLS and fails on labels).
  NamedTensors forward(const NamedTensors& inputs);

  // PEFT prompt tuning: `prompt` (N, D) is registered as the parameter "prompt_embeddings"
  // (replacing any previous one); an undefined tensor removes it.
  void set_prompt(const torch::Tensor& prompt);

  io::BertConfig config;
  BertHead head;
  std::string prefix;  // "bert" / "roberta": where HF's head classes keep the base model
  BertBackbone backbone{nullptr};
  // heads (only the one in use is created)
  layers::Linear classifier{nullptr}, classifier_dense{nullptr}, classifier_out{nullptr};
  layers::Linear mlm_dense{nullptr};
  layers::LayerNorm mlm_norm{nullptr};
  torch::Tensor mlm_bias;
  torch::Tensor prompt_embeddings;  // (N, D) or undefined
};
TORCH_MODULE(BertTaskModel);

// `model` as a BERT-family model; UnsupportedModel saying that `feature` needs one otherwise.
BertTaskModelImpl& as_bert(torch::nn::Module& model, const std::string& feature);

// HF architecture names this family implements, e.g. "XLMRobertaForSequenceClassification".
std::vector<std::string> bert_architectures();
// Builds the class `architecture` (one of bert_architectures()); nullopt when not one.
std::optional<BertTaskModel> make_bert_model(const io::BertConfig& c, const std::string& architecture);

}  // namespace xling::models
