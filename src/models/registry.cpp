// Architecture registry and weight loading (see registry.hpp).
#include "models/registry.hpp"

#include <filesystem>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/mapped_file.hpp"
#include "io/bert_config.hpp"
#include "io/decoder_config.hpp"
#include "io/seq2seq_config.hpp"
#include "layers/modules.hpp"
#include "layers/torch_runtime.hpp"
#include "layers/weights.hpp"
#include "models/bart.hpp"
#include "models/bert.hpp"
#include "models/bloom.hpp"
#include "models/decoder.hpp"
#include "models/t5.hpp"
#include "xling/errors.hpp"

namespace xling::models {

std::vector<std::string> supported_architectures() {
  auto out = bert_architectures();
  for (auto& a : bart_architectures()) out.push_back(a);
  for (auto& a : t5_architectures()) out.push_back(a);
  for (auto& a : decoder_architectures()) out.push_back(a);
  for (auto& a : bloom_architectures()) out.push_back(a);
  return out;
}

torch::Device parse_device(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
    if (!layers::cuda_available()) {
      throw InvalidArgument(fmt::format("device '{}': {}", name,
                                        layers::cuda_built() ? "no CUDA device is visible on this machine"
                                                             : "this xling was built without CUDA (cmake -DXLING_TORCH_CUDA=ON)"));
    }
    try {
      return torch::Device(name);
    } catch (const c10::Error&) {
      throw InvalidArgument(fmt::format("device '{}' is not cpu, cuda or cuda:N", name));
    }
  }
  throw InvalidArgument(fmt::format("device '{}' is not cpu, cuda or cuda:N", name));
}

torch::ScalarType parse_compute_dtype(const std::string& name) {
  if (name == "f32" || name == "float32" || name == "fp32") return torch::kFloat32;
  if (name == "bf16" || name == "bfloat16") return torch::kBFloat16;
  if (name == "f16" || name == "float16" || name == "fp16") return torch::kFloat16;
  throw InvalidArgument(fmt::format("dtype '{}' is not one of f32, bf16, f16", name));
}

namespace {

// `src` (a zero-copy view of `view`) converted to `dtype`, 16 MB of source rows at a time,
// giving each converted slice's pages back to the kernel: peak memory is the converted
// model plus one slice, not the source and the converted model together.
torch::Tensor convert_releasing(const torch::Tensor& src, const io::TensorView& view, torch::ScalarType dtype) {
  torch::Tensor out = torch::empty(src.sizes(), src.options().dtype(dtype));
  if (src.dim() == 0 || src.size(0) == 0) {
    out.copy_(src);
    return out;
  }
  const std::size_t row_bytes = view.nbytes / static_cast<std::size_t>(src.size(0));
  const int64_t chunk = std::max<int64_t>(1, static_cast<int64_t>((16u << 20) / std::max<std::size_t>(row_bytes, 1)));
  for (int64_t r = 0; r < src.size(0); r += chunk) {
    const int64_t n = std::min(chunk, src.size(0) - r);
    out.narrow(0, r, n).copy_(src.narrow(0, r, n));
    core::MappedFile::drop_pages(view.data + static_cast<std::size_t>(r) * row_bytes, static_cast<std::size_t>(n) * row_bytes);
  }
  return out;
}

}  // namespace

