// `xling tag`: token classification (NER/POS) like HF's token-classification pipeline.
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/common.hpp"
#include "io/model_location.hpp"
#include "cli/text_input.hpp"
#include "models/registry.hpp"
#include "tasks/token_tagger.hpp"

namespace xling::cli {
namespace {

struct TagOptions {
  std::string model, input = "-", output = "-", aggregation = "simple";
  std::size_t batch_tokens = 0;
  std::string dtype = "f32", device = "cpu";
};

int run_tag(const TagOptions& opt) {
  auto records = read_text_records(opt.input);
  auto tagger = tasks::TokenTagger::load(opt.model, models::LoadOptions::with_dtype(models::parse_compute_dtype(opt.dtype), models::parse_device(opt.device)));
  std::vector<std::string> texts;
  for (auto& r : records) texts.push_back(std::move(r.text));
  std::size_t truncated = 0;
  auto agg = tasks::parse_aggregation(opt.aggregation);
  auto all = tagger.tag(texts, agg, opt.batch_tokens, &truncated);
  TextOutput out(opt.output);
  for (const auto& ents : all) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& e : ents) {
      nlohmann::json j = {{agg == tasks::Aggregation::kNone ? "entity" : "entity_group", e.label}, {"score", e.score},
                          {"word", e.word}, {"start", e.start}, {"end", e.end}};
      if (e.index >= 0) j["index"] = e.index;
      list.push_back(j);
    }
    out.stream() << nlohmann::json({{"entities", list}}).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  out.commit();
  if (truncated) std::cerr << fmt::format("xling tag: {} of {} texts truncated to the model's maximum length\n", truncated, texts.size());
  return kExitOk;
}

}  // namespace

void add_tag_command(CLI::App& app, CommandList& commands) {
  auto opt = std::make_shared<TagOptions>();
  CLI::App* sub = app.add_subcommand(
      "tag",
      "Token classification (NER, POS) like HF's token-classification pipeline: one {\"entities\": [...]} line per "
      "input text with labels, scores, words and character offsets; 'O' is dropped. --aggregation none gives one entry "
      "per token; simple groups B-/I- runs; first/average/max first fuse sub-words into words.");
  sub->add_option("--model,-m", opt->model, "*ForTokenClassification model directory")->required();
  sub->add_option("--input,-i", opt->input, ".txt or .jsonl ('-' = stdin)")->capture_default_str();
  sub->add_option("--output,-o", opt->output, "JSONL output ('-' = stdout)")->capture_default_str();
  sub->add_option("--aggregation", opt->aggregation, "none, simple, first, average, max")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "simple", "first", "average", "max"}));
  add_compute_options(sub, opt->device, opt->dtype);
  sub->add_option("--batch-tokens", opt->batch_tokens, "Token budget per batch, padding included (0 = 1024 on CPU, 16384 on CUDA)")->capture_default_str();
  commands.push_back({sub, [opt]() {
    opt->model = io::resolve_model(opt->model);  // a path, or a shipped model's name
    return run_tag(*opt);
  }});
}

}  // namespace xling::cli
