// Greedy, sampling and beam search (see generator.hpp). Beam tensors are (B, K, ...) for the
// B batch items still running and K beams; the scorer's rows are item-major (b * K + k).
#include "generate/generator.hpp"

#include <cmath>

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>

#include "generate/logits_processors.hpp"
#include "xling/errors.hpp"

namespace xling::generate {
namespace {

constexpr double kBig = 1.0e9;  // HF's -1e9 "impossible" score

torch::Tensor long_tensor(const std::vector<int64_t>& v, const torch::Device& device) {
  return torch::tensor(v, torch::TensorOptions().dtype(torch::kLong)).to(device);
}

std::vector<int64_t> row_ids(const torch::Tensor& row_cpu, int64_t length) {
  auto acc = row_cpu.accessor<int64_t, 1>();
  std::vector<int64_t> out(static_cast<std::size_t>(length));
  for (int64_t i = 0; i < length; ++i) out[static_cast<std::size_t>(i)] = acc[i];
  return out;
}

bool is_eos(int64_t token, const std::vector<int64_t>& eos) {
  return std::find(eos.begin(), eos.end(), token) != eos.end();
}

// Greedy search and multinomial sampling (HF's _sample): one hypothesis per row.
std::vector<std::vector<Hypothesis>> sample_or_greedy(TokenScorer& scorer, const torch::Tensor& prompts,
                                                      const GenerationOptions& o, const TokenCallback& on_token) {
  const int64_t b = prompts.size(0);
  const int64_t r = o.do_sample ? o.num_return_sequences : 1;
  torch::Tensor seq = prompts;
  if (r > 1) {
    auto rows = torch::arange(b, torch::kLong).repeat_interleave(r);
    scorer.select_rows(rows);
    seq = prompts.index_select(0, rows.to(prompts.device()));
  }
  const int64_t n = seq.size(0);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);
  std::vector<std::vector<int64_t>> out(static_cast<std::size_t>(n));
  auto prompt_cpu = seq.to(torch::kCPU).contiguous();
  for (int64_t i = 0; i < n; ++i) out[static_cast<std::size_t>(i)] = row_ids(prompt_cpu[i], seq.size(1));
  std::vector<int64_t> active(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) active[static_cast<std::size_t>(i)] = i;
  torch::Tensor logits = scorer.next_logits(seq);
  seq = seq.to(logits.device());
  int64_t cur_len = seq.size(1);
  while (true) {
    auto scores = process_logits(seq, logits, o);
    torch::Tensor next;
    if (o.do_sample) {
      auto probs = warp_logits(scores, o, 1).softmax(-1).to(torch::kCPU);
      next = torch::multinomial(probs, 1, /*replacement=*/false, gen).squeeze(1);
    } else {
      next = scores.argmax(-1);
    }
    auto next_cpu = next.to(torch::kCPU).contiguous();
    const auto* t = next_cpu.data_ptr<int64_t>();
    ++cur_len;
    std::vector<int64_t> keep;
    for (std::size_t i = 0; i < active.size(); ++i) {
      out[static_cast<std::size_t>(active[i])].push_back(t[i]);
      const bool go_on = !on_token || on_token(active[i], t[i]);
      if (go_on && !is_eos(t[i], o.eos_token_ids) && cur_len < o.max_length) keep.push_back(static_cast<int64_t>(i));
    }
    if (keep.empty()) break;
    next = next.to(logits.device());
    seq = torch::cat({seq, next.unsqueeze(1)}, 1);
    if (keep.size() != active.size()) {
      auto rows = long_tensor(keep, logits.device());
      scorer.select_rows(rows);
      seq = seq.index_select(0, rows);
      next = next.index_select(0, rows);
      std::vector<int64_t> still;
      for (int64_t i : keep) still.push_back(active[static_cast<std::size_t>(i)]);
      active = std::move(still);
    }
    logits = scorer.next_logits(next.unsqueeze(1));
  }
  std::vector<std::vector<Hypothesis>> result(static_cast<std::size_t>(b));
  for (int64_t i = 0; i < n; ++i) result[static_cast<std::size_t>(i / r)].push_back({std::move(out[static_cast<std::size_t>(i)]), std::nullopt});
  return result;
}

torch::Tensor gather_beams(const torch::Tensor& t, const torch::Tensor& idx) {
  // t: (B, M, ...), idx: (B, K) -> (B, K, ...)
  auto expanded = idx;
  while (expanded.dim() < t.dim()) expanded = expanded.unsqueeze(-1);
  std::vector<int64_t> shape = t.sizes().vec();
  shape[1] = idx.size(1);
  return t.gather(1, expanded.expand(shape));
}

// Beam search (HF's _beam_search, vectorised over the running items).
std::vector<std::vector<Hypothesis>> beam_search(TokenScorer& scorer, const torch::Tensor& prompts,
                                                 const GenerationOptions& o) {
  const int64_t b = prompts.size(0), k = o.num_beams, p = prompts.size(1), max_len = o.max_length;
  const int64_t n_eos = static_cast<int64_t>(o.eos_token_ids.size());
  const int64_t keep_n = std::max<int64_t>(2, 1 + n_eos) * k;
  const bool es_true = o.early_stopping == io::EarlyStopping::kTrue;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);