LoadReport load_weights(torch::nn::Module& module, const io::Checkpoint& ckpt, const std::string& prefix,
                        const std::vector<std::string>& tied, bool strict, torch::ScalarType dtype,
                        const std::map<std::string, std::vector<std::string>>& fallbacks) {
  LoadReport report;
  std::set<std::string> used;
  std::vector<std::string> missing;
  torch::NoGradGuard no_grad;
  for (auto& item : module.named_parameters(/*recurse=*/true)) {
    const std::string& name = item.key();
    torch::Tensor& param = item.value();
    std::vector<std::string> candidates = {name};
    if (!prefix.empty() && name.rfind(prefix + ".", 0) == 0) candidates.push_back(name.substr(prefix.size() + 1));
    if (auto fb = fallbacks.find(name); fb != fallbacks.end()) {
      candidates.insert(candidates.end(), fb->second.begin(), fb->second.end());
    }
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
    const auto want = t.is_floating_point() ? dtype : param.scalar_type();
    if (t.scalar_type() != want) t = convert_releasing(t, *view, want);
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

namespace {

// Shared tail of load_model: weights (or HF-style init), dtype, device and the forward closure.
template <typename ModuleImpl>
void finish_loading(LoadedModel& m, std::shared_ptr<ModuleImpl> mod, const std::string& dir, const std::string& prefix,
                    const std::vector<std::string>& tied, const std::map<std::string, std::vector<std::string>>& fallbacks,
                    double init_std, const LoadOptions& options) {
  mod->eval();
  if (options.random_init) {
    for (const auto& p : mod->named_parameters()) m.report.initialized.push_back(p.key());
  } else {
    auto ckpt = io::Checkpoint::open(dir);
    m.report = load_weights(*mod, ckpt, prefix, tied, options.strict, options.dtype, fallbacks);
  }
  if (!m.report.initialized.empty()) layers::init_hf_style(*mod, m.report.initialized, init_std, options.init_seed);
  torch::NoGradGuard no_grad;
  for (auto& p : mod->parameters()) {
    if (p.is_floating_point() && p.scalar_type() != options.dtype) p.set_data(p.to(options.dtype));
  }
  if (options.device != torch::kCPU) {
    for (auto& p : mod->parameters()) p.set_data(p.to(options.device));
  }
  m.device = options.device;
  m.module = mod;
  const torch::Device device = options.device;
  m.forward = [mod, device](const NamedTensors& in) {
    if (device == torch::kCPU) return mod->forward(in);
    NamedTensors moved;
    for (const auto& [k, v] : in) moved[k] = v.defined() ? v.to(device, /*non_blocking=*/true) : v;
    return mod->forward(moved);
  };
}

}  // namespace

LoadedModel load_model(const std::string& dir, const LoadOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(fs::path(dir) / "config.json", ec)) throw IoError(fmt::format("{}: no config.json in this directory", dir));
  LoadedModel m;
  m.config = io::load_config_any(dir);
  if (!options.labels.empty()) {
    m.config->id2label.clear();
    for (std::size_t i = 0; i < options.labels.size(); ++i) m.config->id2label[static_cast<int64_t>(i)] = options.labels[i];
    m.config->num_labels = static_cast<int64_t>(options.labels.size());
  }
  if (!options.problem_type.empty()) m.config->problem_type = options.problem_type;
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
      std::vector<std::string> tied = {"cls.predictions.decoder.weight", "cls.predictions.decoder.bias",
                                       "lm_head.decoder.weight", "lm_head.decoder.bias"};
      finish_loading(m, model->ptr(), dir, (*model)->prefix, tied, {}, bert->initializer_range, options);
      return m;
    }
  }
  if (auto* bart = dynamic_cast<io::BartConfig*>(m.config.get())) {
    if (auto model = make_bart_model(*bart, arch)) {
      // Older saves keep model.shared only under an alias; any of them fills the shared table.
      std::map<std::string, std::vector<std::string>> fallbacks = {
          {"model.shared.weight", {"model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight"}}};
      finish_loading(m, model->ptr(), dir, "", bart_tied_aliases(*bart), fallbacks, bart->init_std, options);
      return m;
    }
  }
  if (auto* t5 = dynamic_cast<io::T5Config*>(m.config.get())) {
    // Which embeddings have their own weights depends on the checkpoint (transformers 5 ties
    // what is absent).
    models::T5Layout layout;
    std::optional<io::Checkpoint> ckpt;
    if (!options.random_init) {
      ckpt = io::Checkpoint::open(dir);
      layout.own_encoder_embed = ckpt->find("encoder.embed_tokens.weight") && ckpt->find("shared.weight");
      layout.own_decoder_embed = ckpt->find("decoder.embed_tokens.weight") && ckpt->find("shared.weight");
      layout.own_lm_head = ckpt->find("lm_head.weight") != nullptr;
    }
    if (auto model = make_t5_model(*t5, arch, layout)) {
      std::map<std::string, std::vector<std::string>> fallbacks = {
          {"shared.weight", {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight"}}};
      std::vector<std::string> tied = {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight",
                                       "decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight"};
      if ((*model)->encoder_only) {
        tied.push_back("lm_head.weight");
        for (const auto& n : ckpt ? ckpt->names() : std::vector<std::string>{}) {
          if (n.rfind("decoder.", 0) == 0) tied.push_back(n);  // a full checkpoint read as its encoder
        }
      }
      finish_loading(m, model->ptr(), dir, "", tied, fallbacks, t5->initializer_factor, options);
      return m;
    }
  }
  // Decoder-only LLMs: checkpoints saved from the base class (no "model." / "transformer."
  // prefix) load too; a tied head's saved alias is ignored.
  if (auto* dec = dynamic_cast<io::DecoderConfig*>(m.config.get())) {
    if (auto model = make_decoder_model(*dec, arch)) {
      std::vector<std::string> tied;
      if (dec->tie_word_embeddings) tied.push_back("lm_head.weight");
      finish_loading(m, model->ptr(), dir, "model", tied, {}, dec->initializer_range, options);
      return m;
    }
  }
  if (auto* bloom = dynamic_cast<io::BloomConfig*>(m.config.get())) {
    if (auto model = make_bloom_model(*bloom, arch)) {
      std::vector<std::string> tied;
      if (bloom->tie_word_embeddings) tied.push_back("lm_head.weight");
      finish_loading(m, model->ptr(), dir, "transformer", tied, {}, bloom->initializer_range, options);
      return m;
    }
  }
  throw UnsupportedModel(fmt::format("{}: architecture '{}' (model_type '{}') is not supported; supported: {}", dir, arch,
                                     m.config->model_type, fmt::join(supported, ", ")));
}

}  // namespace xling::models
