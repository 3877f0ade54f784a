// Decoder state handling and HF's label shifting (see seq2seq.hpp).
#include "models/seq2seq.hpp"

#include "models/bart.hpp"
#include "models/t5.hpp"
#include "xling/errors.hpp"

namespace xling::models {

void DecoderState::select_rows(const torch::Tensor& rows) {
  for (auto& c : self_cache) c.select_rows(rows);
  for (auto& c : cross_cache) c.select_rows(rows);
  memory = memory.index_select(0, rows);
  memory_bias = memory_bias.index_select(0, rows);
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

Seq2SeqModel* as_seq2seq(torch::nn::Module& module) {
  if (auto* b = dynamic_cast<BartForConditionalGenerationImpl*>(&module)) return b;
  if (auto* t = dynamic_cast<T5ModelImpl*>(&module)) return t->encoder_only ? nullptr : t;
  return nullptr;
}

}  // namespace xling::models
