// `xling select-examples`: for each input, the K most similar pool items (source/target pairs)
// as a few-shot prompt block for an LLM translator (in-context example selection by
// similarity), optionally diversified by maximal marginal relevance (tasks/example_selector.hpp).
// Output: one JSON line per input: {"input", "examples": [{"line", "score", "source", "target"}], "prompt"}.
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/common.hpp"
#include "cli/text_input.hpp"
#include "io/model_location.hpp"
#include "models/registry.hpp"
#include "tasks/example_selector.hpp"
#include "tasks/sentence_encoder.hpp"
#include "xling/errors.hpp"

namespace xling::cli {
namespace {

struct SelectCliOptions {
  std::string pool, inputs, output = "-", model, dtype = "f32", device = "cpu";
  std::string source_field = "source", target_field = "target", src_label = "Source", tgt_label = "Target";
  tasks::SelectOptions select;
  std::size_t batch_tokens = 0;
};

int run_select(const SelectCliOptions& o) {
  if (o.select.k <= 0) throw InvalidArgument(fmt::format("--k must be positive, got {}", o.select.k));
  auto pool = tasks::read_example_pool(o.pool, o.source_field, o.target_field);
  std::vector<std::string> inputs;
  for (auto& r : read_text_records(o.inputs)) inputs.push_back(std::move(r.text));
  auto enc = std::make_unique<tasks::SentenceEncoder>(tasks::SentenceEncoder::load(
      o.model, std::nullopt, /*normalize=*/true,
      models::LoadOptions::with_dtype(models::parse_compute_dtype(o.dtype), models::parse_device(o.device))));
  tasks::ExampleSelector selector(std::move(enc), std::move(pool), o.batch_tokens);
  auto chosen = selector.select(inputs, o.select);
  TextOutput out(o.output);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const auto prompt = tasks::few_shot_prompt(chosen[i], inputs[i], o.src_label, o.tgt_label);
    out.stream() << nlohmann::ordered_json({{"input", inputs[i]}, {"examples", tasks::examples_json(chosen[i])}, {"prompt", prompt}}).dump()
                 << "\n";
  }
  out.commit();
  return kExitOk;
}

}  // namespace

void add_select_examples_command(CLI::App& app, CommandList& commands) {
  auto o = std::make_shared<SelectCliOptions>();
  CLI::App* sub = app.add_subcommand(
      "select-examples",
      "In-context example selection: for each input, the K pool pairs whose source is most similar (sentence "
      "embeddings, cosine), formatted as a few-shot prompt block for an LLM translator; --mmr-lambda < 1 trades "
      "similarity for diversity (maximal marginal relevance). Output: one JSON line per input with the examples "
      "(most similar first) and the prompt (most similar example last, next to the input).");
  sub->add_option("--pool", o->pool, "Example pool with source and target fields: .jsonl records, or .tsv/.csv with a header")->required()->check(kExistingPath);
  sub->add_option("--inputs,-i", o->inputs, "Inputs: .txt (one per line) or .jsonl (string or {\"text\"})")->required();
  sub->add_option("--k", o->select.k, "Examples per input")->capture_default_str();
  sub->add_option("--mmr-lambda", o->select.mmr_lambda, "1 = most similar; 0.5 = balance similarity and diversity")->capture_default_str();
  sub->add_option("--fetch-k", o->select.fetch_k, "Candidates MMR chooses from (0 = 4 * k)");
  sub->add_flag("--exclude-identical", o->select.exclude_identical,
                "Leave out pool pairs whose source equals the input (leave-one-out selection when the inputs come from "
                "the pool itself, e.g. to build training prompts)");
  sub->add_option("--source-field", o->source_field, "Pool field compared with the inputs")->capture_default_str();
  sub->add_option("--target-field", o->target_field, "Pool field shown as the answer")->capture_default_str();
  sub->add_option("--src-label", o->src_label, "Label of source lines in the prompt (e.g. English)")->capture_default_str();
  sub->add_option("--tgt-label", o->tgt_label, "Label of target lines in the prompt (e.g. French)")->capture_default_str();
  sub->add_option("--output,-o", o->output, "JSONL output ('-' = stdout)")->capture_default_str();
  sub->add_option("--model,-m", o->model, "Sentence encoder (default: xling-mini)");
  sub->add_option("--batch-tokens", o->batch_tokens, "Token budget per batch (0 = the device's default)");
  add_compute_options(sub, o->device, o->dtype);
  commands.push_back({sub, [o]() {
    o->model = io::resolve_model(o->model);
    return run_select(*o);
  }});
}

}  // namespace xling::cli
