// `xling forward`: run a model class on named input tensors and write HF's named outputs --
// the parity tool (compare with `xling diff --mask-key attention_mask`).
#include <algorithm>
#include <iostream>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include "cli/common.hpp"
#include "io/model_location.hpp"
#include "io/checkpoint.hpp"
#include "io/config.hpp"
#include "io/safetensors_writer.hpp"
#include "layers/weights.hpp"
#include "models/peft.hpp"
#include "models/registry.hpp"
#include "train/trainer.hpp"
#include "xling/errors.hpp"

namespace xling::cli {
namespace {

struct ForwardOptions {
  std::string model, inputs, output, cls, adapter, dtype = "f32", device = "cpu";
  bool merge = false;
};

int run_forward(const ForwardOptions& opt) {
  if (opt.merge && opt.adapter.empty()) throw InvalidArgument("--merge needs --adapter DIR");
  std::optional<models::PeftAdapter> adapter;
  if (!opt.adapter.empty()) adapter = models::load_adapter(opt.adapter);
  models::LoadedModel m = models::load_model(opt.model, [&] {
    auto o = models::LoadOptions::with_dtype(models::parse_compute_dtype(opt.dtype), models::parse_device(opt.device));
    o.architecture = opt.cls;
    if (adapter) {
      // PEFT's flow: the base model in the adapter's task class, whose head (modules_to_save)
      // comes from the adapter; weights in neither are an error below.
      o.strict = false;
      const auto& task = adapter->config.task_type;
      if (o.architecture.empty() && (task == "SEQ_CLS" || task == "TOKEN_CLS")) {
        auto cfg = io::load_config_any(opt.model);
        if (!cfg->architectures.empty()) {
          o.architecture = train::head_architecture(cfg->architectures.front(),
                                                    task == "SEQ_CLS" ? train::Task::kSeqCls : train::Task::kTokenCls);
        }
      }
    }
    return o;
  }());
  if (adapter) {
    models::ApplyReport applied = models::apply_adapter(m, *adapter);
    std::vector<std::string> absent;
    for (const auto& name : m.report.initialized) {
      if (std::find(applied.replaced.begin(), applied.replaced.end(), name) == applied.replaced.end()) absent.push_back(name);
    }
    if (!absent.empty()) {
      throw InvalidArgument(fmt::format("{} ({}) and the adapter {} together lack: {}", opt.model, m.architecture,
                                        opt.adapter, fmt::join(absent, ", ")));
    }
    const int merged = opt.merge ? models::merge_adapter(*m.module) : 0;
    std::cerr << fmt::format("xling forward: adapter {}: {} parameters added, LoRA on {} modules{}, {} replaced\n",
                             opt.adapter, applied.added.size(), applied.lora_modules.size(),
                             opt.merge ? fmt::format(" ({} merged)", merged) : "", applied.replaced.size());
  }
  auto in = io::Checkpoint::open(opt.inputs);
  models::NamedTensors inputs;
  for (const char* name : {"input_ids", "attention_mask", "token_type_ids", "labels", "decoder_input_ids"}) {
    if (const io::TensorView* v = in.find(name)) {
      if (is_floating(v->dtype)) {
        throw InvalidArgument(fmt::format("{}: '{}' must be an integer tensor, found {}", opt.inputs, name, dtype_name(v->dtype)));
      }
      inputs[name] = layers::tensor_from_view(*v, in.owner(name)).to(torch::kLong);
    }
  }
  models::NamedTensors out;
  {
    torch::InferenceMode guard;
    out = m.forward(inputs);
  }
  std::vector<torch::Tensor> keep;
  std::vector<io::TensorToWrite> tensors;
  for (auto& [name, t] : out) {
    keep.push_back(t.to(torch::kCPU, torch::kFloat32).contiguous());
    const auto& c = keep.back();
    tensors.push_back({name, DType::kF32, c.sizes().vec(), c.data_ptr(), static_cast<std::size_t>(c.nbytes())});
  }
  io::write_safetensors(opt.output, tensors, {{"architecture", m.architecture}, {"producer", "xling forward"}});
  std::cerr << fmt::format("xling forward: {} -> {} tensors in {}\n", m.architecture, tensors.size(), opt.output);
  return kExitOk;
}

}  // namespace

void add_forward_command(CLI::App& app, CommandList& commands) {
  auto opt = std::make_shared<ForwardOptions>();
  CLI::App* sub = app.add_subcommand(
      "forward",
      "Run a model on named input tensors and write HF's named outputs: hidden_states.N (0 = embedding output), "
      "last_hidden_state, pooler_output, logits, loss; encoder-decoder models: encoder_hidden_states.N, "
      "decoder_hidden_states.N, encoder_last_hidden_state, logits, loss. Inputs: input_ids, attention_mask, "
      "token_type_ids, labels (seq2seq: decoder inputs are labels shifted right as in HF), decoder_input_ids "
      "(other tensors in the file, e.g. a golden's outputs, are ignored). The parity tool: compare with `xling diff`.");
  sub->add_option("--model,-m", opt->model, "Model directory (config.json + weights)")->required();
  sub->add_option("--inputs,-i", opt->inputs, ".safetensors file with the input tensors")->required();
  sub->add_option("--output,-o", opt->output, ".safetensors file to write")->required();
  sub->add_option("--class", opt->cls, "HF class to run (default: config.json architectures[0])");
  add_compute_options(sub, opt->device, opt->dtype);
  sub->add_option("--adapter", opt->adapter, "Adapter directory to apply (adapter_config.json + adapter_model.safetensors): PEFT LoRA or "
                  "prompt tuning, or xling bottleneck adapters");
  sub->add_flag("--merge", opt->merge, "Fold the adapter into the base weights before running (needs --adapter)");
  commands.push_back({sub, [opt]() {
    opt->model = io::resolve_model(opt->model);  // a path, or a shipped model's name
    return run_forward(*opt);
  }});
}

}  // namespace xling::cli
