// Adapter directories (LoRA, prompt tuning, bottleneck): load, apply, merge, save (see peft.hpp).
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
constexpr const char* kPromptKeyPrefix = "base_model.";  // prompt methods: PeftModel.base_model is the HF model
constexpr const char* kPromptKey = "prompt_embeddings";
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

// xling parameter/module name <-> HF name: HF's lack `prefix + "."` (see base_model_prefix).
struct HfNames {
  std::string own_prefix;
  explicit HfNames(const std::string& prefix) : own_prefix(prefix.empty() ? "" : prefix + ".") {}
  std::string operator()(const std::string& own) const {
    return !own_prefix.empty() && own.rfind(own_prefix, 0) == 0 ? own.substr(own_prefix.size()) : own;
  }
};

bool is_lora_name(const std::string& name) {
  return name.find(".lora_A.") != std::string::npos || name.find(".lora_B.") != std::string::npos ||
         name.rfind("lora_A.", 0) == 0 || name.rfind("lora_B.", 0) == 0;
}

// The model's parameters by HF name, LoRA excluded.
std::map<std::string, torch::Tensor> params_by_hf_name(torch::nn::Module& model, const HfNames& hf) {
  std::map<std::string, torch::Tensor> params;
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    if (is_lora_name(item.key())) continue;
    params[hf(item.key())] = item.value();
  }
  return params;
}

struct ReplacePlan {
  std::string name;
  torch::Tensor param, value;
};

// A saved parameter (modules_to_save) that replaces the model's `name`; InvalidArgument naming
// `file` and `key` when the model has no such parameter or its shape differs.
ReplacePlan plan_replace(const std::map<std::string, torch::Tensor>& params, const std::string& file,
                         const std::string& key, const std::string& name, const torch::Tensor& t) {
  auto it = params.find(name);
  if (it == params.end()) {
    throw InvalidArgument(fmt::format("{}: tensor '{}' names no parameter of the model ('{}')", file, key, name));
  }
  if (t.sizes() != it->second.sizes()) {
    throw InvalidArgument(fmt::format("{}: tensor '{}' has shape {}, the model's '{}' has {}", file, key,
                                      shape_str(t.sizes()), name, shape_str(it->second.sizes())));
  }
  return {name, it->second, t};
}

// Copies, not views of the adapter's mapping: training one model must not change another
// that applied the same adapter.
torch::Tensor own_copy(const torch::Tensor& t, const torch::Tensor& like) {
  return t.to(like.options(), /*non_blocking=*/false, /*copy=*/true);
}

void run_replacements(const std::vector<ReplacePlan>& plans, ApplyReport& report) {
  torch::NoGradGuard no_grad;
  for (const auto& p : plans) {
    torch::Tensor param = p.param;
    param.set_data(own_copy(p.value, p.param));
    report.replaced.push_back(p.name);
  }
}

// Every parameter of the modules named in `modules_to_save`, keyed `key_prefix + <HF name>`.
void add_modules_to_save(torch::nn::Module& model, const std::vector<std::string>& modules_to_save, const HfNames& hf,
                         const std::string& key_prefix, std::map<std::string, torch::Tensor>& out) {
  for (const auto& item : model.named_modules()) {
    const std::string name = hf(item.key());
    if (item.key().empty() || !matches_suffix(name, modules_to_save)) continue;
    for (const auto& p : item.value()->named_parameters(/*recurse=*/true)) {
      if (is_lora_name(p.key())) continue;
      out[key_prefix + name + "." + p.key()] = p.value();
    }
  }
}

// An adapter directory's two files (DIR/adapter_model.safetensors, DIR/adapter_config.json).
struct AdapterFiles {
  std::string weights, config;
};
AdapterFiles adapter_files(const std::string& dir) {
  return {(fs::path(dir) / "adapter_model.safetensors").string(), (fs::path(dir) / "adapter_config.json").string()};
}

// DIR/adapter_model.safetensors (tensors on the CPU, as stored) and DIR/adapter_config.json.
void write_adapter_dir(const std::string& dir, const std::map<std::string, torch::Tensor>& out, const nlohmann::json& config) {
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
  const auto files = adapter_files(dir);
  io::write_safetensors(files.weights, std::move(tensors), {{"format", "pt"}});
  core::write_file_atomic(files.config, config.dump(2) + "\n");
}

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
  parse_adapter_base(f, c);
  return c;
}

