// PEFT LoRA adapters: load, apply, merge, save (see peft.hpp).
#include "models/peft.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <regex>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/atomic_file.hpp"
#include "core/json.hpp"
#include "io/checkpoint.hpp"
#include "io/safetensors_writer.hpp"
#include "layers/modules.hpp"
#include "layers/weights.hpp"
#include "models/bert.hpp"
#include "xling/errors.hpp"

namespace xling::models {
namespace fs = std::filesystem;

namespace {

constexpr const char* kKeyPrefix = "base_model.model.";
constexpr const char* kLoraA = ".lora_A.weight";
constexpr const char* kLoraB = ".lora_B.weight";

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// PEFT's list matching: the name itself or its last dotted components.
bool matches_suffix(const std::string& name, const std::vector<std::string>& entries) {
  for (const auto& e : entries) {
    if (name == e || ends_with(name, "." + e)) return true;
  }
  return false;
}

// PEFT's rank_pattern / alpha_pattern lookup: an exact name, else `(.*\.)?(pattern)$`.
template <typename T>
std::optional<T> pattern_value(const std::map<std::string, T>& patterns, const std::string& name) {
  for (const auto& [p, v] : patterns) {
    if (p == name) return v;
  }
  for (const auto& [p, v] : patterns) {
    if (std::regex_match(name, std::regex("(.*\\.)?(" + p + ")"))) return v;
  }
  return std::nullopt;
}

// Fails naming `key` when `re` is not a valid (ECMAScript) regular expression.
void require_regex(const core::JsonFields& f, const std::string& key, const std::string& re) {
  try {
    std::regex check(re);
  } catch (const std::regex_error&) {
    f.fail(key, fmt::format("'{}' is not a valid regular expression", re));
  }
}

// A key that holds a list of names or one regular expression (target_modules, exclude_modules).
void names_or_regex(const core::JsonFields& f, const std::string& key, std::vector<std::string>& names,
                    std::optional<std::string>& regex) {
  if (!f.has(key)) return;
  const auto& v = f.raw(key);
  if (v.is_string()) {
    regex = v.get<std::string>();
    require_regex(f, key, *regex);
    return;
  }
  names = f.string_list(key);
}

nlohmann::json names_or_regex_json(const std::vector<std::string>& names, const std::optional<std::string>& regex) {
  if (regex) return *regex;
  if (names.empty()) return nullptr;
  return names;
}

DType to_dtype(torch::ScalarType t, const std::string& name) {
  switch (t) {
    case torch::kFloat32: return DType::kF32;
    case torch::kBFloat16: return DType::kBF16;
    case torch::kFloat16: return DType::kF16;
    case torch::kFloat64: return DType::kF64;
    default: throw InvalidArgument(fmt::format("tensor '{}' has dtype {}, not a float type", name, c10::toString(t)));
  }
}

std::string shape_str(at::IntArrayRef s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

}  // namespace

bool LoraConfig::targets(const std::string& name) const {
  const bool selected = target_modules_regex ? std::regex_match(name, std::regex(*target_modules_regex))
                                             : matches_suffix(name, target_modules);
  if (!selected) return false;
  // Modules saved whole (modules_to_save, e.g. the classifier head) get no LoRA: PEFT wraps them
  // for full training before injecting LoRA elsewhere.
  for (const auto& keep : modules_to_save) {
    if (name == keep || name.rfind(keep + ".", 0) == 0 || name.find("." + keep + ".") != std::string::npos ||
        name.ends_with("." + keep)) {
      return false;
    }
  }
  if (exclude_modules_regex ? std::regex_match(name, std::regex(*exclude_modules_regex))
                            : matches_suffix(name, exclude_modules)) {
    return false;
  }
  if (layers_to_transform.empty()) return true;
  // The layer index as PEFT finds it: after a layers_pattern component, or by default after
  // the last component followed by a number ("...encoder.layer.3.attention...").
  std::vector<std::string> regexes;
  if (layers_pattern.empty()) regexes.push_back(".*\\.[^.]*\\.(\\d+)\\..*");
  for (const auto& p : layers_pattern) regexes.push_back(".*\\." + p + "\\.(\\d+)\\..*");
  for (const auto& re : regexes) {
    std::smatch m;
    if (!std::regex_match(name, m, std::regex(re))) continue;
    const int64_t index = std::stoll(m[1].str());
    return std::find(layers_to_transform.begin(), layers_to_transform.end(), index) != layers_to_transform.end();
  }
  return false;
}

int64_t LoraConfig::rank(const std::string& name) const { return pattern_value(rank_pattern, name).value_or(r); }

double LoraConfig::scaling(const std::string& name) const {
  const double alpha = pattern_value(alpha_pattern, name).value_or(lora_alpha);
  const auto rr = static_cast<double>(rank(name));
  return use_rslora ? alpha / std::sqrt(rr) : alpha / rr;
}

LoraConfig LoraConfig::from_json(const nlohmann::json& j, const std::string& source) {
  core::JsonFields f(j, source);
  const std::string type = f.string("peft_type");
  if (type != "LORA") {
    throw UnsupportedModel(fmt::format("{}: peft_type '{}' is not supported; supported: LORA (incl. rsLoRA)", source, type));
  }
  // Variants whose tensors or forward xling does not implement: refuse rather than run wrong.
  for (const char* key : {"use_dora", "lora_bias", "fan_in_fan_out", "use_qalora", "use_bdlora"}) {
    if (f.boolean_or(key, false)) {
      throw UnsupportedModel(fmt::format("{}: '{}' is true; xling supports plain LoRA and rsLoRA adapters only", source, key));
    }
  }
  for (const char* key : {"layer_replication", "trainable_token_indices", "target_parameters", "alora_invocation_tokens"}) {
    if (f.has(key) && !f.raw(key).empty()) {
      throw UnsupportedModel(fmt::format("{}: '{}' is set ({}); xling supports plain LoRA and rsLoRA adapters only", source,
                                         key, core::json_excerpt(f.raw(key))));
    }
  }
  LoraConfig c;
  c.r = f.positive("r");
  c.lora_alpha = f.number_or("lora_alpha", 8);
  c.use_rslora = f.boolean_or("use_rslora", false);
  c.lora_dropout = f.number_or("lora_dropout", 0);
  c.bias = f.string_or("bias", "none");
  names_or_regex(f, "target_modules", c.target_modules, c.target_modules_regex);
  if (!c.target_modules_regex && c.target_modules.empty()) f.fail("target_modules", "expected module names");
  if (c.target_modules_regex == "all-linear") {
    throw UnsupportedModel(fmt::format("{}: target_modules 'all-linear' is not supported; list the module names", source));
  }
  names_or_regex(f, "exclude_modules", c.exclude_modules, c.exclude_modules_regex);
  c.modules_to_save = f.string_list("modules_to_save");
  c.layers_to_transform = f.integer_list("layers_to_transform");
  if (f.has("layers_pattern")) {
    c.layers_pattern = f.raw("layers_pattern").is_string() ? std::vector<std::string>{f.string("layers_pattern")}
                                                           : f.string_list("layers_pattern");
    for (const auto& p : c.layers_pattern) require_regex(f, "layers_pattern", p);
  }
  for (const char* key : {"rank_pattern", "alpha_pattern"}) {
    if (!f.has(key)) continue;
    const auto& obj = f.raw(key);
    if (!obj.is_object()) f.fail(key, "expected an object {module pattern: value}");
    for (const auto& [k, v] : obj.items()) {
      require_regex(f, key, "(.*\\.)?(" + k + ")");
      if (std::string(key) == "rank_pattern") {
        if (!v.is_number_integer() || v.get<int64_t>() <= 0) f.fail(key, fmt::format("'{}' needs a positive integer", k));
        c.rank_pattern[k] = v.get<int64_t>();
      } else {
        if (!v.is_number()) f.fail(key, fmt::format("'{}' needs a number", k));
        c.alpha_pattern[k] = v.get<double>();
      }
    }
  }
  c.task_type = f.string_or("task_type", "");
  c.base_model_name_or_path = f.string_or("base_model_name_or_path", "");
  return c;
}

nlohmann::json LoraConfig::to_json() const {
  nlohmann::json j;
  j["peft_type"] = "LORA";
  j["task_type"] = task_type.empty() ? nlohmann::json(nullptr) : nlohmann::json(task_type);
  j["base_model_name_or_path"] =
      base_model_name_or_path.empty() ? nlohmann::json(nullptr) : nlohmann::json(base_model_name_or_path);
  j["r"] = r;
  if (lora_alpha == std::floor(lora_alpha)) j["lora_alpha"] = static_cast<int64_t>(lora_alpha);
  else j["lora_alpha"] = lora_alpha;
  j["lora_dropout"] = lora_dropout;
  j["use_rslora"] = use_rslora;
  j["use_dora"] = false;
  j["lora_bias"] = false;
  j["fan_in_fan_out"] = false;
  j["bias"] = bias;
  j["target_modules"] = names_or_regex_json(target_modules, target_modules_regex);
  j["exclude_modules"] = names_or_regex_json(exclude_modules, exclude_modules_regex);
  j["modules_to_save"] = modules_to_save.empty() ? nlohmann::json(nullptr) : nlohmann::json(modules_to_save);
  j["layers_to_transform"] = layers_to_transform.empty() ? nlohmann::json(nullptr) : nlohmann::json(layers_to_transform);
  j["layers_pattern"] = layers_pattern.empty() ? nlohmann::json(nullptr) : nlohmann::json(layers_pattern);
  j["rank_pattern"] = rank_pattern;
  j["alpha_pattern"] = alpha_pattern;
  j["inference_mode"] = true;
  j["init_lora_weights"] = true;
  return j;
}

PeftAdapter load_adapter(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw IoError(fmt::format("{}: not a directory (expected a PEFT adapter directory)", dir));
  const fs::path config_path = fs::path(dir) / "adapter_config.json";
  if (!fs::exists(config_path, ec)) {
    throw IoError(fmt::format("{}: no adapter_config.json (a PEFT adapter directory holds adapter_config.json and "
                              "adapter_model.safetensors)",
                              dir));
  }
  PeftAdapter a;
  a.dir = dir;
  a.config = LoraConfig::from_json(core::read_json_file(config_path.string()), config_path.string());
  const fs::path weights = fs::path(dir) / "adapter_model.safetensors";
  if (!fs::exists(weights, ec)) {
    if (fs::exists(fs::path(dir) / "adapter_model.bin", ec)) {
      throw UnsupportedModel(io::pickle_only_message(dir, "adapter_model.bin"));
    }
    throw IoError(fmt::format("{}: no adapter_model.safetensors", dir));
  }
  auto ckpt = io::Checkpoint::open(weights.string());
  for (const auto& name : ckpt.names()) {
    if (name.rfind(kKeyPrefix, 0) != 0) {
      throw InvalidArgument(
          fmt::format("{}: tensor '{}' does not start with '{}' (not a PEFT adapter file)", weights.string(), name, kKeyPrefix));
    }
    if (name.find(".lora_") != std::string::npos && !ends_with(name, kLoraA) && !ends_with(name, kLoraB)) {
      throw UnsupportedModel(fmt::format(
          "{}: tensor '{}' belongs to a LoRA variant xling does not implement (only lora_A.weight / lora_B.weight of "
          "Linear layers)",
          weights.string(), name));
    }
    a.tensors[name] = layers::tensor_from_view(ckpt.at(name), ckpt.owner(name));
  }
  return a;
}

std::string base_model_prefix(const torch::nn::Module& model) {
  if (const auto* bert = dynamic_cast<const BertTaskModelImpl*>(&model)) {
    return bert->head == BertHead::kNone ? bert->prefix : "";
  }
  return "";
}

ApplyReport apply_adapter(torch::nn::Module& model, const PeftAdapter& adapter, const std::string& prefix) {
  const LoraConfig& cfg = adapter.config;
  const std::string file = (fs::path(adapter.dir) / "adapter_model.safetensors").string();
  const std::string config_file = (fs::path(adapter.dir) / "adapter_config.json").string();
  const std::string own_prefix = prefix.empty() ? "" : prefix + ".";
  // HF name <-> xling module/parameter name.
  auto hf_name = [&](const std::string& own) {
    return !own_prefix.empty() && own.rfind(own_prefix, 0) == 0 ? own.substr(own_prefix.size()) : own;
  };

  // Validate everything first: a failed apply leaves the model as it was.
  std::map<std::string, std::shared_ptr<torch::nn::Module>> modules;  // by HF name
  std::set<std::string> linear_suffixes;
  for (const auto& item : model.named_modules()) {
    if (item.key().empty() || ends_with(item.key(), ".lora_A") || ends_with(item.key(), ".lora_B")) continue;
    modules[hf_name(item.key())] = item.value();
    if (item.value()->as<layers::LinearImpl>()) linear_suffixes.insert(item.key().substr(item.key().rfind('.') + 1));
  }
  struct LoraPlan {
    std::string name;
    layers::LinearImpl* linear;
    torch::Tensor a, b;
    double scaling;
  };
  std::vector<LoraPlan> lora;
  std::set<std::string> lora_keys;
  for (const auto& [name, module] : modules) {
    if (!cfg.targets(name)) continue;
    auto* linear = module->as<layers::LinearImpl>();
    if (!linear) {
      throw InvalidArgument(fmt::format("{}: target_modules selects '{}', which is not a Linear layer (LoRA applies to "
                                        "Linear layers only)",
                                        config_file, name));
    }
    const std::string ka = kKeyPrefix + name + kLoraA, kb = kKeyPrefix + name + kLoraB;
    for (const auto& k : {ka, kb}) {
      if (!adapter.tensors.count(k)) {
        throw InvalidArgument(fmt::format("{}: no tensor '{}' for the target module '{}'", file, k, name));
      }
    }
    const auto& a = adapter.tensors.at(ka);
    const auto& b = adapter.tensors.at(kb);
    const int64_t r = cfg.rank(name), out = linear->weight.size(0), in = linear->weight.size(1);
    if (a.sizes() != at::IntArrayRef{r, in}) {
      throw InvalidArgument(fmt::format("{}: tensor '{}' has shape {}, expected [{}, {}] (r, in_features of '{}')", file, ka,
                                        shape_str(a.sizes()), r, in, name));
    }
    if (b.sizes() != at::IntArrayRef{out, r}) {
      throw InvalidArgument(fmt::format("{}: tensor '{}' has shape {}, expected [{}, {}] (out_features of '{}', r)", file,
                                        kb, shape_str(b.sizes()), out, r, name));
    }
    lora_keys.insert(ka);
    lora_keys.insert(kb);
    lora.push_back({name, linear, a, b, cfg.scaling(name)});
  }
  if (lora.empty()) {
    throw InvalidArgument(fmt::format("{}: target_modules {} match no module of the model (its Linear layers are named {})",
                                      config_file,
                                      cfg.target_modules_regex ? "'" + *cfg.target_modules_regex + "'"
                                                               : fmt::format("[{}]", fmt::join(cfg.target_modules, ", ")),
                                      fmt::join(linear_suffixes, ", ")));
  }

  std::map<std::string, torch::Tensor> params;  // by HF name, LoRA excluded
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    if (item.key().find(".lora_A.") != std::string::npos || item.key().find(".lora_B.") != std::string::npos) continue;
    params[hf_name(item.key())] = item.value();
  }
  struct ReplacePlan {
    std::string name;
    torch::Tensor param, value;
  };
  std::vector<ReplacePlan> replace;
  for (const auto& [key, t] : adapter.tensors) {
    if (lora_keys.count(key)) continue;
    const std::string name = key.substr(std::string(kKeyPrefix).size());
    if (ends_with(key, kLoraA) || ends_with(key, kLoraB)) {
      const std::string module = name.substr(0, name.size() - std::string(kLoraA).size());
      throw InvalidArgument(fmt::format("{}: tensor '{}': {}", file, key,
                                        modules.count(module) ? fmt::format("'{}' is not selected by target_modules in {}",
                                                                            module, config_file)
                                                              : fmt::format("the model has no module '{}'", module)));
    }
    auto it = params.find(name);
    if (it == params.end()) {
      throw InvalidArgument(fmt::format("{}: tensor '{}' names no parameter of the model ('{}')", file, key, name));
    }
    if (t.sizes() != it->second.sizes()) {
      throw InvalidArgument(fmt::format("{}: tensor '{}' has shape {}, the model's '{}' has {}", file, key,
                                        shape_str(t.sizes()), name, shape_str(it->second.sizes())));
    }
    replace.push_back({name, it->second, t});
  }

