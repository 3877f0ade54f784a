// `xling generate`: the id-level generation contract used by the parity tests. JSONL in
// ({"input_ids": [...]} per line), JSONL out ({"output_ids": [...], "score": x|null}, K lines
// per input with --num-return-sequences K), each sequence as HF returns it for that input
// alone. Flags not given take their values from generation_config.json, as HF does.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/common.hpp"
#include "core/progress.hpp"
#include "generate/seq2seq_scorer.hpp"
#include "io/generation_config.hpp"
#include "io/model_location.hpp"
#include "models/registry.hpp"
#include "models/seq2seq.hpp"
#include "xling/errors.hpp"

namespace xling::cli {
namespace {

struct GenerateCliOptions {
  std::string model, input, output = "-", dtype = "f32", device = "cpu";
  std::string early_stopping;
  std::size_t batch_size = 16;
  generate::GenerationOverrides ov;
  // CLI11 binds plain values; copied into `ov` when the flag was given.
  int64_t num_beams = 0, max_new_tokens = 0, min_new_tokens = 0, forced_bos = 0, num_return = 0, no_repeat = 0, top_k = 0;
  double length_penalty = 0, repetition_penalty = 0, temperature = 0, top_p = 0;
  uint64_t seed = 0;
  bool do_sample = false;
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

  auto inputs = read_id_lines(opt.input);
  const auto t0 = std::chrono::steady_clock::now();
  auto device = models::parse_device(opt.device);
  auto gen = generate::Seq2SeqGenerator::load(opt.model, opt.dtype, device, "`xling generate`");
  auto options = gen.options(ov);
  TextOutput out(opt.output);
  core::Progress progress("generate", inputs.size());
  const auto t1 = std::chrono::steady_clock::now();
  std::size_t new_tokens = 0;
  torch::InferenceMode guard;
  for (std::size_t first = 0; first < inputs.size(); first += opt.batch_size) {
    const std::size_t n = std::min(opt.batch_size, inputs.size() - first);
    std::vector<std::vector<int64_t>> batch(inputs.begin() + static_cast<std::ptrdiff_t>(first),
                                            inputs.begin() + static_cast<std::ptrdiff_t>(first + n));
    auto results = gen.run(batch, options);
    for (const auto& hyps : results) {
      for (const auto& h : hyps) {
        new_tokens += h.ids.size() - 1;
        nlohmann::json line = {{"output_ids", h.ids}, {"score", nullptr}};
        if (h.score) line["score"] = *h.score;
        out.stream() << line.dump() << '\n';
      }
    }
    progress.advance(n);
  }
  out.commit();
  const auto t2 = std::chrono::steady_clock::now();
  const double load_s = std::chrono::duration<double>(t1 - t0).count(), gen_s = std::chrono::duration<double>(t2 - t1).count();
  std::cerr << fmt::format("xling generate: {} inputs, {} new tokens in {:.2f} s ({:.1f} tokens/s; model loaded in {:.2f} s)\n",
                           inputs.size(), new_tokens, gen_s, gen_s > 0 ? static_cast<double>(new_tokens) / gen_s : 0.0, load_s);
  return kExitOk;
}

}  // namespace

void add_generate_command(CLI::App& app, CommandList& commands) {
  auto opt = std::make_shared<GenerateCliOptions>();
  CLI::App* sub = app.add_subcommand(
      "generate",
      "Generate token ids with HF's greedy / beam search / sampling semantics (encoder-decoder models: M2M-100/NLLB, "
      "mBART, Marian, mT5). Input: JSONL lines {\"input_ids\": [...]} (source ids); output: JSONL lines "
      "{\"output_ids\": [...], \"score\": beam score or null}, num_return_sequences lines per input, each starting with "
      "the decoder start token and unpadded. Unset flags come from the model's generation_config.json. --dtype int8 (CPU): "
      "every matrix quantized for FBGEMM's int8 GEMM (opt-in; outputs differ slightly from fp32).");
  sub->add_option("--model,-m", opt->model, "Model directory (config.json + weights)")->required();
  sub->add_option("--input-ids,-i", opt->input, "JSONL file of {\"input_ids\": [...]} lines")->required()->check(CLI::ExistingFile);
  sub->add_option("--output-ids,-o", opt->output, "JSONL output (default: stdout)");
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
  add_compute_options(sub, opt->device, opt->dtype);
  commands.push_back({sub, [opt, sub]() {
    opt->model = io::resolve_model(opt->model);
    return run_generate(*opt, sub);
  }});
}

}  // namespace xling::cli