nlohmann::json LoraConfig::to_json() const {
  nlohmann::json j;
  j["peft_type"] = "LORA";
  write_adapter_base(*this, j);
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
  const std::string config_file = config_path.string();
  const auto json = core::read_json_file(config_file);
  const std::string type = core::JsonFields(json, config_file).string("peft_type");
  if (type == "PROMPT_TUNING") {
    a.type = PeftType::kPromptTuning;
    a.prompt_tuning = PromptTuningConfig::from_json(json, config_file);
    static_cast<AdapterBase&>(a.config) = a.prompt_tuning;
  } else if (type == "BOTTLENECK") {
    a.type = PeftType::kBottleneck;
    a.bottleneck = BottleneckConfig::from_json(json, config_file);
    static_cast<AdapterBase&>(a.config) = a.bottleneck;
  } else if (type == "LORA") {
    a.config = LoraConfig::from_json(json, config_file);
  } else {
    throw UnsupportedModel(fmt::format(
        "{}: peft_type '{}' is not supported; supported: LORA (incl. rsLoRA), PROMPT_TUNING, BOTTLENECK (xling's "
        "bottleneck adapters)",
        config_file, type));
  }
  const fs::path weights = fs::path(dir) / "adapter_model.safetensors";
  if (!fs::exists(weights, ec)) {
    if (fs::exists(fs::path(dir) / "adapter_model.bin", ec)) {
      throw UnsupportedModel(io::pickle_only_message(dir, "adapter_model.bin"));
    }
    throw IoError(fmt::format("{}: no adapter_model.safetensors", dir));
  }
  auto ckpt = io::Checkpoint::open(weights.string());
  const std::string key_prefix = a.type == PeftType::kPromptTuning ? kPromptKeyPrefix : kKeyPrefix;
  for (const auto& name : ckpt.names()) {
    const bool prompt = a.type == PeftType::kPromptTuning && name == kPromptKey;
    if (!prompt && name.rfind(key_prefix, 0) != 0) {
      throw InvalidArgument(fmt::format("{}: tensor '{}' does not start with '{}' (not a PEFT {} adapter file)",
                                        weights.string(), name, key_prefix, type));
    }
    if (name.find(".lora_") != std::string::npos && !ends_with(name, kLoraA) && !ends_with(name, kLoraB)) {
      throw UnsupportedModel(fmt::format(
          "{}: tensor '{}' belongs to a LoRA variant xling does not implement (only lora_A.weight / lora_B.weight of "
          "Linear layers)",
          weights.string(), name));
    }
    a.tensors[name] = layers::tensor_from_view(ckpt.at(name), ckpt.owner(name));
  }
  if (a.type == PeftType::kPromptTuning) {
    const auto& c = a.prompt_tuning;
    auto it = a.tensors.find(kPromptKey);
    if (it == a.tensors.end()) throw InvalidArgument(fmt::format("{}: no tensor '{}'", weights.string(), kPromptKey));
    if (it->second.sizes() != at::IntArrayRef{c.num_virtual_tokens, c.token_dim}) {
      throw InvalidArgument(fmt::format("{}: tensor '{}' has shape {}, expected [{}, {}] (num_virtual_tokens, token_dim "
                                        "in {})",
                                        weights.string(), kPromptKey, shape_str(it->second.sizes()), c.num_virtual_tokens,
                                        c.token_dim, config_file));
    }
  }
  return a;
}

bool is_peft_parameter(const std::string& name) {
  return is_lora_name(name) || name.find(".adapter.") != std::string::npos || name == "prompt_embeddings";
}

std::string base_model_prefix(const torch::nn::Module& model) {
  if (const auto* bert = dynamic_cast<const BertTaskModelImpl*>(&model)) {
    return bert->head == BertHead::kNone ? bert->prefix : "";
  }
  return "";
}

namespace {

ApplyReport apply_lora(torch::nn::Module& model, const PeftAdapter& adapter, const std::string& prefix) {
  const LoraConfig& cfg = adapter.config;
  const auto [file, config_file] = adapter_files(adapter.dir);
  const HfNames hf_name(prefix);

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

  const auto params = params_by_hf_name(model, hf_name);
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
    replace.push_back(plan_replace(params, file, key, name, t));
  }

