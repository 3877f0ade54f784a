// Token-budget batching (see batching.hpp).
#include "tasks/batching.hpp"

#include <algorithm>
#include <limits>
#include <numeric>

#include "io/bert_config.hpp"

namespace xling::tasks {

std::size_t max_input_tokens(const io::ModelConfig& config, std::size_t fallback) {
  const auto* bert = dynamic_cast<const io::BertConfig*>(&config);
  if (!bert) return fallback;
  auto usable = static_cast<std::size_t>(bert->max_position_embeddings);
  if (bert->position_ids == io::PositionIds::kFromPaddingIdx) usable -= static_cast<std::size_t>(bert->pad_token_id.value_or(1) + 1);
  return usable;
}

tokenize::Encoding encode_truncated(const tokenize::Tokenizer& tok, const std::string& text, const std::string* pair,
                                    std::size_t max_len, std::size_t* truncated, std::size_t* full_length) {
  tokenize::Encoding e = pair ? tok.encode_pair(text, *pair) : tok.encode(text);
  if (full_length) *full_length = e.size();
  if (e.size() <= max_len) return e;
  std::vector<std::string> a{text}, b;
  if (pair) b.push_back(*pair);
  if (truncated) ++*truncated;
  return tok.encode_batch(a, pair ? &b : nullptr, true, tokenize::TruncationOptions{max_len, tokenize::Side::kRight},
                          tokenize::PaddingOptions{})[0];
}

std::size_t resolve_batch_tokens(std::size_t requested, const torch::Device& device) {
  if (requested > 0) return requested;
  return device.is_cuda() ? 16384 : 1024;
}

std::vector<std::size_t> plan_passes(const std::vector<std::size_t>& lengths, std::size_t batch_tokens,
                                     std::size_t pass_cost) {
  const std::size_t n = lengths.size();
  // best[i]: the cheapest cut of lengths[i..n); next[i]: where its first pass ends.
  std::vector<std::size_t> best(n + 1, 0), next(n + 1, n);
  for (std::size_t i = n; i-- > 0;) {
    const std::size_t longest = std::max<std::size_t>(1, lengths[i]);
    const std::size_t rows = std::max<std::size_t>(1, batch_tokens / longest);
    best[i] = std::numeric_limits<std::size_t>::max();
    for (std::size_t j = i + 1; j <= std::min(n, i + rows); ++j) {
      const std::size_t cost = pass_cost + longest * (j - i) + best[j];
      if (cost <= best[i]) {  // ties: the larger pass
        best[i] = cost;
        next[i] = j;
      }
    }
  }
  std::vector<std::size_t> ends;
  for (std::size_t i = 0; i < n; i = next[i]) ends.push_back(next[i]);
  return ends;
}

std::size_t pass_cost_tokens(const torch::Device& device) { return device.is_cuda() ? 4096 : 32; }

void for_each_batch(const std::vector<tokenize::Encoding>& encs, std::size_t batch_tokens, int64_t pad_id,
                    const std::function<void(const Batch&)>& fn, BatchStats* stats, std::size_t pass_cost) {
  std::vector<std::size_t> order(encs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return encs[a].size() > encs[b].size(); });
  std::vector<std::size_t> lengths(order.size());
  for (std::size_t i = 0; i < order.size(); ++i) lengths[i] = encs[order[i]].size();
  std::size_t start = 0;
  for (std::size_t end : plan_passes(lengths, batch_tokens, pass_cost)) {
    std::size_t longest = std::max<std::size_t>(1, lengths[start]);
    auto b = static_cast<int64_t>(end - start), t = static_cast<int64_t>(longest);
    Batch batch;
    batch.input_ids = torch::full({b, t}, pad_id, torch::kLong);
    batch.attention_mask = torch::zeros({b, t}, torch::kLong);
    batch.token_type_ids = torch::zeros({b, t}, torch::kLong);
    auto ids = batch.input_ids.accessor<int64_t, 2>(), mask = batch.attention_mask.accessor<int64_t, 2>(),
         types = batch.token_type_ids.accessor<int64_t, 2>();
    for (int64_t r = 0; r < b; ++r) {
      std::size_t row = order[start + static_cast<std::size_t>(r)];
      batch.rows.push_back(row);
      const auto& e = encs[row];
      for (std::size_t k = 0; k < e.size(); ++k) {
        ids[r][static_cast<int64_t>(k)] = e.ids[k];
        mask[r][static_cast<int64_t>(k)] = 1;
        types[r][static_cast<int64_t>(k)] = e.type_ids[k];
      }
      if (stats) stats->tokens += e.size();
    }
    if (stats) stats->padded_tokens += static_cast<std::size_t>(b * t);
    fn(batch);
    start = end;
  }
}

}  // namespace xling::tasks
