// `xling translate`: text in, text out with an encoder-decoder MT model from its HF
// directory (NLLB/M2M-100/SMaLL-100, mBART-50, Marian/OPUS-MT, mT5). One output line per
// input line in input order; an empty line gives an empty line. Inputs are batched by source
// tokens after sorting by length; --sentence-split translates a paragraph sentence by sentence.
#include <algorithm>
#include <iostream>
#include <numeric>

#include <fmt/format.h>

#include "cli/common.hpp"
#include "cli/text_input.hpp"
#include "cli/translate_llm.hpp"
#include "generate/causal_scorer.hpp"
#include "core/progress.hpp"
#include "generate/seq2seq_scorer.hpp"
#include "io/generation_config.hpp"
#include "io/model_location.hpp"
#include "models/registry.hpp"
#include "models/seq2seq.hpp"
#include "tokenize/sentence_splitter.hpp"
#include "tokenize/translation_tokenizer.hpp"
#include "xling/errors.hpp"

namespace xling::cli {
namespace {

struct TranslateOptions {
  std::string model, src_lang, tgt_lang, input = "-", output = "-", dtype = "f32", device = "cpu";
  int64_t num_beams = 0, max_new_tokens = 0;
  std::size_t max_input_length = 0, batch_tokens = 4096;
  bool sentence_split = false, quiet = false;
  LlmTranslateOptions llm;  // decoder-only LLMs (cli/translate_llm.hpp)
};

int run_translate_llm(const TranslateOptions& opt, CLI::App* sub) {
  if (opt.sentence_split) throw InvalidArgument("--sentence-split is for encoder-decoder models; give an LLM one sentence per line");
  LlmTranslateOptions o = opt.llm;
  o.model = opt.model;
  o.src_lang = opt.src_lang;
  o.tgt_lang = opt.tgt_lang;
  o.input = opt.input;
  o.output = opt.output;
  o.dtype = opt.dtype;
  o.device = opt.device;
  o.quiet = opt.quiet;
  if (sub->count("--num-beams")) o.overrides.num_beams = opt.num_beams;
  if (sub->count("--max-new-tokens")) o.overrides.max_new_tokens = opt.max_new_tokens;
  return run_llm_translate(o);
}

int run_translate(const TranslateOptions& opt, CLI::App* sub) {
  if (generate::is_causal_lm_dir(opt.model)) return run_translate_llm(opt, sub);
  for (const char* flag : {"--examples", "--k", "--mmr-lambda", "--source-field", "--target-field", "--embedder", "--chat",
                           "--batch-size", "--adapter", "--merge", "--src-label", "--tgt-label", "--prompts-out"}) {
    if (sub->count(flag)) {
      throw InvalidArgument(fmt::format("{} is for decoder-only LLMs (in-context translation); {} is an encoder-decoder model",
                                        flag, opt.model));
    }
  }
  if (opt.batch_tokens == 0) throw InvalidArgument("--batch-tokens must be at least 1");
  std::vector<std::string> lines;  // .txt lines, or .jsonl strings / {"text"} rows
  for (auto& r : read_text_records(opt.input)) lines.push_back(std::move(r.text));
  auto tok = tokenize::TranslationTokenizer::load(opt.model);
  // validate the languages before loading weights: the error lists the valid codes
  if (tok.uses_source_language()) {
    if (opt.src_lang.empty()) {
      throw InvalidArgument(fmt::format("{} ({}) needs --src-lang; valid codes: {}", opt.model, tok.family_name(),
                                        fmt::join(tok.languages(), " ")));
    }
    tok.language_token_id(opt.src_lang);
  }
  if (tok.uses_target_language()) {
    if (opt.tgt_lang.empty()) {
      throw InvalidArgument(fmt::format("{} ({}) needs --tgt-lang; valid codes: {}", opt.model, tok.family_name(),
                                        fmt::join(tok.languages(), " ")));
    }
    tok.language_token_id(opt.tgt_lang);
  }
  auto device = models::parse_device(opt.device);
  auto gen = generate::Seq2SeqGenerator::load(opt.model, opt.dtype, device, "`xling translate`");
  generate::GenerationOverrides ov;
  if (sub->count("--num-beams")) ov.num_beams = opt.num_beams;
  if (sub->count("--max-new-tokens")) ov.max_new_tokens = opt.max_new_tokens;
  if (auto bos = tok.forced_bos(opt.tgt_lang)) ov.forced_bos_token_id = *bos;
  auto options = gen.options(ov);

  // Units to translate: whole lines, or their sentences; empty lines translate to "".
  struct Unit {
    std::size_t line;
    std::vector<int64_t> ids;
  };
  std::vector<std::vector<tokenize::SentenceSpan>> spans(lines.size());
  std::vector<Unit> units;
  tokenize::SourceOptions so;
  so.max_length = opt.max_input_length ? opt.max_input_length : tok.model_max_length();
  std::size_t truncated = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::vector<std::string> pieces;
    if (opt.sentence_split) {
      spans[i] = tokenize::split_sentences(lines[i]);
      for (const auto& s : spans[i]) pieces.push_back(s.text);
    } else if (lines[i].find_first_not_of(" \t") != std::string::npos) {
      pieces.push_back(lines[i]);
    }
    for (const auto& p : pieces) {
      auto ids = tok.encode_source(p, opt.src_lang, opt.tgt_lang, so);
      // only a segment at the limit can have been cut: tokenize it again without one to know
      if (so.max_length && ids.size() >= so.max_length && tok.encode_source(p, opt.src_lang, opt.tgt_lang).size() > ids.size()) {
        ++truncated;
      }
      units.push_back({i, std::move(ids)});
    }
  }
  if (truncated && !opt.quiet) {
    std::cerr << fmt::format("xling translate: {} input(s) longer than {} tokens were truncated (--max-input-length)\n",
                             truncated, so.max_length);
  }
  // Longest first, batches of at most batch_tokens source tokens (times the beams).
  std::vector<std::size_t> order(units.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return units[a].ids.size() > units[b].ids.size(); });
  std::vector<std::string> translated(units.size());
  core::Progress progress("translate", units.size(), !opt.quiet);
  torch::InferenceMode guard;
  std::size_t pos = 0;
  const std::size_t budget = std::max<std::size_t>(1, opt.batch_tokens / static_cast<std::size_t>(options.num_beams));
  while (pos < order.size()) {
    const std::size_t longest = units[order[pos]].ids.size();
    const std::size_t n = std::max<std::size_t>(1, std::min(order.size() - pos, budget / std::max<std::size_t>(1, longest)));
    std::vector<std::vector<int64_t>> batch;
    for (std::size_t k = 0; k < n; ++k) batch.push_back(units[order[pos + k]].ids);
    auto texts = generate::translate_sources(gen, tok, batch, options);
    for (std::size_t k = 0; k < n; ++k) translated[order[pos + k]] = std::move(texts[k]);
    pos += n;
    progress.advance(n);
  }
  // Reassemble lines.
  std::vector<std::vector<std::string>> per_line(lines.size());
  for (std::size_t u = 0; u < units.size(); ++u) per_line[units[u].line].push_back(std::move(translated[u]));
  TextOutput out(opt.output);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (opt.sentence_split) out.stream() << tokenize::join_sentences(per_line[i], spans[i]) << '\n';
    else out.stream() << (per_line[i].empty() ? std::string() : per_line[i][0]) << '\n';
  }
  out.commit();
  return kExitOk;
}

}  // namespace

