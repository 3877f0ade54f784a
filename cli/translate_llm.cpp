#include "cli/translate_llm.hpp"

#include <algorithm>
#include <iostream>
#include <numeric>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/common.hpp"
#include "cli/text_input.hpp"
#include "core/language_names.hpp"
#include "core/progress.hpp"
#include "generate/text_generator.hpp"
#include "io/model_location.hpp"
#include "models/registry.hpp"
#include "tasks/example_selector.hpp"
#include "tasks/sentence_encoder.hpp"
#include "xling/errors.hpp"

namespace xling::cli {
namespace {

std::string label_for(const std::string& given, const std::string& lang, const char* flag) {
  if (!given.empty()) return given;
  if (lang.empty()) {
    throw InvalidArgument(fmt::format("an LLM translates from a prompt: give --{}-lang (a code such as de) or --{}-label",
                                      flag, flag));
  }
  auto name = core::language_name(lang);
  return name.empty() ? lang : name;
}

// The translation in a reply: up to its first line break, surrounding spaces trimmed.
std::string first_line(const std::string& text) {
  auto s = text.substr(0, text.find_first_of("\r\n"));
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

}  // namespace

int run_llm_translate(const LlmTranslateOptions& o) {
  if (o.batch_size == 0) throw InvalidArgument("--batch-size must be at least 1");
  if (o.k <= 0) throw InvalidArgument(fmt::format("--k must be positive, got {}", o.k));
  const auto src = label_for(o.src_label, o.src_lang, "src");
  const auto tgt = label_for(o.tgt_label, o.tgt_lang, "tgt");
  std::vector<std::string> lines;
  for (auto& r : read_text_records(o.input)) lines.push_back(std::move(r.text));
  std::vector<std::size_t> todo;  // lines with text (an empty line translates to "")
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].find_first_not_of(" \t") != std::string::npos) todo.push_back(i);
  }

  // 1. Examples per input (most similar first).
  std::vector<std::vector<tasks::SelectedExample>> shots(lines.size());
  std::optional<tasks::ExampleSelector> selector;
  if (!o.examples.empty()) {
    auto pool = tasks::read_example_pool(o.examples, o.source_field, o.target_field);
    auto enc = std::make_unique<tasks::SentenceEncoder>(tasks::SentenceEncoder::load(
        io::resolve_model(o.embedder), std::nullopt, /*normalize=*/true,
        models::LoadOptions::with_dtype(torch::kFloat32, models::parse_device(o.device))));
    selector.emplace(std::move(enc), std::move(pool), 0);
    std::vector<std::string> inputs;
    for (auto i : todo) inputs.push_back(lines[i]);
    tasks::SelectOptions so;
    so.k = o.k;
    so.mmr_lambda = o.mmr_lambda;
    so.fetch_k = o.fetch_k;
    auto chosen = selector->select(inputs, so);
    for (std::size_t j = 0; j < todo.size(); ++j) shots[todo[j]] = std::move(chosen[j]);
  }

  // 2. Prompts: dropping the least similar examples while prompt + new tokens exceed the context.
  generate::CausalLoadOptions lo;
  lo.dtype = o.dtype;
  lo.device = models::parse_device(o.device);
  lo.adapter = o.adapter;
  lo.merge_adapter = o.merge_adapter;
  auto tg = generate::TextGenerator::load(o.model, lo, "", "`xling translate`");
  generate::GenerationOverrides ov = o.overrides;
  const int64_t context = tg.context_length();
  // Default budget: 256 new tokens, at most half of a fixed context (a translation is cut at its
  // line break, usually long before).
  if (!ov.max_new_tokens) ov.max_new_tokens = context > 0 ? std::min<int64_t>(256, context / 2) : 256;
  auto encode = [&](const std::string& prompt) {
    return o.chat ? tg.encode_chat(nlohmann::json::array({{{"role", "user"}, {"content", prompt}}}), true)
                  : tg.encode_prompt(prompt);
  };
  std::vector<std::vector<int64_t>> ids(lines.size());
  std::vector<std::string> prompts(lines.size());
  std::size_t shortened = 0;
  for (auto i : todo) {
    auto& ex = shots[i];
    while (true) {
      prompts[i] = tasks::few_shot_prompt(ex, lines[i], src, tgt);
      ids[i] = encode(prompts[i]);
      if (context <= 0 || static_cast<int64_t>(ids[i].size()) + *ov.max_new_tokens <= context) break;
      if (ex.empty()) {
        throw InvalidArgument(fmt::format("{}: line {}: the prompt ({} tokens) + --max-new-tokens {} exceed the model's "
                                          "context of {} tokens",
                                          o.input, i + 1, ids[i].size(), *ov.max_new_tokens, context));
      }
      ex.pop_back();
      ++shortened;
    }
  }
  if (shortened && !o.quiet) {
    std::cerr << fmt::format("xling translate: {} example(s) left out to fit prompts in the context of {} tokens\n",
                             shortened, context);
  }

  // 3. Generation: prompts sorted by length (little padding), --batch-size per call; each reply
  // stops at its first line break.
  std::vector<std::size_t> order = todo;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return ids[a].size() > ids[b].size(); });
  std::vector<std::string> out_text(lines.size());
  core::Progress progress("translate", order.size(), !o.quiet);
  torch::InferenceMode guard;
  const std::vector<std::string> stop{"\n"};
  for (std::size_t pos = 0; pos < order.size(); pos += o.batch_size) {
    const std::size_t n = std::min(o.batch_size, order.size() - pos);
    std::vector<std::vector<int64_t>> batch;
    for (std::size_t j = 0; j < n; ++j) batch.push_back(ids[order[pos + j]]);
    auto replies = tg.reply_batch(batch, ov, stop);
    for (std::size_t j = 0; j < n; ++j) out_text[order[pos + j]] = first_line(replies[j].text);
    progress.advance(n);
  }

  if (!o.prompts_out.empty()) {
    TextOutput po(o.prompts_out);
    for (auto i : todo) {
      po.stream() << nlohmann::ordered_json{{"line", i + 1}, {"input", lines[i]}, {"examples", tasks::examples_json(shots[i])},
                                             {"prompt", prompts[i]}, {"prompt_tokens", ids[i].size()},
                                             {"translation", out_text[i]}}.dump()
                  << '\n';
    }
    po.commit();
  }
  TextOutput out(o.output);
  for (const auto& t : out_text) out.stream() << t << '\n';
  out.commit();
  return kExitOk;
}

}  // namespace xling::cli
