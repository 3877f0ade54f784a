// Logits processors (see logits_processors.hpp). Each follows the HF class of the same role;
// the ones needing per-row history (n-grams, bad words) work on a host copy of the ids.
#include "generate/logits_processors.hpp"

#include <limits>
#include <map>

namespace xling::generate {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// -inf in the columns `ids` (those inside the vocabulary), in place: scores are always a fresh
// tensor here (log_softmax or the model's logits).
void ban_columns(torch::Tensor& scores, const std::vector<int64_t>& ids) {
  std::vector<int64_t> cols;
  for (int64_t id : ids) {
    if (id >= 0 && id < scores.size(1)) cols.push_back(id);
  }
  if (cols.empty()) return;
  auto idx = torch::tensor(cols, torch::TensorOptions().dtype(torch::kLong)).to(scores.device());
  scores.index_fill_(1, idx, kNegInf);
}

// Rows x banned token ids -> -inf at those positions.
void ban(torch::Tensor& scores, const std::vector<std::vector<int64_t>>& banned) {
  std::vector<int64_t> rows, cols;
  for (std::size_t r = 0; r < banned.size(); ++r) {
    for (int64_t t : banned[r]) {
      if (t >= 0 && t < scores.size(1)) {
        rows.push_back(static_cast<int64_t>(r));
        cols.push_back(t);
      }
    }
  }
  if (rows.empty()) return;
  auto opts = torch::TensorOptions().dtype(torch::kLong);
  auto r = torch::from_blob(rows.data(), {static_cast<int64_t>(rows.size())}, opts).to(scores.device());
  auto c = torch::from_blob(cols.data(), {static_cast<int64_t>(cols.size())}, opts).to(scores.device());
  scores.index_put_({r, c}, kNegInf);
}

// NoRepeatNGramLogitsProcessor: a token that would complete an n-gram already in the row is banned.
std::vector<std::vector<int64_t>> repeated_ngrams(const torch::Tensor& seq_cpu, int64_t n) {
  const int64_t rows = seq_cpu.size(0), len = seq_cpu.size(1);
  std::vector<std::vector<int64_t>> out(rows);
  if (len + 1 < n) return out;
  auto acc = seq_cpu.accessor<int64_t, 2>();
  for (int64_t r = 0; r < rows; ++r) {
    // the last n-1 tokens; any earlier occurrence of them bans its successor
    for (int64_t start = 0; start + n <= len; ++start) {
      bool match = true;
      for (int64_t k = 0; k < n - 1 && match; ++k) match = acc[r][start + k] == acc[r][len - (n - 1) + k];
      if (match) out[r].push_back(acc[r][start + n - 1]);
    }
  }
  return out;
}

// NoBadWordsLogitsProcessor: single-token entries are always banned; longer ones ban their
// last token when the row ends with the rest. Entries equal to [eos] are ignored (HF).
std::vector<std::vector<int64_t>> bad_words(const torch::Tensor& seq_cpu, const GenerationOptions& o) {
  const int64_t rows = seq_cpu.size(0), len = seq_cpu.size(1);
  std::vector<std::vector<int64_t>> out(rows);
  auto acc = seq_cpu.accessor<int64_t, 2>();
  for (const auto& words : o.bad_words_ids) {
    if (words.size() == 1 &&
        std::find(o.eos_token_ids.begin(), o.eos_token_ids.end(), words[0]) != o.eos_token_ids.end()) {
      continue;
    }
    const int64_t prefix = static_cast<int64_t>(words.size()) - 1;
    for (int64_t r = 0; r < rows; ++r) {
      if (prefix > len) continue;
      bool match = true;
      for (int64_t k = 0; k < prefix && match; ++k) match = acc[r][len - prefix + k] == words[k];
      if (match) out[r].push_back(words.back());
    }
  }
  return out;
}

torch::Tensor force_token(const torch::Tensor& scores, int64_t token) {
  auto out = torch::full_like(scores, kNegInf);
  if (token >= 0 && token < scores.size(1)) out.select(1, token).fill_(0);
  return out;
}

}  // namespace

torch::Tensor process_logits(const torch::Tensor& sequences, torch::Tensor scores, const GenerationOptions& o) {
  const int64_t cur_len = sequences.size(1);
  if (o.repetition_penalty != 1.0) {
    auto seen = scores.gather(1, sequences);
    seen = torch::where(seen < 0, seen * o.repetition_penalty, seen / o.repetition_penalty);
    scores = scores.scatter(1, sequences, seen);
  }
  torch::Tensor seq_cpu;
  if (o.no_repeat_ngram_size > 0 || !o.bad_words_ids.empty()) seq_cpu = sequences.to(torch::kCPU).contiguous();
  if (o.no_repeat_ngram_size > 0) ban(scores, repeated_ngrams(seq_cpu, o.no_repeat_ngram_size));
  if (!o.bad_words_ids.empty()) ban(scores, bad_words(seq_cpu, o));
  const bool eos_banned = (o.min_length > 0 && cur_len < o.min_length) ||
                          (o.min_new_tokens > 0 && cur_len - o.prompt_length < o.min_new_tokens);
  if (eos_banned) ban_columns(scores, o.eos_token_ids);
  if (o.forced_bos_token_id && cur_len == 1) scores = force_token(scores, *o.forced_bos_token_id);
  if (o.forced_eos_token_id && cur_len == o.max_length - 1) scores = force_token(scores, *o.forced_eos_token_id);
  ban_columns(scores, o.suppress_tokens);
  return scores;
}

torch::Tensor warp_logits(torch::Tensor scores, const GenerationOptions& o, int64_t min_tokens_to_keep) {
  if (o.temperature != 1.0) scores = scores / o.temperature;
  if (o.top_k > 0) {
    const int64_t k = std::min(std::max(o.top_k, min_tokens_to_keep), scores.size(-1));
    auto kth = std::get<0>(torch::topk(scores, k)).select(-1, k - 1).unsqueeze(-1);
    scores = scores.masked_fill(scores < kth, kNegInf);
  }
  if (o.top_p < 1.0) {
    auto [sorted, order] = torch::sort(scores, /*dim=*/-1, /*descending=*/false);
    auto cumulative = sorted.softmax(-1).cumsum(-1);
    auto remove = cumulative <= (1 - o.top_p);
    remove.narrow(-1, remove.size(-1) - min_tokens_to_keep, min_tokens_to_keep).fill_(false);
    scores = scores.masked_fill(remove.scatter(1, order, remove), kNegInf);
  }
  if (o.min_p) {
    auto probs = scores.softmax(-1);
    auto threshold = probs.amax(-1, /*keepdim=*/true) * *o.min_p;
    auto remove = probs < threshold;
    const int64_t k = std::min(min_tokens_to_keep, probs.size(-1));
    remove.scatter_(-1, std::get<1>(torch::topk(probs, k)), false);
    scores = scores.masked_fill(remove, kNegInf);
  }
  return scores;
}

}  // namespace xling::generate