void add_translate_command(CLI::App& app, CommandList& commands) {
  auto opt = std::make_shared<TranslateOptions>();
  CLI::App* sub = app.add_subcommand(
      "translate",
      "Translate text with an encoder-decoder MT model from its Hugging Face directory: NLLB-200, M2M-100, SMaLL-100 "
      "(language codes like fra_Latn / fr), mBART-50 (fr_XX), Marian/OPUS-MT (multi-target models: >>fra<< or fra), "
      "mT5/mT0 (no codes; put a task prefix in the text). One output line per input line, in order; empty lines stay "
      "empty; line breaks inside a translation are written as spaces. Decoding settings not given come from the "
      "model's generation_config.json, as in HF. --dtype int8 (CPU): every matrix quantized for FBGEMM's int8 GEMM "
      "(opt-in; translations differ slightly from fp32). Decoder-only LLMs (Llama, Qwen2, Gemma, BLOOM...) translate "
      "in context: each line becomes a few-shot prompt '{src}: <example>\\n{tgt}: <translation>\\n\\n... {src}: "
      "<line>\\n{tgt}:' with the --k pairs of --examples POOL whose source is most similar to the line (sentence "
      "embeddings, as `xling select-examples`), or none (zero-shot); the reply up to its first line break is the "
      "translation.");
  sub->add_option("--model,-m", opt->model, "Model directory (config.json, weights, tokenizer files)")->required();
  sub->add_option("--src-lang", opt->src_lang, "Source language code (models with language tokens)");
  sub->add_option("--tgt-lang", opt->tgt_lang, "Target language code (models with language tokens)");
  sub->add_option("--input,-i", opt->input, "Text file, one segment per line, or .jsonl of strings / {\"text\": ...} rows "
                  "(default: stdin)");
  sub->add_option("--output,-o", opt->output, "Output file (default: stdout)");
  sub->add_option("--num-beams", opt->num_beams, "Beam width (default: generation_config.json, else 1)")->check(CLI::PositiveNumber);
  sub->add_option("--max-new-tokens", opt->max_new_tokens, "New tokens per segment at most (default: the model's max_length; LLMs: 256, at most half the context)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--max-input-length", opt->max_input_length,
                  "Source tokens kept per segment, specials included (default: the tokenizer's model_max_length); "
                  "longer inputs are truncated with a warning");
  sub->add_option("--batch-tokens", opt->batch_tokens, "Source tokens x beams per batch (default 4096)");
  sub->add_flag("--sentence-split", opt->sentence_split,
                "Split each line into sentences, translate them, and join the translations (document-level input)");
  sub->add_flag("--quiet,-q", opt->quiet, "No progress bar or warnings");
  auto* llm = &opt->llm;
  const std::string g = "LLM (in-context) translation";
  sub->add_option("--examples", llm->examples,
                  "LLMs: example pool of translation pairs (.jsonl, or .tsv/.csv with a header; fields --source-field, "
                  "--target-field); without it the prompt is zero-shot")
      ->check(kExistingPath)->group(g);
  sub->add_option("--k", llm->k, "LLMs: examples per input (the most similar pool pairs)")->capture_default_str()->group(g);
  sub->add_option("--mmr-lambda", llm->mmr_lambda, "LLMs: 1 = most similar examples; lower trades similarity for diversity")
      ->capture_default_str()->group(g);
  sub->add_option("--source-field", llm->source_field, "LLMs: pool field compared with the inputs")->capture_default_str()->group(g);
  sub->add_option("--target-field", llm->target_field, "LLMs: pool field shown as the translation")->capture_default_str()->group(g);
  sub->add_option("--embedder", llm->embedder, "LLMs: sentence encoder that picks the examples (default: xling-mini)")->group(g);
  sub->add_option("--src-label", llm->src_label, "LLMs: label of source lines (default: the English name of --src-lang)")->group(g);
  sub->add_option("--tgt-label", llm->tgt_label, "LLMs: label of target lines (default: the English name of --tgt-lang)")->group(g);
  sub->add_flag("--chat", llm->chat, "LLMs: send the prompt as one user turn through the model's chat template")->group(g);
  sub->add_option("--batch-size", llm->batch_size, "LLMs: prompts generated together (left-padded)")->capture_default_str()->group(g);
  sub->add_option("--adapter", llm->adapter, "LLMs: PEFT LoRA adapter directory applied on top")->group(g);
  sub->add_flag("--merge", llm->merge_adapter, "LLMs: fold --adapter into the weights")->group(g);
  sub->add_option("--prompts-out", llm->prompts_out,
                  "LLMs: write one JSON line per input with its examples, prompt, prompt tokens and translation")->group(g);
  add_compute_options(sub, opt->device, opt->dtype);
  commands.push_back({sub, [opt, sub]() {
    opt->model = io::resolve_model(opt->model);
    return run_translate(*opt, sub);
  }});
}

}  // namespace xling::cli
