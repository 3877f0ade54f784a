// `xling generate`: the id-level generation contract used by the parity tests. JSONL in
// ({"input_ids": [...]} per line), JSONL out ({"output_ids": [...], "score": x|null}, K lines
// per input with --num-return-sequences K), each sequence as HF returns it for that input
// alone. Flags not given take their values from generation_config.json, as HF does.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/common.hpp"
#include "core/progress.hpp"
#include "generate/causal_scorer.hpp"
#include "generate/seq2seq_scorer.hpp"
#include "generate/text_generator.hpp"
#include "io/generation_config.hpp"
#include "io/model_location.hpp"
#include "models/registry.hpp"
#include "models/seq2seq.hpp"
#include "xling/errors.hpp"

namespace xling::cli {
namespace {

struct GenerateCliOptions {
  std::string model, input, output = "-", dtype = "f32", device = "cpu";
  // Text mode (decoder-only LLMs): prompts as text, replies as text.
  std::vector<std::string> prompts, stop;
  std::string text_input, system, chat_template, adapter;
  bool chat = false, merge_adapter = false;
  std::string early_stopping;
  std::size_t batch_size = 16;
  generate::GenerationOverrides ov;
  // CLI11 binds plain values; copied into `ov` when the flag was given.
  int64_t num_beams = 0, max_new_tokens = 0, min_new_tokens = 0, forced_bos = 0, num_return = 0, no_repeat = 0, top_k = 0;
  double length_penalty = 0, repetition_penalty = 0, temperature = 0, top_p = 0;
  uint64_t seed = 0;
  bool do_sample = false;
  bool timings = false;
};

std::vector<std::vector<int64_t>> read_id_lines(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw IoError(fmt::format("{}: cannot open", path));
  std::vector<std::vector<int64_t>> out;
  std::string line;
  std::size_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      throw InvalidArgument(fmt::format("{}:{}: empty line; every line needs {{\"input_ids\": [...]}}", path, lineno));
    }
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      throw InvalidArgument(fmt::format("{}:{}: not JSON ({})", path, lineno, e.what()));
    }
    if (!j.is_object() || !j.contains("input_ids") || !j["input_ids"].is_array()) {
      throw InvalidArgument(fmt::format("{}:{}: expected {{\"input_ids\": [ids...]}}", path, lineno));
    }
    std::vector<int64_t> ids;
    for (const auto& v : j["input_ids"]) {
      if (!v.is_number_integer()) throw InvalidArgument(fmt::format("{}:{}: input_ids must be integers", path, lineno));
      ids.push_back(v.get<int64_t>());
    }
    if (ids.empty()) throw InvalidArgument(fmt::format("{}:{}: input_ids is empty", path, lineno));
    out.push_back(std::move(ids));
  }
  if (out.empty()) throw InvalidArgument(fmt::format("{}: no inputs (the file is empty)", path));
  return out;
}

io::EarlyStopping parse_early_stopping(const std::string& v) {
  if (v == "true") return io::EarlyStopping::kTrue;
  if (v == "false") return io::EarlyStopping::kFalse;
  if (v == "never") return io::EarlyStopping::kNever;
  throw InvalidArgument(fmt::format("--early-stopping '{}' is not true, false or never", v));
}

// Text prompts from --prompt or a JSONL file: each line a JSON string (a plain prompt),
// {"prompt": "..."} or {"messages": [...]} (a conversation for the chat template).
struct TextPrompt {
  std::string prompt;
  nlohmann::json messages;  // null for a plain prompt
};

std::vector<TextPrompt> read_text_prompts(const GenerateCliOptions& opt) {
  std::vector<TextPrompt> out;
  for (const auto& p : opt.prompts) out.push_back({p, nullptr});
  if (opt.text_input.empty()) return out;
  std::ifstream in(opt.text_input);
  if (!in) throw IoError(fmt::format("{}: cannot open", opt.text_input));
  std::string line;
  std::size_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto where = fmt::format("{}:{}", opt.text_input, lineno);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      throw InvalidArgument(fmt::format("{}: not JSON; each line is a JSON string, {{\"prompt\": ...}} or "
                                        "{{\"messages\": [...]}}",
                                        where));
    }
    if (j.is_string()) {
      out.push_back({j.get<std::string>(), nullptr});
    } else if (j.is_object() && j.contains("prompt") && j["prompt"].is_string()) {
      out.push_back({j["prompt"].get<std::string>(), nullptr});
    } else if (j.is_object() && j.contains("messages") && j["messages"].is_array()) {
      out.push_back({"", j["messages"]});
    } else {
      throw InvalidArgument(fmt::format("{}: expected a JSON string, {{\"prompt\": \"...\"}} or {{\"messages\": [...]}}", where));
    }
  }
  if (out.empty()) throw InvalidArgument(fmt::format("{}: no prompts (the file is empty)", opt.text_input));
  return out;
}

