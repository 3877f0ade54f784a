// `xling select-examples`: for each input, the K most similar pool items (source/target pairs)
// as a few-shot prompt block for an LLM translator (in-context example selection by
// similarity), optionally diversified by maximal marginal relevance (index/mmr.hpp).
// Output: one JSON line per input: {"input", "examples": [{"line", "score", "source", "target"}], "prompt"}.
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/common.hpp"
#include "cli/text_input.hpp"
#include "index/mmr.hpp"
#include "index/vector_index.hpp"
#include "io/model_location.hpp"
#include "models/registry.hpp"
#include "tasks/corpus_indexer.hpp"
#include "tasks/sentence_encoder.hpp"
#include "train/data.hpp"
#include "xling/errors.hpp"

namespace xling::cli {
namespace {

struct SelectOptions {
  std::string pool, inputs, output = "-", model, dtype = "f32", device = "cpu";
  std::string source_field = "source", target_field = "target", src_label = "Source", tgt_label = "Target";
  int64_t k = 4, fetch_k = 0;
  double mmr_lambda = 1.0;
  std::size_t batch_tokens = 0;
};

struct PoolItem {
  std::string source, target;
  int64_t line = 0;
};

std::vector<PoolItem> read_pool(const SelectOptions& o) {
  std::vector<PoolItem> out;
  train::for_each_json_row(o.pool, [&](std::size_t line, const nlohmann::json& row, const std::string& where) {
    auto text = [&](const std::string& field) {
      if (!row.contains(field) || !row[field].is_string()) {
        throw InvalidArgument(fmt::format("{}: expected a string '{}' (see --source-field/--target-field)", where, field));
      }
      return row[field].get<std::string>();
    };
    out.push_back({text(o.source_field), text(o.target_field), static_cast<int64_t>(line)});
  });
  return out;
}

std::string prompt_block(const SelectOptions& o, const std::vector<const PoolItem*>& examples, const std::string& input) {
  std::string p;
  for (const auto* e : examples) p += fmt::format("{}: {}\n{}: {}\n\n", o.src_label, e->source, o.tgt_label, e->target);
  p += fmt::format("{}: {}\n{}:", o.src_label, input, o.tgt_label);
  return p;
}

int run_select(const SelectOptions& o) {
  if (o.k <= 0) throw InvalidArgument(fmt::format("--k must be positive, got {}", o.k));
  auto pool = read_pool(o);
  std::vector<std::string> inputs;
  for (auto& r : read_text_records(o.inputs)) inputs.push_back(std::move(r.text));
  auto enc = tasks::SentenceEncoder::load(
      o.model, std::nullopt, /*normalize=*/true,
      models::LoadOptions::with_dtype(models::parse_compute_dtype(o.dtype), models::parse_device(o.device)));
  tasks::EncodeOptions eo;
  eo.batch_tokens = o.batch_tokens;
  std::vector<std::string> sources;
  for (const auto& p : pool) sources.push_back(p.source);
  const int dim = static_cast<int>(enc.dimension());
  auto pv = tasks::to_float_rows(enc.encode(sources, eo));  // unit length: the encoder normalises
  auto qv = tasks::to_float_rows(enc.encode(inputs, eo));
  // Exact candidates (a pool is small next to a corpus), then MMR among the best fetch_k.
  auto flat = index::VectorIndex::build(index::IndexKind::kFlat, pv.data(), static_cast<int64_t>(pool.size()), dim);
  const int64_t fetch = o.mmr_lambda < 1.0 ? std::max(o.k, o.fetch_k > 0 ? o.fetch_k : 4 * o.k) : o.k;
  auto nb = flat.search(qv.data(), static_cast<int64_t>(inputs.size()), fetch);
  TextOutput out(o.output);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    std::vector<int64_t> cand;
    for (int64_t j = 0; j < fetch; ++j) {
      auto p = nb.positions[i * static_cast<std::size_t>(fetch) + static_cast<std::size_t>(j)];
      if (p >= 0) cand.push_back(p);
    }
    std::vector<float> cv;
    for (auto c : cand) cv.insert(cv.end(), pv.begin() + c * dim, pv.begin() + (c + 1) * dim);
    auto picks = index::mmr_select(qv.data() + i * static_cast<std::size_t>(dim), cv.data(), static_cast<int64_t>(cand.size()),
                                   dim, o.k, o.mmr_lambda);
    // The prompt lists the most similar example last, right before the input (closest context).
    std::vector<const PoolItem*> chosen;
    nlohmann::ordered_json examples = nlohmann::ordered_json::array();
    for (const auto& s : picks) {
      const auto& item = pool[static_cast<std::size_t>(cand[static_cast<std::size_t>(s.candidate)])];
      chosen.insert(chosen.begin(), &item);
      examples.push_back(nlohmann::ordered_json{{"line", item.line}, {"score", s.similarity}, {"source", item.source}, {"target", item.target}});
    }
    out.stream() << nlohmann::ordered_json({{"input", inputs[i]}, {"examples", examples}, {"prompt", prompt_block(o, chosen, inputs[i])}}).dump()
                 << "\n";
  }
  out.commit();
  return kExitOk;
}

}  // namespace

void add_select_examples_command(CLI::App& app, CommandList& commands) {
  auto o = std::make_shared<SelectOptions>();
  CLI::App* sub = app.add_subcommand(
      "select-examples",
      "In-context example selection: for each input, the K pool pairs whose source is most similar (sentence "
      "embeddings, cosine), formatted as a few-shot prompt block for an LLM translator; --mmr-lambda < 1 trades "
      "similarity for diversity (maximal marginal relevance). Output: one JSON line per input with the examples "
      "(most similar first) and the prompt (most similar example last, next to the input).");
  sub->add_option("--pool", o->pool, "Example pool with source and target fields: .jsonl records, or .tsv/.csv with a header")->required()->check(kExistingPath);
  sub->add_option("--inputs,-i", o->inputs, "Inputs: .txt (one per line) or .jsonl (string or {\"text\"})")->required();
  sub->add_option("--k", o->k, "Examples per input")->capture_default_str();
  sub->add_option("--mmr-lambda", o->mmr_lambda, "1 = most similar; 0.5 = balance similarity and diversity")->capture_default_str();
  sub->add_option("--fetch-k", o->fetch_k, "Candidates MMR chooses from (0 = 4 * k)");
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
