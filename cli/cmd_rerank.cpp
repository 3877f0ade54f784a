// `xling rerank`: cross-encoder relevance scores for (query, passage) pairs, or a ranking of
// candidates for one query.
#include <algorithm>
#include <iostream>
#include <numeric>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/common.hpp"
#include "io/model_location.hpp"
#include "cli/text_input.hpp"
#include "models/registry.hpp"
#include "tasks/cross_encoder.hpp"
#include "tasks/sequence_classifier.hpp"
#include "xling/errors.hpp"

namespace xling::cli {
namespace {

struct RerankOptions {
  std::string model, input, output = "-", query, candidates;
  std::size_t top_k = 0, batch_tokens = 0;
  std::string dtype = "f32", device = "cpu";
  bool raw = false;
};

int run_rerank(const RerankOptions& opt) {
  std::vector<std::string> queries, passages;
  if (!opt.query.empty()) {
    if (opt.candidates.empty()) throw InvalidArgument("--query needs --candidates FILE");
    for (auto& r : read_text_records(opt.candidates)) {
      queries.push_back(opt.query);
      passages.push_back(std::move(r.text));
    }
  } else {
    if (opt.input.empty()) throw InvalidArgument("give --input pairs.jsonl, or --query Q --candidates FILE");
    std::size_t line = 0;
    for (auto& r : read_text_records(opt.input)) {
      ++line;
      if (!r.has_pair) throw InvalidArgument(fmt::format("{}:{}: expected {{\"text\": query, \"text_pair\": passage}}", opt.input, line));
      queries.push_back(std::move(r.text));
      passages.push_back(std::move(r.pair));
    }
  }
  auto model = tasks::SequenceClassifier::load(opt.model, models::LoadOptions::with_dtype(models::parse_compute_dtype(opt.dtype), models::parse_device(opt.device)));
  std::size_t truncated = 0;
  auto s = tasks::relevance_scores(model, queries, passages, opt.raw, opt.batch_tokens, &truncated);
  TextOutput out(opt.output);
  if (!opt.query.empty()) {
    std::vector<std::size_t> idx(passages.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return s[a] > s[b]; });
    std::size_t k = opt.top_k ? std::min(opt.top_k, idx.size()) : idx.size();
    for (std::size_t j = 0; j < k; ++j) {
      out.stream() << nlohmann::json({{"rank", j + 1}, {"index", idx[j]}, {"score", s[idx[j]]},
                                      {"text", passages[idx[j]]}}).dump() << "\n";
    }
  } else {
    for (float v : s) out.stream() << nlohmann::json({{"score", v}}).dump() << "\n";
  }
  out.commit();
  if (truncated) std::cerr << fmt::format("xling rerank: {} of {} pairs truncated to the model's maximum length\n", truncated, queries.size());
  return kExitOk;
}

}  // namespace

void add_rerank_command(CLI::App& app, CommandList& commands) {
  auto opt = std::make_shared<RerankOptions>();
  CLI::App* sub = app.add_subcommand(
      "rerank",
      "Score (query, passage) pairs with a cross-encoder (as sentence-transformers' CrossEncoder.predict: sigmoid of a "
      "single logit). --input pairs.jsonl with {\"text\": query, \"text_pair\": passage} -> {\"score\"} lines; or "
      "--query Q --candidates FILE [--top-k K] -> the candidates ranked.");
  sub->add_option("--model,-m", opt->model, "Cross-encoder directory")->required();
  sub->add_option("--input,-i", opt->input, "pairs.jsonl");
  sub->add_option("--output,-o", opt->output, "JSONL output ('-' = stdout)")->capture_default_str();
  sub->add_option("--query,-q", opt->query, "One query to rank --candidates for");
  sub->add_option("--candidates", opt->candidates, "Candidates (.txt or .jsonl)");
  sub->add_option("--top-k", opt->top_k, "Keep the K best candidates");
  sub->add_flag("--raw", opt->raw, "Raw logits instead of sigmoid scores");
  add_compute_options(sub, opt->device, opt->dtype);
  sub->add_option("--batch-tokens", opt->batch_tokens, "Token budget per batch, padding included (0 = 1024 on CPU, 16384 on CUDA)")->capture_default_str();
  commands.push_back({sub, [opt]() {
    opt->model = io::resolve_model(opt->model);  // a path, or a shipped model's name
    return run_rerank(*opt);
  }});
}

}  // namespace xling::cli