generate::CausalLoadOptions llm_options(const GenerateCliOptions& opt) {
  generate::CausalLoadOptions o;
  o.dtype = opt.dtype;
  o.device = models::parse_device(opt.device);
  o.adapter = opt.adapter;
  o.merge_adapter = opt.merge_adapter;
  return o;
}

int run_text_generate(const GenerateCliOptions& opt, const generate::GenerationOverrides& ov) {
  auto prompts = read_text_prompts(opt);
  auto tg = generate::TextGenerator::load(opt.model, llm_options(opt), opt.chat_template, "`xling generate`");
  std::vector<std::vector<int64_t>> ids;
  for (const auto& p : prompts) {
    if (!p.messages.is_null()) {
      ids.push_back(tg.encode_chat(p.messages, /*add_generation_prompt=*/true));
    } else if (opt.chat) {
      nlohmann::json messages = nlohmann::json::array();
      if (!opt.system.empty()) messages.push_back({{"role", "system"}, {"content", opt.system}});
      messages.push_back({{"role", "user"}, {"content", p.prompt}});
      ids.push_back(tg.encode_chat(messages, /*add_generation_prompt=*/true));
    } else {
      ids.push_back(tg.encode_prompt(p.prompt));
    }
  }
  TextOutput out(opt.output);
  core::Progress progress("generate", prompts.size());
  const auto t0 = std::chrono::steady_clock::now();
  std::size_t new_tokens = 0;
  torch::InferenceMode guard;
  for (std::size_t first = 0; first < ids.size(); first += opt.batch_size) {
    const std::size_t n = std::min(opt.batch_size, ids.size() - first);
    std::vector<std::vector<int64_t>> batch(ids.begin() + static_cast<std::ptrdiff_t>(first),
                                            ids.begin() + static_cast<std::ptrdiff_t>(first + n));
    auto replies = tg.reply_batch(batch, ov, opt.stop);
    for (std::size_t i = 0; i < n; ++i) {
      new_tokens += replies[i].ids.size();
      out.stream() << nlohmann::json({{"text", replies[i].text},
                                      {"finish_reason", replies[i].finish_reason},
                                      {"prompt_tokens", batch[i].size()},
                                      {"new_tokens", replies[i].ids.size()}})
                          .dump()
                   << '\n';
    }
    progress.advance(n);
  }
  out.commit();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cerr << fmt::format("xling generate: {} prompts, {} new tokens in {:.2f} s ({:.1f} tokens/s)\n", prompts.size(),
                           new_tokens, s, s > 0 ? static_cast<double>(new_tokens) / s : 0.0);
  return kExitOk;
}

