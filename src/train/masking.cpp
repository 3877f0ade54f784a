// Masked-language-model inputs (see masking.hpp).
#include "train/masking.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "xling/errors.hpp"

namespace xling::train {
namespace {

void check_probability(double p, const char* name, bool open) {
  const bool ok = open ? (p > 0.0 && p < 1.0) : (p >= 0.0 && p <= 1.0);
  if (!ok) {
    throw InvalidArgument(
        fmt::format("{} is {}, expected a value in {}0, 1{}", name, p, open ? "(" : "[", open ? ")" : "]"));
  }
}

void check_ids(const torch::Tensor& t, const char* name, const torch::Tensor& like) {
  if (!t.defined() || t.dim() != 2 || (like.defined() && t.sizes() != like.sizes())) {
    throw InvalidArgument(fmt::format("mask_tokens: {} must be a (B, T) tensor{}", name,
                                      like.defined() ? " of input_ids' shape" : ""));
  }
}

bool starts_with(const std::string& s, std::string_view prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

}  // namespace

MlmOptions mlm_options(const tokenize::Tokenizer& tok) {
  MlmOptions o;
  auto mask = tok.mask_id();
  if (!mask) {
    throw InvalidArgument("the tokenizer has no mask token (tokenizer_config.json 'mask_token'): it cannot make "
                          "masked-language-model inputs");
  }
  o.mask_token_id = *mask;
  o.vocab_size = static_cast<int64_t>(tok.vocab_size());
  for (int id : tok.special_ids()) o.special_ids.push_back(id);
  return o;
}

MlmBatch mask_tokens(const MlmInputs& in, const MlmOptions& o, torch::Generator& gen) {
  check_probability(o.mlm_probability, "mlm_probability", /*open=*/true);
  check_probability(o.mask_replace_prob, "mask_replace_prob", /*open=*/false);
  check_probability(o.random_replace_prob, "random_replace_prob", /*open=*/false);
  if (o.mask_replace_prob + o.random_replace_prob > 1.0) {
    throw InvalidArgument(fmt::format("mask_replace_prob {} + random_replace_prob {} is more than 1",
                                      o.mask_replace_prob, o.random_replace_prob));
  }
  if (o.mask_token_id < 0) throw InvalidArgument("mask_tokens: no mask_token_id");
  check_ids(in.input_ids, "input_ids", {});
  if (in.input_ids.scalar_type() != torch::kLong) throw InvalidArgument("mask_tokens: input_ids must be int64");
  if (in.attention_mask.defined()) check_ids(in.attention_mask, "attention_mask", in.input_ids);
  const bool random_draws = !o.whole_word_mask && o.mask_replace_prob < 1.0 && o.random_replace_prob > 0.0;
  if (random_draws && o.vocab_size <= 0) throw InvalidArgument("mask_tokens: random replacement needs vocab_size > 0");
  if (gen.device() != in.input_ids.device()) {
    throw InvalidArgument(fmt::format("mask_tokens: the generator is on {}, input_ids on {}", gen.device().str(),
                                      in.input_ids.device().str()));
  }

  const torch::Tensor& ids = in.input_ids;
  const auto fopt = torch::TensorOptions().dtype(torch::kFloat).device(ids.device());
  // Tokens that may be chosen: not padding, not special.
  torch::Tensor valid = in.attention_mask.defined() ? in.attention_mask.ne(0) : torch::ones_like(ids, torch::kBool);
  if (!o.special_ids.empty()) {
    valid = valid & ~torch::isin(ids, torch::tensor(o.special_ids, ids.options()));
  }

  torch::Tensor chosen;  // (B, T) bool
  if (!o.whole_word_mask) {
    auto prob = torch::full(ids.sizes(), o.mlm_probability, fopt).masked_fill(~valid, 0.0);
    chosen = torch::bernoulli(prob, gen).to(torch::kBool);
  } else {
    check_ids(in.word_starts, "word_starts (needed by whole_word_mask)", ids);
    // A word also starts after a special token or padding: words never span them.
    auto prev_valid = torch::zeros_like(valid);
    if (ids.size(1) > 1) prev_valid.slice(1, 1).copy_(valid.slice(1, 0, ids.size(1) - 1));
    auto start = valid & (in.word_starts.to(torch::kBool) | ~prev_valid);
    auto word = start.to(torch::kLong).cumsum(1);  // (B, T): 1-based word of each token within its row
    // Words are chosen by their first token (HF gives the other tokens probability 0), then
    // every token of a chosen word is.
    auto prob = torch::full(ids.sizes(), o.mlm_probability, fopt).masked_fill(~start, 0.0);
    auto chosen_start = torch::bernoulli(prob, gen).to(torch::kLong);
    auto by_word = torch::zeros({ids.size(0), ids.size(1) + 1}, ids.options()).scatter_add_(1, word, chosen_start);
    chosen = by_word.gather(1, word).gt(0) & valid;
  }

  MlmBatch out;
  out.labels = ids.masked_fill(~chosen, -100);
  if (o.whole_word_mask) {
    out.input_ids = ids.masked_fill(chosen, o.mask_token_id);
    return out;
  }
  // Two-stage draws as HF: mask_replace_prob of the chosen become the mask token, then
  // random_replace_prob / (1 - mask_replace_prob) of the remaining ones a random id.
  auto replaced = torch::bernoulli(torch::full(ids.sizes(), o.mask_replace_prob, fopt), gen).to(torch::kBool) & chosen;
  out.input_ids = ids.masked_fill(replaced, o.mask_token_id);
  if (!random_draws) return out;
  const double scaled = o.random_replace_prob / (1.0 - o.mask_replace_prob);
  auto random = torch::bernoulli(torch::full(ids.sizes(), scaled, fopt), gen).to(torch::kBool) & chosen & ~replaced;
  auto random_ids = torch::randint(o.vocab_size, ids.sizes(), gen, ids.options());
  out.input_ids = torch::where(random, random_ids, out.input_ids);
  return out;
}

torch::Tensor word_starts(const torch::Tensor& input_ids, const tokenize::Tokenizer& tok) {
  check_ids(input_ids, "input_ids", {});
  auto ids = input_ids.to(torch::kCPU, torch::kLong).contiguous();
  const auto special_list = tok.special_ids();
  const bool wordpiece = tok.model_type() == "WordPiece";
  auto out = torch::zeros(ids.sizes(), torch::kBool);
  auto a = ids.accessor<int64_t, 2>();
  auto s = out.accessor<bool, 2>();
  for (int64_t b = 0; b < ids.size(0); ++b) {
    bool after_special = true;
    for (int64_t t = 0; t < ids.size(1); ++t) {
      const int64_t id = a[b][t];
      if (std::binary_search(special_list.begin(), special_list.end(), id)) {
        after_special = true;
        continue;
      }
      bool start = after_special;
      if (!start) {
        // An id outside the vocabulary cannot be read: it counts as a word of its own.
        auto piece = id >= 0 && id <= INT32_MAX ? tok.id_to_token(static_cast<int>(id)) : std::nullopt;
        start = !piece || (wordpiece ? !starts_with(*piece, "##")
                                     : starts_with(*piece, "\u2581") || starts_with(*piece, "\u0120"));
      }
      s[b][t] = start;
      after_special = false;
    }
  }
  return out.to(input_ids.device());
}

}  // namespace xling::train
