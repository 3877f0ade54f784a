// Architecture registry and weight loading (see registry.hpp).
#include "models/registry.hpp"

#include <filesystem>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "io/bert_config.hpp"
#include "layers/weights.hpp"
#include "models/bert.hpp"
#include "xling/errors.hpp"

namespace xling::models {

std::vector<std::string> supported_architectures() { return bert_architectures(); }

LoadReport load_weights(torch::nn::Module& module, const io::Checkpoint& ckpt, const std::string& prefix,
                        const std::vector<std::string>& tied, bool strict) {
  LoadReport report;
  std::set<std::string> used;
  std::vector<std::string> missing;
  torch::NoGradGuard no_grad;
  for (auto& item : module.named_parameters(/*recurse=*/true)) {
    const std::string& name = item.key();
    torch::Tensor& param = item.value();
    std::vector<std::string> candidates = {name};
    if (!prefix.empty() && name.rfind(prefix + ".", 0) == 0) candidates.push_back(name.substr(prefix.size() + 1));
    const io::TensorView* view = nullptr;
    for (const auto& c : candidates) {
      if ((view = ckpt.find(c))) break;
    }
    if (!view) {
      missing.push_back(name);
      continue;
    }
    used.insert(view->name);
    if (view->shape != param.sizes().vec()) {
      throw InvalidArgument(fmt::format("{}: tensor '{}' has shape {}, the model expects [{}]", ckpt.path(), view->name,
                                        view->shape_string(), fmt::join(param.sizes(), ", ")));
    }
    torch::Tensor t = layers::tensor_from_view(*view, ckpt.owner(view->name));
    if (t.scalar_type() != param.scalar_type()) t = t.to(param.scalar_type());
    param.set_data(t);
  }
  std::vector<std::string> unexpected;
  std::set<std::string> tied_set(tied.begin(), tied.end());
  for (const auto& n : ckpt.names()) {
    if (used.count(n)) continue;
    std::string bare = !prefix.empty() && n.rfind(prefix + ".", 0) == 0 ? n.substr(prefix.size() + 1) : n;
    if (tied_set.count(n) || tied_set.count(bare) || bare.find("position_ids") != std::string::npos) continue;
    unexpected.push_back(n);
  }
  if (strict && (!missing.empty() || !unexpected.empty())) {
    std::string msg = fmt::format("{}: weights do not match the model class", ckpt.path());
    if (!missing.empty()) msg += fmt::format("; missing: {}", fmt::join(missing, ", "));
    if (!unexpected.empty()) msg += fmt::format("; unexpected: {}", fmt::join(unexpected, ", "));
    throw InvalidArgument(msg);
  }
  report.initialized = std::move(missing);
  report.unused = std::move(unexpected);
  return report;
}

LoadedModel load_model(const std::string& dir, const LoadOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(fs::path(dir) / "config.json", ec)) throw IoError(fmt::format("{}: no config.json in this directory", dir));
  LoadedModel m;
  m.config = io::load_config_any(dir);
  std::string arch = options.architecture;
  if (arch.empty()) {
    if (m.config->architectures.empty()) {
      throw InvalidArgument(fmt::format("{}/config.json: no 'architectures'; pass the class name (--class)", dir));
    }
    arch = m.config->architectures.front();
  }
  m.architecture = arch;
  auto supported = supported_architectures();
  auto* bert = dynamic_cast<io::BertConfig*>(m.config.get());
  if (bert) {
    if (auto model = make_bert_model(*bert, arch)) {
      auto ckpt = io::Checkpoint::open(dir);
      (*model)->eval();
      const std::string& prefix = (*model)->prefix;
      std::vector<std::string> tied = {"cls.predictions.decoder.weight", "cls.predictions.decoder.bias",
                                       "lm_head.decoder.weight", "lm_head.decoder.bias"};
      m.report = load_weights(**model, ckpt, prefix, tied, options.strict);
      std::shared_ptr<BertTaskModelImpl> mod = model->ptr();
      m.module = mod;
      m.forward = [mod](const NamedTensors& in) { return mod->forward(in); };
      return m;
    }
  }
  throw UnsupportedModel(fmt::format("{}: architecture '{}' (model_type '{}') is not supported; supported: {}", dir, arch,
                                     m.config->model_type, fmt::join(supported, ", ")));
}

}  // namespace xling::models