int run_generate(GenerateCliOptions& opt, CLI::App* sub) {
  auto given = [&](const char* flag) { return sub->count(flag) > 0; };
  auto& ov = opt.ov;
  if (given("--num-beams")) ov.num_beams = opt.num_beams;
  if (given("--max-new-tokens")) ov.max_new_tokens = opt.max_new_tokens;
  if (given("--min-new-tokens")) ov.min_new_tokens = opt.min_new_tokens;
  if (given("--forced-bos-token-id")) ov.forced_bos_token_id = opt.forced_bos;
  if (given("--num-return-sequences")) ov.num_return_sequences = opt.num_return;
  if (given("--no-repeat-ngram-size")) ov.no_repeat_ngram_size = opt.no_repeat;
  if (given("--length-penalty")) ov.length_penalty = opt.length_penalty;
  if (given("--repetition-penalty")) ov.repetition_penalty = opt.repetition_penalty;
  if (given("--early-stopping")) ov.early_stopping = parse_early_stopping(opt.early_stopping);
  if (given("--do-sample")) ov.do_sample = opt.do_sample;
  if (given("--temperature")) ov.temperature = opt.temperature;
  if (given("--top-k")) ov.top_k = opt.top_k;
  if (given("--top-p")) ov.top_p = opt.top_p;
  if (given("--seed")) ov.seed = opt.seed;
  if (opt.batch_size == 0) throw InvalidArgument("--batch-size must be at least 1");
  const int sources = (opt.input.empty() ? 0 : 1) + (opt.prompts.empty() ? 0 : 1) + (opt.text_input.empty() ? 0 : 1);
  if (sources != 1) throw InvalidArgument("give exactly one of --input-ids FILE, --prompt TEXT or --input FILE");
  if (opt.input.empty()) return run_text_generate(opt, ov);

  auto inputs = read_id_lines(opt.input);
  const auto t0 = std::chrono::steady_clock::now();
  auto device = models::parse_device(opt.device);
  const bool causal = generate::is_causal_lm_dir(opt.model);
  std::optional<generate::Seq2SeqGenerator> seq2seq;
  std::optional<generate::CausalGenerator> llm;
  if (causal) {
    llm = generate::CausalGenerator::load(opt.model, llm_options(opt), "`xling generate`");
  } else {
    seq2seq = generate::Seq2SeqGenerator::load(opt.model, opt.dtype, device, "`xling generate`");
  }
  std::optional<generate::GenerationOptions> seq2seq_options;
  if (seq2seq) seq2seq_options = seq2seq->options(ov);
  TextOutput out(opt.output);
  core::Progress progress("generate", inputs.size());
  const auto t1 = std::chrono::steady_clock::now();
  std::size_t new_tokens = 0;
  // --timings (LLMs, greedy or sampling): each batch's time split at its first new token, i.e.
  // prefill (the prompts + that token) vs decode (the cached steps after it). Beam search
  // streams no tokens, so it has no split.
  using Clock = std::chrono::steady_clock;
  double prefill_s = 0, decode_s = 0;
  std::size_t prompt_tokens = 0, decode_tokens = 0, batches = 0, split_batches = 0;
  const bool split = causal && opt.timings;
  torch::InferenceMode guard;
  for (std::size_t first = 0; first < inputs.size(); first += opt.batch_size) {
    const std::size_t n = std::min(opt.batch_size, inputs.size() - first);
    std::vector<std::vector<int64_t>> batch(inputs.begin() + static_cast<std::ptrdiff_t>(first),
                                            inputs.begin() + static_cast<std::ptrdiff_t>(first + n));
    // Decoder-only prompts are left-padded together; their options follow the padded length.
    const auto b0 = Clock::now();
    std::optional<Clock::time_point> first_token;
    auto on_token = [&](int64_t, int64_t) {
      if (!first_token) first_token = Clock::now();
      return true;
    };
    auto results = causal ? llm->run(batch, ov, split ? generate::TokenCallback(on_token) : generate::TokenCallback())
                          : seq2seq->run(batch, *seq2seq_options);
    const auto b1 = Clock::now();
    std::size_t batch_prompt = 0, batch_decode = 0;
    for (std::size_t i = 0; i < results.size(); ++i) {
      const std::size_t prompt = causal ? batch[i].size() : 1;
      batch_prompt += prompt;
      for (const auto& h : results[i]) {
        new_tokens += h.ids.size() - prompt;
        if (h.ids.size() > prompt) batch_decode += h.ids.size() - prompt - 1;
        nlohmann::json line = {{"output_ids", h.ids}, {"score", nullptr}};
        if (h.score) line["score"] = *h.score;
        out.stream() << line.dump() << '\n';
      }
    }
    if (split && first_token) {
      const double p = std::chrono::duration<double>(*first_token - b0).count();
      const double d = std::chrono::duration<double>(b1 - *first_token).count();
      std::cerr << fmt::format("xling generate: batch {}: {} inputs, {} prompt tokens, prefill {:.4f} s, {} decode tokens in "
                               "{:.4f} s\n",
                               batches, n, batch_prompt, p, batch_decode, d);
      prefill_s += p;
      decode_s += d;
      prompt_tokens += batch_prompt;
      decode_tokens += batch_decode;
      ++split_batches;
    }
    ++batches;
    progress.advance(n);
  }
  out.commit();
  const auto t2 = std::chrono::steady_clock::now();
  const double load_s = std::chrono::duration<double>(t1 - t0).count(), gen_s = std::chrono::duration<double>(t2 - t1).count();
  std::cerr << fmt::format("xling generate: {} inputs, {} new tokens in {:.2f} s ({:.1f} tokens/s; model loaded in {:.2f} s)\n",
                           inputs.size(), new_tokens, gen_s, gen_s > 0 ? static_cast<double>(new_tokens) / gen_s : 0.0, load_s);
  if (split_batches > 0) {
    std::cerr << fmt::format("xling generate: prefill {:.3f} s ({} prompt tokens, {:.1f} tokens/s), decode {:.3f} s "
                             "({} tokens after the first of each sequence, {:.1f} tokens/s)\n",
                             prefill_s, prompt_tokens, prefill_s > 0 ? static_cast<double>(prompt_tokens) / prefill_s : 0.0,
                             decode_s, decode_tokens, decode_s > 0 ? static_cast<double>(decode_tokens) / decode_s : 0.0);
  }
  return kExitOk;
}

}  // namespace