  torch::NoGradGuard no_grad;
  ApplyReport report;
  for (auto& p : lora) {
    p.linear->set_lora(own_copy(p.a, p.linear->weight), own_copy(p.b, p.linear->weight), p.scaling);
    report.lora_modules.push_back(p.name);
  }
  run_replacements(replace, report);
  return report;
}

ApplyReport apply_prompt_tuning(torch::nn::Module& model, const PeftAdapter& adapter, const std::string& prefix) {
  const PromptTuningConfig& cfg = adapter.prompt_tuning;
  const auto [file, config_file] = adapter_files(adapter.dir);
  auto& bert = as_bert(model, "prompt tuning");
  if (cfg.token_dim != bert.config.hidden_size) {
    throw InvalidArgument(fmt::format("{}: token_dim is {}, the model's hidden_size is {} ({})", config_file, cfg.token_dim,
                                      bert.config.hidden_size, bert.config.source));
  }
  const torch::Tensor& prompt = adapter.tensors.at(kPromptKey);  // shape checked by load_adapter
  const HfNames hf_name(prefix);
  const auto params = params_by_hf_name(model, hf_name);
  std::vector<ReplacePlan> replace;
  for (const auto& [key, t] : adapter.tensors) {
    if (key == kPromptKey) continue;
    replace.push_back(plan_replace(params, file, key, key.substr(std::string(kPromptKeyPrefix).size()), t));
  }
  ApplyReport report;
  {
    torch::NoGradGuard no_grad;
    bert.set_prompt(own_copy(prompt, bert.backbone->embeddings->word_embeddings->weight));
  }
  report.added.push_back(kPromptKey);
  run_replacements(replace, report);
  return report;
}

ApplyReport apply_bottleneck(torch::nn::Module& model, const PeftAdapter& adapter, const std::string& prefix) {
  const BottleneckConfig& cfg = adapter.bottleneck;
  const auto [file, config_file] = adapter_files(adapter.dir);
  const HfNames hf_name(prefix);
  std::map<std::string, std::string> own_by_key;  // file key -> xling parameter name
  for (const auto& [own, shape] : bottleneck_parameter_shapes(model, cfg)) {
    const std::string key = kKeyPrefix + hf_name(own);
    auto it = adapter.tensors.find(key);
    if (it == adapter.tensors.end()) {
      throw InvalidArgument(fmt::format("{}: no tensor '{}' (a {} adapter with reduction_factor {} in {})", file, key,
                                        bottleneck_kind_name(cfg.kind), cfg.reduction_factor, config_file));
    }
    if (it->second.sizes() != at::IntArrayRef(shape)) {
      throw InvalidArgument(fmt::format("{}: tensor '{}' has shape {}, expected {} (reduction_factor {} in {})", file, key,
                                        shape_str(it->second.sizes()), shape_str(shape), cfg.reduction_factor,
                                        config_file));
    }
    own_by_key[key] = own;
  }
  const auto params = params_by_hf_name(model, hf_name);
  std::vector<ReplacePlan> replace;
  for (const auto& [key, t] : adapter.tensors) {
    if (own_by_key.count(key)) continue;
    if (key.find(".adapter.") != std::string::npos) {
      throw InvalidArgument(fmt::format("{}: tensor '{}' is no parameter of a {} adapter of this model ({})", file, key,
                                        bottleneck_kind_name(cfg.kind), config_file));
    }
    replace.push_back(plan_replace(params, file, key, key.substr(std::string(kKeyPrefix).size()), t));
  }
  add_bottleneck_adapters(model, cfg, /*seed=*/0);
  auto own_params = model.named_parameters(/*recurse=*/true);
  ApplyReport report;
  {
    torch::NoGradGuard no_grad;
    for (const auto& [key, own] : own_by_key) {
      torch::Tensor param = own_params[own];
      param.set_data(own_copy(adapter.tensors.at(key), param));
      report.added.push_back(own);
    }
  }
  run_replacements(replace, report);
  return report;
}

}  // namespace

