// `xling mine`: bitext mining between two files of sentences (one per line) with a sentence
// encoder and margin scoring (tasks/bitext_miner.hpp). Output: TSV lines
// score<TAB>src_line<TAB>tgt_line<TAB>source<TAB>target, best first, line numbers from 1;
// backslash, tab and newline inside a text are written as \\, \t and \n.
#include <iostream>

#include <fmt/format.h>

#include "cli/common.hpp"
#include "cli/text_input.hpp"
#include "io/model_location.hpp"
#include "models/registry.hpp"
#include "tasks/bitext_miner.hpp"
#include "tasks/sentence_encoder.hpp"
#include "xling/errors.hpp"

namespace xling::cli {
namespace {

struct MineCliOptions {
  std::string model, src, tgt, output = "-";
  tasks::MineOptions mine;
  std::string dtype = "f32", device = "cpu";
  std::size_t batch_tokens = 0;
  bool quiet = false;
};

std::string escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\t') out += "\\t";
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else out += c;
  }
  return out;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::vector<std::string> out;
  for (auto& r : read_text_records(path)) out.push_back(std::move(r.text));
  return out;
}

int run_mine(const MineCliOptions& opt) {
  auto src = read_lines(opt.src);
  auto tgt = read_lines(opt.tgt);
  auto enc = tasks::SentenceEncoder::load(
      opt.model, std::nullopt, /*normalize=*/true,
      models::LoadOptions::with_dtype(models::parse_compute_dtype(opt.dtype), models::parse_device(opt.device)));
  tasks::EncodeOptions eo;
  eo.batch_tokens = opt.batch_tokens;
  auto x = enc.encode(src, eo);
  auto y = enc.encode(tgt, eo);
  auto pairs = tasks::mine_bitext(x, y, opt.mine);
  TextOutput out(opt.output);
  for (const auto& p : pairs) {
    out.stream() << fmt::format("{:.6f}\t{}\t{}\t{}\t{}\n", p.score, p.source + 1, p.target + 1,
                                escape(src[static_cast<std::size_t>(p.source)]),
                                escape(tgt[static_cast<std::size_t>(p.target)]));
  }
  out.commit();
  if (!opt.quiet) {
    std::cerr << fmt::format("xling mine: {} source x {} target sentences -> {} pairs ({} margin, k {}, mode {})\n",
                             src.size(), tgt.size(), pairs.size(), opt.mine.margin, opt.mine.k, opt.mine.mode);
  }
  return kExitOk;
}

}  // namespace

void add_mine_command(CLI::App& app, CommandList& commands) {
  auto opt = std::make_shared<MineCliOptions>();
  CLI::App* sub = app.add_subcommand(
      "mine",
      "Bitext mining: find the translation pairs between two files of sentences (one per line, or JSONL) with a "
      "sentence encoder and margin scoring (Artetxe & Schwenk 2019). Output TSV lines "
      "score<TAB>src_line<TAB>tgt_line<TAB>source<TAB>target, best first, line numbers from 1; \\\\, tab and newline "
      "inside texts are written as \\\\\\\\, \\\\t, \\\\n.");
  sub->add_option("--src", opt->src, "Source sentences (.txt: one per line; .jsonl)")->required()->check(kExistingPath);
  sub->add_option("--tgt", opt->tgt, "Target sentences")->required()->check(kExistingPath);
  sub->add_option("--output,-o", opt->output, "TSV output ('-' = stdout)")->capture_default_str();
  sub->add_option("--model,-m", opt->model, "Sentence encoder (default: xling-mini)");
  sub->add_option("--margin", opt->mine.margin, "ratio, distance or absolute (plain cosine)")->capture_default_str();
  sub->add_option("--k", opt->mine.k, "Neighbourhood size of the margin")->capture_default_str();
  sub->add_option("--mode", opt->mine.mode,
                  "max (best-scoring one-to-one pairs from both directions), forward, backward or intersect")
      ->capture_default_str();
  sub->add_option("--threshold", opt->mine.threshold, "Keep pairs scoring at least this (ratio margin: ~1.06 as in WikiMatrix)");
  sub->add_option("--batch-tokens", opt->batch_tokens, "Token budget per batch (0 = the device's default)");
  add_compute_options(sub, opt->device, opt->dtype);
  sub->add_flag("--quiet,-q", opt->quiet, "No summary on stderr");
  commands.push_back({sub, [opt]() {
    opt->model = io::resolve_model(opt->model);
    return run_mine(*opt);
  }});
}

}  // namespace xling::cli