  scorer.select_rows(torch::arange(b, torch::kLong).repeat_interleave(k));
  torch::Tensor logits = scorer.next_logits(prompts.repeat_interleave(k, 0));
  const auto dev = logits.device();
  auto lopt = torch::TensorOptions().dtype(torch::kLong).device(dev);
  auto fopt = torch::TensorOptions().dtype(torch::kFloat32).device(dev);
  auto bopt = torch::TensorOptions().dtype(torch::kBool).device(dev);

  auto running = torch::zeros({b, k, max_len}, lopt);
  running.narrow(2, 0, p).copy_(prompts.to(dev).unsqueeze(1).expand({b, k, p}));
  auto running_scores = torch::zeros({b, k}, fopt);
  if (k > 1) running_scores.narrow(1, 1, k - 1).fill_(-kBig);
  auto fin = running.clone();
  auto fin_scores = torch::full({b, k}, -kBig, fopt);
  auto finished = torch::zeros({b, k}, bopt);
  auto fin_len = torch::zeros({b, k}, lopt);
  auto unsatisfied = torch::ones({b, 1}, bopt);
  auto top_mask = torch::cat({torch::ones({k}, bopt), torch::zeros({keep_n - k}, bopt)});
  auto eos_t = long_tensor(o.eos_token_ids, dev);

  std::vector<int64_t> items(static_cast<std::size_t>(b));
  for (int64_t i = 0; i < b; ++i) items[static_cast<std::size_t>(i)] = i;
  std::vector<std::vector<Hypothesis>> result(static_cast<std::size_t>(b));
  const int64_t returned = std::min(o.num_return_sequences, k);