ApplyReport apply_adapter(torch::nn::Module& model, const PeftAdapter& adapter, const std::string& prefix) {
  switch (adapter.type) {
    case PeftType::kLora: return apply_lora(model, adapter, prefix);
    case PeftType::kPromptTuning: return apply_prompt_tuning(model, adapter, prefix);
    case PeftType::kBottleneck: return apply_bottleneck(model, adapter, prefix);
  }
  return {};
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
  const HfNames hf_name(prefix);
  std::map<std::string, torch::Tensor> out;  // file key -> tensor
  for (const auto& item : model.named_modules()) {
    auto* linear = item.value()->as<layers::LinearImpl>();
    if (!linear || !linear->has_lora()) continue;
    const std::string name = hf_name(item.key());
    out[kKeyPrefix + name + kLoraA] = linear->lora_A;
    out[kKeyPrefix + name + kLoraB] = linear->lora_B;
  }
  if (out.empty()) throw InvalidArgument(fmt::format("{}: the model has no LoRA layers to save", dir));
  add_modules_to_save(model, config.modules_to_save, hf_name, kKeyPrefix, out);
  write_adapter_dir(dir, out, config.to_json());
}

void save_adapter(const std::string& dir, torch::nn::Module& model, const PromptTuningConfig& config,
                  const std::string& prefix) {
  auto& bert = as_bert(model, "prompt tuning");
  if (!bert.prompt_embeddings.defined()) {
    throw InvalidArgument(fmt::format("{}: the model has no prompt-tuning embeddings to save", dir));
  }
  PromptTuningConfig c = config;
  const std::pair<const char*, std::pair<int64_t*, int64_t>> fields[] = {
      {"num_virtual_tokens", {&c.num_virtual_tokens, bert.prompt_embeddings.size(0)}},
      {"token_dim", {&c.token_dim, bert.prompt_embeddings.size(1)}},
      {"num_layers", {&c.num_layers, bert.config.num_hidden_layers}},
      {"num_attention_heads", {&c.num_attention_heads, bert.config.num_attention_heads}},
  };
  for (const auto& [key, field] : fields) {
    auto [slot, value] = field;
    if (*slot != 0 && *slot != value) {
      throw InvalidArgument(
          fmt::format("{}: the prompt-tuning config says {} = {}, the model has {}", dir, key, *slot, value));
    }
    *slot = value;
  }
  std::map<std::string, torch::Tensor> out{{kPromptKey, bert.prompt_embeddings}};
  add_modules_to_save(model, c.modules_to_save, HfNames(prefix), kPromptKeyPrefix, out);
  write_adapter_dir(dir, out, c.to_json());
}

void save_adapter(const std::string& dir, torch::nn::Module& model, const BottleneckConfig& config,
                  const std::string& prefix) {
  const HfNames hf_name(prefix);
  const auto expected = bottleneck_parameter_shapes(model, config);
  std::map<std::string, torch::Tensor> out;
  std::set<std::string> seen;
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    if (item.key().find(".adapter.") == std::string::npos) continue;
    auto it = expected.find(item.key());
    if (it == expected.end() || item.value().sizes() != at::IntArrayRef(it->second)) {
      throw InvalidArgument(fmt::format("{}: the model's adapter parameter '{}' {} is not part of a {} adapter with "
                                        "reduction_factor {}",
                                        dir, item.key(), shape_str(item.value().sizes()), bottleneck_kind_name(config.kind),
                                        config.reduction_factor));
    }
    seen.insert(item.key());
    out[kKeyPrefix + hf_name(item.key())] = item.value();
  }
  if (seen.empty()) throw InvalidArgument(fmt::format("{}: the model has no bottleneck adapters to save", dir));
  for (const auto& [own, shape] : expected) {
    if (!seen.count(own)) {
      throw InvalidArgument(fmt::format("{}: the model has no '{}' ({} adapters put one in every layer)", dir, own,
                                        bottleneck_kind_name(config.kind)));
    }
  }
  const io::Activation act = config.activation(dir + ": bottleneck config");
  for (const auto& m : model.modules()) {
    const auto* a = m->as<layers::BottleneckAdapterImpl>();
    if (a && (a->act != act || a->norm_before != (config.kind == BottleneckKind::kPfeiffer))) {
      throw InvalidArgument(fmt::format("{}: the model's adapters are not {} adapters with non_linearity '{}'", dir,
                                        bottleneck_kind_name(config.kind), config.non_linearity));
    }
  }
  add_modules_to_save(model, config.modules_to_save, hf_name, kKeyPrefix, out);
  write_adapter_dir(dir, out, config.to_json());
}

}  // namespace xling::models
