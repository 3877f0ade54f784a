// `xling score`: BLEU, chrF, chrF++ and TER exactly as sacrebleu 2.6.0 computes them, from
// plain-text hypothesis and reference files (one segment per line).
#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/common.hpp"
#include "metrics/bleu.hpp"
#include "metrics/chrf.hpp"
#include "metrics/ter.hpp"
#include "tokenize/unicode.hpp"
#include "xling/errors.hpp"

namespace xling::cli {
namespace {

struct ScoreOptions {
  std::string metric = "bleu";
  std::string hyp;
  std::vector<std::string> refs;
  std::string tokenize = "13a";
  std::string smooth = "exp";
  std::optional<double> smooth_value;
  bool lowercase = false;
  bool sentence = false;
  bool json = false;
  std::string output = "-";
};

// Lines of a UTF-8 text file; errors name the file and line.
std::vector<std::string> read_segments(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(fmt::format("{}: cannot open for reading", path));
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (auto bad = tokenize::find_invalid_utf8(line); bad != std::string::npos) {
      throw InvalidArgument(fmt::format("{}:{}: invalid UTF-8 at byte {}", path, lines.size() + 1, bad));
    }
    lines.push_back(std::move(line));
  }
  if (in.bad()) throw IoError(fmt::format("{}: read error", path));
  if (lines.empty()) throw InvalidArgument(fmt::format("{}: empty file: no segments to score", path));
  return lines;
}

nlohmann::json bleu_json(const metrics::BleuScore& s) {
  return {{"metric", "bleu"}, {"score", s.score}, {"signature", s.signature}, {"bp", s.bp},
          {"precisions", s.precisions}, {"sys_len", s.sys_len}, {"ref_len", s.ref_len}};
}

int run_score(const ScoreOptions& opt) {
  std::vector<std::string> hyps = read_segments(opt.hyp);
  std::vector<std::vector<std::string>> refs;
  for (const auto& r : opt.refs) {
    refs.push_back(read_segments(r));
    if (refs.back().size() != hyps.size()) {
      throw InvalidArgument(fmt::format("{} has {} lines but {} has {}: every reference file needs one line per hypothesis",
                                        opt.hyp, hyps.size(), r, refs.back().size()));
    }
  }
  TextOutput out(opt.output);
  std::ostream& os = out.stream();
  auto emit = [&](const nlohmann::json& j) {
    if (opt.json) {
      os << j.dump() << "\n";
    } else if (j.contains("bp")) {
      os << fmt::format("BLEU = {:.2f} {:.1f}/{:.1f}/{:.1f}/{:.1f} (BP = {:.3f} ratio = {:.3f} hyp_len = {} ref_len = {})  {}\n",
                        j["score"].get<double>(), j["precisions"][0].get<double>(), j["precisions"][1].get<double>(),
                        j["precisions"][2].get<double>(), j["precisions"][3].get<double>(), j["bp"].get<double>(),
                        j["ref_len"].get<int64_t>() ? static_cast<double>(j["sys_len"].get<int64_t>()) / j["ref_len"].get<int64_t>() : 0.0,
                        j["sys_len"].get<int64_t>(), j["ref_len"].get<int64_t>(), j["signature"].get<std::string>());
    } else {
      os << fmt::format("{} = {:.2f}  {}\n", j["metric"].get<std::string>(), j["score"].get<double>(),
                        j["signature"].get<std::string>());
    }
  };
  auto seg_refs = [&](std::size_t i) {
    std::vector<std::string> r;
    for (const auto& stream : refs) r.push_back(stream[i]);
    return r;
  };
  if (opt.metric == "bleu") {
    metrics::BleuOptions o;
    o.tokenize = *metrics::parse_bleu_tokenizer(opt.tokenize);
    o.smooth = *metrics::parse_bleu_smooth(opt.smooth);
    o.smooth_value = opt.smooth_value;
    o.lowercase = opt.lowercase;
    if (opt.sentence) {
      o.effective_order = true;
      for (std::size_t i = 0; i < hyps.size(); ++i) emit(bleu_json(metrics::sentence_bleu(hyps[i], seg_refs(i), o)));
    } else {
      emit(bleu_json(metrics::corpus_bleu(hyps, refs, o)));
    }
  } else if (opt.metric == "chrf" || opt.metric == "chrf++") {
    metrics::ChrfOptions o;
    o.word_order = opt.metric == "chrf++" ? 2 : 0;
    o.lowercase = opt.lowercase;
    auto js = [&](const metrics::ChrfScore& s) {
      return nlohmann::json{{"metric", opt.metric}, {"score", s.score}, {"signature", s.signature}};
    };
    if (opt.sentence) {
      for (std::size_t i = 0; i < hyps.size(); ++i) emit(js(metrics::sentence_chrf(hyps[i], seg_refs(i), o)));
    } else {
      emit(js(metrics::corpus_chrf(hyps, refs, o)));
    }
  } else {
    metrics::TerOptions o;
    o.case_sensitive = false;
    auto js = [&](const metrics::TerScore& s) {
      return nlohmann::json{{"metric", "ter"}, {"score", s.score}, {"signature", s.signature}};
    };
    if (opt.sentence) {
      for (std::size_t i = 0; i < hyps.size(); ++i) emit(js(metrics::sentence_ter(hyps[i], seg_refs(i), o)));
    } else {
      emit(js(metrics::corpus_ter(hyps, refs, o)));
    }
  }
  out.commit();
  return kExitOk;
}

}  // namespace

void add_score_command(CLI::App& app, CommandList& commands) {
  auto opt = std::make_shared<ScoreOptions>();
  CLI::App* sub = app.add_subcommand(
      "score",
      "Score translations with BLEU, chrF, chrF++ or TER, bit-compatible with sacrebleu 2.6.0 (values and signature). "
      "Files are plain UTF-8 text, one segment per line; every --ref file has one line per hypothesis.");
  sub->add_option("--metric,-m", opt->metric, "bleu, chrf, chrf++ or ter")
      ->capture_default_str()
      ->check(CLI::IsMember({"bleu", "chrf", "chrf++", "ter"}));
  sub->add_option("--hyp", opt->hyp, "Hypotheses, one per line")->required();
  sub->add_option("--ref", opt->refs, "References, one per line (repeat for multiple references)")->required();
  sub->add_option("--tokenize", opt->tokenize, "BLEU tokenizer: 13a, intl, zh, char, none")
      ->capture_default_str()
      ->check(CLI::IsMember({"13a", "intl", "zh", "char", "none"}));
  sub->add_option("--smooth", opt->smooth, "BLEU smoothing: exp, floor, add-k, none")
      ->capture_default_str()
      ->check(CLI::IsMember({"exp", "floor", "add-k", "none"}));
  sub->add_option("--smooth-value", opt->smooth_value, "Smoothing value for floor (default 0.1) / add-k (default 1)");
  sub->add_flag("--lowercase,--lc", opt->lowercase, "Case-insensitive BLEU/chrF");
  sub->add_flag("--sentence", opt->sentence, "One score per segment (BLEU with effective order, as sentence_bleu)");
  sub->add_flag("--json", opt->json,
                "One JSON object per line: {metric, score, signature} (+ bp, precisions, sys_len, ref_len for BLEU)");
  sub->add_option("--output,-o", opt->output, "Where to write ('-' = stdout)")->capture_default_str();
  commands.push_back({sub, [opt]() { return run_score(*opt); }});
}

}  // namespace xling::cli
