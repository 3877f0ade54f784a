// `xling convert`: rewrite a checkpoint (single file or shards) as one safetensors file,
// optionally casting floating tensors to f32/f16/bf16 (round to nearest even, as torch).
#include <iostream>
#include <map>

#include <fmt/format.h>

#include "cli/common.hpp"
#include "core/format.hpp"
#include "core/half.hpp"
#include "io/checkpoint.hpp"
#include "io/safetensors_writer.hpp"
#include "io/tensor_values.hpp"
#include "xling/errors.hpp"

namespace xling::cli {
namespace {

struct ConvertOptions {
  std::string model;
  std::string output;
  std::string dtype = "keep";
  std::vector<std::string> metadata;
};

std::vector<std::byte> cast(const io::TensorView& t, DType to) {
  std::size_t n = static_cast<std::size_t>(t.numel());
  std::vector<std::byte> out(n * dtype_size(to));
  for (std::size_t i = 0; i < n; ++i) {
    float v = static_cast<float>(io::value_at(t, i));
    if (to == DType::kF32) {
      std::memcpy(out.data() + 4 * i, &v, 4);
    } else {
      uint16_t h = to == DType::kF16 ? core::f32_to_f16(v) : core::f32_to_bf16(v);
      std::memcpy(out.data() + 2 * i, &h, 2);
    }
  }
  return out;
}

int run_convert(const ConvertOptions& opt) {
  std::optional<DType> target;
  if (opt.dtype == "f32") target = DType::kF32;
  else if (opt.dtype == "f16") target = DType::kF16;
  else if (opt.dtype == "bf16") target = DType::kBF16;

  auto ckpt = io::Checkpoint::open(opt.model);
  std::map<std::string, std::string> metadata = ckpt.metadata();
  for (const auto& kv : opt.metadata) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw InvalidArgument(fmt::format("--metadata '{}': expected KEY=VALUE", kv));
    }
    metadata[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  std::vector<std::vector<std::byte>> buffers;  // keeps cast copies alive until written
  std::vector<io::TensorToWrite> tensors;
  std::size_t cast_count = 0;
  for (const auto& name : ckpt.names()) {
    const auto& t = ckpt.at(name);
    io::TensorToWrite w{name, t.dtype, t.shape, t.data, t.nbytes};
    bool castable = t.dtype == DType::kF32 || t.dtype == DType::kF16 || t.dtype == DType::kBF16 ||
                    t.dtype == DType::kF64;
    if (target && castable && t.dtype != *target) {
      buffers.push_back(cast(t, *target));
      w.dtype = *target;
      w.data = buffers.back().data();
      w.nbytes = buffers.back().size();
      ++cast_count;
    }
    tensors.push_back(std::move(w));
  }
  if (opt.output == "-") {
    io::write_safetensors(std::cout, tensors, metadata);
  } else {
    io::write_safetensors(opt.output, tensors, metadata);
  }
  std::cerr << fmt::format("xling convert: wrote {} tensors ({} cast to {}) from {} to {}\n", tensors.size(),
                           cast_count, opt.dtype, opt.model, opt.output);
  return kExitOk;
}

}  // namespace

void add_convert_command(CLI::App& app, CommandList& commands) {
  auto opt = std::make_shared<ConvertOptions>();
  CLI::App* sub = app.add_subcommand(
      "convert",
      "Rewrite a checkpoint (a .safetensors file, or a directory with model.safetensors or sharded "
      "model-0000x-of-0000y.safetensors + index) as one .safetensors file, written atomically with a "
      "deterministic layout. --dtype casts floating-point tensors (integers are kept).");
  sub->add_option("--model,-m", opt->model, "Input .safetensors file or model directory")
      ->required();
  sub->add_option("--output,-o", opt->output, "Output .safetensors file ('-' = stdout)")->required();
  sub->add_option("--dtype", opt->dtype, "Floating-point dtype of the output")
      ->capture_default_str()
      ->check(CLI::IsMember({"keep", "f32", "f16", "bf16"}));
  sub->add_option("--metadata", opt->metadata, "Extra __metadata__ entry KEY=VALUE (repeatable; input metadata is kept)");
  commands.push_back({sub, [opt]() { return run_convert(*opt); }});
}

}  // namespace xling::cli
