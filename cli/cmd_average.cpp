// `xling average` and `xling merge`: weight arithmetic on checkpoints (docs/cli.md).
#include <algorithm>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "cli/common.hpp"
#include "train/weight_arithmetic.hpp"
#include "xling/errors.hpp"

namespace xling::cli {
namespace {

struct AverageOptions {
  std::vector<std::string> inputs;
  std::string from, output;
  std::size_t last = 0;
};

struct MergeOptions {
  std::string base, plus, minus, output;
  double scale = 1.0;
};

int run_average(const AverageOptions& opt) {
  std::vector<std::string> inputs = opt.inputs;
  if (!opt.from.empty()) {  // the last K checkpoint-N folders of a training run, by N
    std::vector<std::pair<long, std::string>> found;
    for (const auto& e : std::filesystem::directory_iterator(opt.from)) {
      const auto name = e.path().filename().string();
      if (!e.is_directory() || name.rfind("checkpoint-", 0) != 0) continue;
      try {
        found.emplace_back(std::stol(name.substr(11)), e.path().string());
      } catch (const std::exception&) {
      }
    }
    std::sort(found.begin(), found.end());
    if (found.empty()) throw InvalidArgument(fmt::format("{}: no checkpoint-N folders", opt.from));
    const std::size_t k = opt.last ? std::min(opt.last, found.size()) : found.size();
    for (std::size_t i = found.size() - k; i < found.size(); ++i) inputs.push_back(found[i].second);
  }
  train::average_checkpoints(inputs, opt.output);
  std::cerr << fmt::format("xling average: {} checkpoints -> {}\n", inputs.size(), opt.output);
  return kExitOk;
}

}  // namespace

void add_average_command(CLI::App& app, CommandList& commands) {
  auto opt = std::make_shared<AverageOptions>();
  CLI::App* sub = app.add_subcommand(
      "average", "Uniform average of checkpoints with the same tensors (checkpoint averaging, model soups). Output: "
                 "model.safetensors in each tensor's dtype, plus the first input's config and tokenizer files.");
  sub->add_option("inputs", opt->inputs, "Model directories or .safetensors files")->check(kExistingPath);
  sub->add_option("--from", opt->from, "A training output folder: average its checkpoint-N folders")
      ->check(CLI::ExistingDirectory);
  sub->add_option("--last", opt->last, "With --from: only the last K checkpoints");
  sub->add_option("--output,-o", opt->output, "Output directory")->required();
  commands.push_back({sub, [opt] { return run_average(*opt); }});

  auto mopt = std::make_shared<MergeOptions>();
  CLI::App* m = app.add_subcommand(
      "merge", "Task-vector transfer: output = base + scale * (plus - minus), tensor by tensor (e.g. move a "
               "fine-tuning diff from one base version to another). All three must hold the same tensors.");
  m->add_option("--base", mopt->base, "Base model")->required()->check(kExistingPath);
  m->add_option("--plus", mopt->plus, "Model whose weights are added")->required()->check(kExistingPath);
  m->add_option("--minus", mopt->minus, "Model whose weights are subtracted")->required()->check(kExistingPath);
  m->add_option("--scale", mopt->scale, "Scale of the difference")->capture_default_str();
  m->add_option("--output,-o", mopt->output, "Output directory")->required();
  commands.push_back({m, [mopt] {
                        train::merge_checkpoints(mopt->base, mopt->plus, mopt->minus, mopt->scale, mopt->output);
                        std::cerr << fmt::format("xling merge: wrote {}\n", mopt->output);
                        return kExitOk;
                      }});
}

}  // namespace xling::cli