void add_generate_command(CLI::App& app, CommandList& commands) {
  auto opt = std::make_shared<GenerateCliOptions>();
  CLI::App* sub = app.add_subcommand(
      "generate",
      "Generate token ids with HF's greedy / beam search / sampling semantics: encoder-decoder models (M2M-100/NLLB, "
      "mBART, Marian, mT5) and decoder-only LLMs (Llama, Mistral, Qwen2, Gemma, BLOOM). Input: JSONL lines "
      "{\"input_ids\": [...]} (source ids, or the prompt of an LLM); output: JSONL lines "
      "{\"output_ids\": [...], \"score\": beam score or null}, num_return_sequences lines per input, unpadded: "
      "seq2seq outputs start with the decoder start token, LLM outputs with the prompt. LLM prompts of one batch are "
      "left-padded together (positions follow the mask, as HF); with mixed lengths, a max_length from "
      "generation_config.json counts that padding, as HF's batched generate does (--max-new-tokens does not). Unset flags come from the model's generation_config.json. --dtype int8 (CPU): "
      "every matrix quantized for FBGEMM's int8 GEMM (opt-in; outputs differ slightly from fp32). LLMs: --dtype f32-packed (CPU): "
      "fp32 with every matrix prepacked once for oneDNN's GEMM, faster batched decoding (rounding differs from HF's by ~1e-6).");
  sub->add_option("--model,-m", opt->model, "Model directory (config.json + weights)")->required();
  sub->add_option("--input-ids,-i", opt->input, "JSONL file of {\"input_ids\": [...]} lines")->check(CLI::ExistingFile);
  sub->add_option("--prompt", opt->prompts,
                  "LLMs: a text prompt (repeatable); output JSONL {\"text\", \"finish_reason\", \"prompt_tokens\", \"new_tokens\"}");
  sub->add_option("--input", opt->text_input,
                  "LLMs: JSONL of prompts, each line a JSON string, {\"prompt\": ...} or {\"messages\": [...]} (a "
                  "conversation for the chat template)")
      ->check(CLI::ExistingFile);
  sub->add_flag("--chat", opt->chat, "LLMs: send each plain prompt as a user message through the chat template");
  sub->add_option("--system", opt->system, "LLMs with --chat: a system message before each prompt");
  sub->add_option("--chat-template", opt->chat_template, "A named chat template of the model (default: its default one)");
  sub->add_option("--adapter", opt->adapter, "LLMs: a PEFT LoRA adapter directory applied on top of --model")
      ->check(CLI::ExistingDirectory);
  sub->add_flag("--merge", opt->merge_adapter, "Fold the adapter into the weights (faster; always with --dtype int8)");
  sub->add_option("--stop", opt->stop, "LLMs: a string that ends a reply (repeatable; kept, as HF's stop_strings)");
  sub->add_option("--output-ids,--output,-o", opt->output, "JSONL output (default: stdout)");
  sub->add_option("--num-beams", opt->num_beams, "Beam width (1 = greedy or sampling)")->check(CLI::PositiveNumber);
  sub->add_option("--max-new-tokens", opt->max_new_tokens, "New tokens at most (default: max_length of generation_config.json, else 20 in all)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--min-new-tokens", opt->min_new_tokens, "EOS is banned before this many new tokens")->check(CLI::NonNegativeNumber);
  sub->add_option("--forced-bos-token-id", opt->forced_bos, "Token forced as the first generated one (a target-language code)");
  sub->add_option("--early-stopping", opt->early_stopping, "Beam search stop rule: true, false or never (HF's)");
  sub->add_option("--length-penalty", opt->length_penalty, "Beam scores are sum log-prob / length ** this");
  sub->add_option("--num-return-sequences", opt->num_return, "Hypotheses returned per input (<= num beams unless sampling)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--no-repeat-ngram-size", opt->no_repeat, "Ban repeating any n-gram of this size")->check(CLI::NonNegativeNumber);
  sub->add_option("--repetition-penalty", opt->repetition_penalty, "CTRL-style penalty on tokens already present (>1 discourages)");
  sub->add_flag("--do-sample", opt->do_sample, "Sample instead of taking the best token");
  sub->add_option("--temperature", opt->temperature, "Sampling temperature");
  sub->add_option("--top-k", opt->top_k, "Sample among the k best tokens (0 = off)");
  sub->add_option("--top-p", opt->top_p, "Nucleus sampling mass");
  sub->add_option("--seed", opt->seed, "Seed of the sampler");
  sub->add_option("--batch-size", opt->batch_size, "Inputs generated together (default 16)");
  sub->add_flag("--timings", opt->timings,
                "LLMs, greedy or sampling: print on stderr each batch's prefill time (up to its first new token) and "
                "decode time (the tokens after it), then the totals");
  add_compute_options(sub, opt->device, opt->dtype);
  commands.push_back({sub, [opt, sub]() {
    opt->model = io::resolve_model(opt->model);
    return run_generate(*opt, sub);
  }});
}

}  // namespace xling::cli
