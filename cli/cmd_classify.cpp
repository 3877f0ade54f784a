// `xling classify`: labels and scores for texts (or text pairs) from a sequence-classification
// model, like HF's text-classification pipeline.
#include <algorithm>
#include <iostream>
#include <numeric>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/common.hpp"
#include "io/model_location.hpp"
#include "cli/text_input.hpp"
#include "models/registry.hpp"
#include "tasks/sequence_classifier.hpp"

namespace xling::cli {
namespace {

struct ClassifyOptions {
  std::string model, input = "-", output = "-";
  std::size_t top_k = 0;
  bool multi_label = false;
  std::size_t batch_tokens = 0, max_length = 0;
  std::string dtype = "f32", device = "cpu";
};

int run_classify(const ClassifyOptions& opt) {
  auto records = read_text_records(opt.input);
  auto clf = tasks::SequenceClassifier::load(opt.model, models::LoadOptions::with_dtype(models::parse_compute_dtype(opt.dtype), models::parse_device(opt.device)));
  std::vector<std::string> texts, pairs;
  bool any_pair = false;
  for (auto& r : records) {
    texts.push_back(r.text);
    pairs.push_back(r.pair);
    any_pair |= r.has_pair;
  }
  std::size_t truncated = 0;
  auto logits = clf.logits(texts, any_pair ? &pairs : nullptr, opt.batch_tokens,
                           opt.max_length ? std::optional<std::size_t>(opt.max_length) : std::nullopt, &truncated);
  bool multi = opt.multi_label || clf.scores_with_sigmoid();
  auto probs = multi ? torch::sigmoid(logits) : torch::softmax(logits, 1);
  TextOutput out(opt.output);
  auto p = probs.accessor<float, 2>();
  for (int64_t i = 0; i < probs.size(0); ++i) {
    std::vector<int64_t> idx(static_cast<std::size_t>(probs.size(1)));
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return p[i][a] > p[i][b]; });
    nlohmann::json scores = nlohmann::json::object();
    std::size_t k = opt.top_k ? std::min<std::size_t>(opt.top_k, idx.size()) : idx.size();
    for (std::size_t j = 0; j < k; ++j) scores[clf.label(idx[j])] = p[i][idx[j]];
    out.stream() << nlohmann::json({{"label", clf.label(idx[0])}, {"score", p[i][idx[0]]}, {"scores", scores}}).dump() << "\n";
  }
  out.commit();
  if (truncated) std::cerr << fmt::format("xling classify: {} of {} inputs truncated to the model's maximum length\n", truncated, texts.size());
  return kExitOk;
}

}  // namespace

void add_classify_command(CLI::App& app, CommandList& commands) {
  auto opt = std::make_shared<ClassifyOptions>();
  CLI::App* sub = app.add_subcommand(
      "classify",
      "Classify texts (or {\"text\", \"text_pair\"} pairs) with a *ForSequenceClassification model. Output lines: "
      "{\"label\", \"score\", \"scores\": {label: probability}} in input order (softmax; sigmoid for multi-label or "
      "single-output models).");
  sub->add_option("--model,-m", opt->model, "Model directory")->required();
  sub->add_option("--input,-i", opt->input, ".txt or .jsonl ('-' = stdin)")->capture_default_str();
  sub->add_option("--output,-o", opt->output, "JSONL output ('-' = stdout)")->capture_default_str();
  sub->add_option("--top-k", opt->top_k, "Keep the K best labels in \"scores\" (default: all)");
  sub->add_flag("--multi-label", opt->multi_label, "Independent sigmoid per label");
  sub->add_option("--batch-tokens", opt->batch_tokens, "Token budget per batch, padding included (0 = 1024 on CPU, 16384 on CUDA)")->capture_default_str();
  add_compute_options(sub, opt->device, opt->dtype);
  sub->add_option("--max-length", opt->max_length, "Truncate to N tokens (default: the model's maximum)");
  commands.push_back({sub, [opt]() {
    opt->model = io::resolve_model(opt->model);  // a path, or a shipped model's name
    return run_classify(*opt);
  }});
}

}  // namespace xling::cli
