// Greedy search, sampling and beam search with HF's semantics (transformers 5 generate()):
// the same logits processors, the same beam bookkeeping (2K candidates per step, finished
// hypotheses scored by sum log-prob / generated_length ** length_penalty, early_stopping
// True / False / "never" heuristics), so ids and sequence scores equal HF's.
// Rows whose result is fixed (a greedy row that emitted EOS, a batch item whose beams are
// done) leave the computation; that changes no result, only the work.
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include <torch/torch.h>

#include "generate/options.hpp"

namespace xling::generate {

// The model side of decoding: N rows, each with its own cache.
class TokenScorer {
 public:
  virtual ~TokenScorer() = default;
  // Feeds new tokens (N, T) to every row and returns the next-token logits (N, V) float32.
  virtual torch::Tensor next_logits(const torch::Tensor& new_ids) = 0;
  // Keeps rows `rows` (int64 (N'), indices into the current rows; repeats allowed).
  virtual void select_rows(const torch::Tensor& rows) = 0;
};

struct Hypothesis {
  std::vector<int64_t> ids;    // the prompt followed by the generated tokens (EOS included when emitted)
  std::optional<double> score; // beam search: HF's sequence score; greedy/sampling: none
};

// Greedy search and sampling call it after every step with each live sequence's new token
// (`row` = input * num_return_sequences + j); it returns false to end that sequence there
// (stop strings, a client that left), which keeps the tokens so far. Beam search calls nothing.
using TokenCallback = std::function<bool(int64_t row, int64_t token)>;

// prompts: (B, P) int64, one row per input, all of length P (= options.prompt_length); the
// scorer holds B rows in the same order. Returns, per input, num_return_sequences hypotheses
// (best first for beam search).
std::vector<std::vector<Hypothesis>> generate(TokenScorer& scorer, const torch::Tensor& prompts,
                                              const GenerationOptions& options, const TokenCallback& on_token = {});

}  // namespace xling::generate