  int64_t cur_len = p;
  while (true) {
    const int64_t ba = static_cast<int64_t>(items.size());
    auto flat_seq = running.narrow(2, 0, cur_len).reshape({ba * k, cur_len});
    auto logp = torch::log_softmax(logits.to(torch::kFloat32), -1);
    logp = process_logits(flat_seq, logp, o);
    if (o.do_sample) logp = warp_logits(logp, o, n_eos + 1);
    const int64_t vocab = logp.size(1);
    torch::Tensor top_lp, src_beam, tok;  // (Ba, keep_n) each
    if (o.do_sample || vocab < keep_n) {
      auto acc = (logp.view({ba, k, vocab}) + running_scores.unsqueeze(-1)).view({ba, k * vocab});
      torch::Tensor top_idx;
      if (o.do_sample) {
        top_idx = torch::multinomial(acc.softmax(-1).to(torch::kCPU), keep_n, /*replacement=*/false, gen).to(dev);
        top_lp = acc.gather(1, top_idx);
      } else {
        std::tie(top_lp, top_idx) = torch::topk(acc, keep_n);
      }
      src_beam = top_idx.div(vocab, "floor");
      tok = top_idx.remainder(vocab);
    } else {
      // HF takes the top keep_n of (beam score + log-prob) over all K * V candidates. Adding a
      // beam's score keeps the order of its row, so those candidates are among each beam's own
      // top keep_n: a per-row top-k, then a top-k over K * keep_n sums (the same float values),
      // instead of materialising and scanning all K * V sums (half the time at V = 256k).
      auto [row_lp, row_tok] = torch::topk(logp, keep_n);  // (Ba*K, keep_n)
      auto acc = (row_lp.view({ba, k, keep_n}) + running_scores.unsqueeze(-1)).view({ba, k * keep_n});
      torch::Tensor pick;
      std::tie(top_lp, pick) = torch::topk(acc, keep_n);
      src_beam = pick.div(keep_n, "floor");
      tok = row_tok.view({ba, k * keep_n}).gather(1, pick);
    }
    auto cand = gather_beams(running, src_beam).clone();
    cand.select(2, cur_len).copy_(tok);
    auto hits = n_eos > 0 ? torch::isin(tok, eos_t) : torch::zeros_like(tok, bopt);
    if (cur_len + 1 >= max_len) hits.fill_(true);

    // beams that continue: the best K candidates that did not stop
    auto run_lp = top_lp + hits.to(torch::kFloat32) * -kBig;
    auto next_idx = std::get<1>(torch::topk(run_lp, k));
    auto next_running = gather_beams(cand, next_idx);
    auto next_scores = gather_beams(run_lp, next_idx);
    auto next_src = gather_beams(src_beam, next_idx);

    // finished hypotheses: merge the stopping candidates among the top K, length-normalised
    auto just = hits.logical_and(top_mask.unsqueeze(0));
    auto fin_lp = top_lp / std::pow(static_cast<double>(cur_len + 1 - p), o.length_penalty);
    auto full = finished.all(-1, /*keepdim=*/true).logical_and(torch::full({1, 1}, es_true, bopt));
    fin_lp = fin_lp + full.to(torch::kFloat32) * -kBig;
    fin_lp = fin_lp + unsatisfied.logical_not().to(torch::kFloat32) * -kBig;
    fin_lp = fin_lp + just.logical_not().to(torch::kFloat32) * -kBig;
    auto m_scores = torch::cat({fin_scores, fin_lp}, 1);
    auto sel = std::get<1>(torch::topk(m_scores, k));
    fin = gather_beams(torch::cat({fin, cand}, 1), sel);
    fin_scores = gather_beams(m_scores, sel);
    finished = gather_beams(torch::cat({finished, just}, 1), sel);
    fin_len = gather_beams(torch::cat({fin_len, torch::full({ba, keep_n}, cur_len + 1, lopt)}, 1), sel);
    running = next_running;
    running_scores = next_scores;
    ++cur_len;

    // can a running beam still beat the worst finished one?
    const int64_t best_len = (o.early_stopping == io::EarlyStopping::kNever && o.length_penalty > 0) ? max_len - p
                                                                                                     : cur_len - p;
    auto best_running = running_scores.narrow(1, 0, 1) / std::pow(static_cast<double>(best_len), o.length_penalty);
    auto worst = torch::where(finished, std::get<0>(fin_scores.min(1, /*keepdim=*/true)), torch::full({1, 1}, -kBig, fopt));
    unsatisfied = unsatisfied.logical_and((best_running > worst).any(-1, /*keepdim=*/true));
    auto done = unsatisfied.logical_not().squeeze(1);
    if (es_true) done = done.logical_or(finished.all(-1));
    if (cur_len >= max_len) done.fill_(true);

    auto done_cpu = done.to(torch::kCPU).contiguous();
    const bool* d = done_cpu.data_ptr<bool>();
    std::vector<int64_t> keep_items;
    bool any_done = false;
    for (int64_t i = 0; i < ba; ++i) {
      if (!d[i]) {
        keep_items.push_back(i);
        continue;
      }
      any_done = true;
      auto seq_cpu = fin[i].narrow(0, 0, returned).to(torch::kCPU).contiguous();
      auto len_cpu = fin_len[i].to(torch::kCPU).contiguous();
      auto score_cpu = fin_scores[i].to(torch::kCPU).contiguous();
      auto& out = result[static_cast<std::size_t>(items[static_cast<std::size_t>(i)])];
      for (int64_t j = 0; j < returned; ++j) {
        out.push_back({row_ids(seq_cpu[j], len_cpu.data_ptr<int64_t>()[j]),
                       static_cast<double>(score_cpu.data_ptr<float>()[j])});
      }
    }
    if (keep_items.empty()) break;

    // reorder the caches to the surviving beams, dropping finished items
    auto rows = (torch::arange(ba, lopt) * k).unsqueeze(1) + next_src;  // (Ba, K)
    if (any_done) {
      auto kept = long_tensor(keep_items, dev);
      rows = rows.index_select(0, kept);
      for (torch::Tensor* t : {&running, &running_scores, &fin, &fin_scores, &finished, &fin_len, &unsatisfied}) {
        *t = t->index_select(0, kept);
      }
      std::vector<int64_t> still;
      for (int64_t i : keep_items) still.push_back(items[static_cast<std::size_t>(i)]);
      items = std::move(still);
    }
    scorer.select_rows(rows.reshape({-1}));
    logits = scorer.next_logits(running.select(2, cur_len - 1).reshape({-1, 1}));
  }
  return result;
}

}  // namespace

std::vector<std::vector<Hypothesis>> generate(TokenScorer& scorer, const torch::Tensor& prompts,
                                              const GenerationOptions& options, const TokenCallback& on_token) {
  if (prompts.dim() != 2 || prompts.size(0) == 0) {
    throw InvalidArgument(fmt::format("generate: prompts must be a non-empty (batch, length) tensor, found {} dims",
                                      prompts.dim()));
  }
  if (prompts.size(1) >= options.max_length) {
    throw InvalidArgument(fmt::format("generate: the prompt has {} tokens, max_length is {}: no room for new tokens",
                                      prompts.size(1), options.max_length));
  }
  auto ids = prompts.to(torch::kLong);
  if (options.num_beams > 1) return beam_search(scorer, ids, options);
  return sample_or_greedy(scorer, ids, options, on_token);
}

}  // namespace xling::generate