  // Copies, not views of the adapter's mapping: training one model must not change another
  // that applied the same adapter.
  torch::NoGradGuard no_grad;
  ApplyReport report;
  for (auto& p : lora) {
    const auto opts = p.linear->weight.options();
    p.linear->set_lora(p.a.to(opts, /*non_blocking=*/false, /*copy=*/true),
                       p.b.to(opts, /*non_blocking=*/false, /*copy=*/true), p.scaling);
    report.lora_modules.push_back(p.name);
  }
  for (auto& p : replace) {
    p.param.set_data(p.value.to(p.param.options(), /*non_blocking=*/false, /*copy=*/true));
    report.replaced.push_back(p.name);
  }
  return report;
}

ApplyReport apply_adapter(LoadedModel& model, const PeftAdapter& adapter) {
  return apply_adapter(*model.module, adapter, base_model_prefix(*model.module));
}

int merge_adapter(torch::nn::Module& model) {
  int merged = 0;
  for (const auto& m : model.modules()) {
    auto* linear = m->as<layers::LinearImpl>();
    if (!linear || !linear->has_lora()) continue;
    linear->merge_lora();
    ++merged;
  }
  return merged;
}

void save_adapter(const std::string& dir, torch::nn::Module& model, const LoraConfig& config, const std::string& prefix) {
  const std::string own_prefix = prefix.empty() ? "" : prefix + ".";
  auto hf_name = [&](const std::string& own) {
    return !own_prefix.empty() && own.rfind(own_prefix, 0) == 0 ? own.substr(own_prefix.size()) : own;
  };
  std::map<std::string, torch::Tensor> out;  // file key -> tensor
  for (const auto& item : model.named_modules()) {
    auto* linear = item.value()->as<layers::LinearImpl>();
    if (!linear || !linear->has_lora()) continue;
    const std::string name = hf_name(item.key());
    out[kKeyPrefix + name + kLoraA] = linear->lora_A;
    out[kKeyPrefix + name + kLoraB] = linear->lora_B;
  }
  if (out.empty()) throw InvalidArgument(fmt::format("{}: the model has no LoRA layers to save", dir));
  for (const auto& item : model.named_modules()) {
    const std::string name = hf_name(item.key());
    if (item.key().empty() || !matches_suffix(name, config.modules_to_save)) continue;
    for (const auto& p : item.value()->named_parameters(/*recurse=*/true)) {
      if (p.key().find("lora_A.") != std::string::npos || p.key().find("lora_B.") != std::string::npos) continue;
      out[kKeyPrefix + name + "." + p.key()] = p.value();
    }
  }
  std::vector<torch::Tensor> keep;
  std::vector<io::TensorToWrite> tensors;
  keep.reserve(out.size());
  for (const auto& [key, t] : out) {
    keep.push_back(t.detach().to(torch::kCPU).contiguous());
    const auto& c = keep.back();
    tensors.push_back({key, to_dtype(c.scalar_type(), key), c.sizes().vec(), c.data_ptr(), static_cast<std::size_t>(c.nbytes())});
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw IoError(fmt::format("{}: cannot create the directory: {}", dir, ec.message()));
  io::write_safetensors((fs::path(dir) / "adapter_model.safetensors").string(), std::move(tensors), {{"format", "pt"}});
  core::write_file_atomic((fs::path(dir) / "adapter_config.json").string(), config.to_json().dump(2) + "\n");
}

}  // namespace xling::models
