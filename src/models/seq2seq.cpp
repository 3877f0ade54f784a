// Decoder state handling and HF's label shifting (see seq2seq.hpp).
#include "models/seq2seq.hpp"

#include <algorithm>

#include "models/bart.hpp"
#include "models/t5.hpp"
#include "xling/errors.hpp"

namespace xling::models {

void DecoderState::select_rows(const torch::Tensor& rows) {
  for (auto& c : self_cache) c.defer_rows(rows);
  // The new rows as runs of one source item each: equal-length runs keep the cross caches per
  // item (selecting items only when the set changes); anything else expands them per row.
  auto r = rows.to(torch::kCPU).contiguous();
  const int64_t n = r.numel();
  const auto* p = r.data_ptr<int64_t>();
  std::vector<int64_t> items;
  std::vector<int64_t> run_lengths;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t item = p[i] / rows_per_item;
    if (items.empty() || items.back() != item) {
      items.push_back(item);
      run_lengths.push_back(0);
    }
    ++run_lengths.back();
  }
  bool uniform = !items.empty();
  for (int64_t len : run_lengths) uniform = uniform && len == run_lengths.front();
  std::vector<int64_t> sorted = items;
  std::sort(sorted.begin(), sorted.end());
  uniform = uniform && std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end();  // each item once
  torch::Tensor item_rows;
  if (uniform) {
    const int64_t old_items = memory_bias.size(0);
    bool identity = static_cast<int64_t>(items.size()) == old_items;
    for (std::size_t i = 0; identity && i < items.size(); ++i) identity = items[i] == static_cast<int64_t>(i);
    rows_per_item = run_lengths.front();
    if (identity) return;
    item_rows = torch::tensor(items, torch::TensorOptions().dtype(torch::kLong)).to(memory_bias.device());
  } else {
    std::vector<int64_t> per_row(static_cast<std::size_t>(n));
    for (int64_t i = 0; i < n; ++i) per_row[static_cast<std::size_t>(i)] = p[i] / rows_per_item;
    item_rows = torch::tensor(per_row, torch::TensorOptions().dtype(torch::kLong)).to(memory_bias.device());
    rows_per_item = 1;
  }
  for (auto& c : cross_cache) c.select_rows(item_rows);
  if (memory.defined()) memory = memory.index_select(0, item_rows);
  memory_bias = memory_bias.index_select(0, item_rows);
}

torch::Tensor shift_labels_right(const torch::Tensor& labels, const io::Seq2SeqConfig& config) {
  // labels: (B, T) -> (B, T)
  const int64_t pad = config.pad_token_id.value_or(0);
  auto ids = labels.masked_fill(labels.eq(-100), pad);
  auto out = torch::empty_like(ids);
  const int64_t t = ids.size(1);
  if (t > 1) out.narrow(1, 1, t - 1).copy_(ids.narrow(1, 0, t - 1));
  if (config.shift == io::DecoderShift::kRotateLast) {
    // mBART: the last non-pad token of each row (its eos / language code) goes in front.
    auto last = (ids.ne(pad).sum(1) - 1).clamp_min(0).unsqueeze(1);
    out.narrow(1, 0, 1).copy_(ids.gather(1, last));
  } else {
    out.narrow(1, 0, 1).fill_(config.decoder_start_token_id);
  }
  return out;
}

Seq2SeqInputs seq2seq_inputs(const std::map<std::string, torch::Tensor>& inputs, const io::Seq2SeqConfig& config,
                             bool encoder_only) {
  auto get = [&](const char* k) {
    auto it = inputs.find(k);
    return it == inputs.end() ? torch::Tensor() : it->second;
  };
  Seq2SeqInputs in;
  in.input_ids = get("input_ids");
  if (!in.input_ids.defined()) throw InvalidArgument("a seq2seq forward pass needs input_ids");
  in.input_ids = in.input_ids.to(torch::kLong);
  in.attention_mask = get("attention_mask");
  if (!in.attention_mask.defined()) in.attention_mask = torch::ones_like(in.input_ids);
  if (encoder_only) return in;
  in.labels = get("labels");
  if (in.labels.defined()) in.labels = in.labels.to(torch::kLong);
  in.decoder_input_ids = get("decoder_input_ids");
  if (!in.decoder_input_ids.defined()) {
    if (!in.labels.defined()) throw InvalidArgument("a seq2seq forward pass needs labels or decoder_input_ids");
    in.decoder_input_ids = shift_labels_right(in.labels, config);
  }
  in.decoder_input_ids = in.decoder_input_ids.to(torch::kLong);
  return in;
}

torch::Tensor seq2seq_loss(const torch::Tensor& logits, const torch::Tensor& labels) {
  return torch::nn::functional::cross_entropy(logits.reshape({-1, logits.size(-1)}).to(torch::kFloat32),
                                              labels.to(torch::kLong).reshape({-1}),
                                              torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-100))
      .reshape({1});
}

Seq2SeqModel* as_seq2seq(torch::nn::Module& module) {
  if (auto* b = dynamic_cast<BartForConditionalGenerationImpl*>(&module)) return b;
  if (auto* t = dynamic_cast<T5ModelImpl*>(&module)) return t->encoder_only ? nullptr : t;
  return nullptr;
}

}  // namespace xling::models
