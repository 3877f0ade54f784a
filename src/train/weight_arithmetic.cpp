// Weight arithmetic (see weight_arithmetic.hpp).
#include "train/weight_arithmetic.hpp"

#include <filesystem>
#include <functional>

#include <fmt/format.h>
#include <torch/torch.h>

#include "io/checkpoint.hpp"
#include "io/safetensors_writer.hpp"
#include "layers/weights.hpp"
#include "xling/errors.hpp"

namespace fs = std::filesystem;

namespace xling::train {
namespace {

void check_same(const io::Checkpoint& a, const io::Checkpoint& b, const std::string& an, const std::string& bn) {
  std::vector<std::string> problems;
  for (const auto& n : a.names()) {
    const io::TensorView* v = b.find(n);
    if (!v) problems.push_back(fmt::format("'{}' missing in {}", n, bn));
    else if (v->shape != a.at(n).shape || v->dtype != a.at(n).dtype) {
      problems.push_back(fmt::format("'{}' is {} {} in {} but {} {} in {}", n, dtype_name(a.at(n).dtype),
                                     a.at(n).shape_string(), an, dtype_name(v->dtype), v->shape_string(), bn));
    }
    if (problems.size() >= 5) break;
  }
  for (const auto& n : b.names()) {
    if (problems.size() >= 5) break;
    if (!a.find(n)) problems.push_back(fmt::format("'{}' missing in {}", n, an));
  }
  if (!problems.empty()) {
    std::string msg = fmt::format("{} and {} do not hold the same tensors: ", an, bn);
    for (std::size_t i = 0; i < problems.size(); ++i) msg += (i ? "; " : "") + problems[i];
    throw InvalidArgument(msg);
  }
}

// Writes output/model.safetensors from fn(name) -> tensor (in the first checkpoint's order and
// dtypes), then copies every other non-weight file of `like`.
void write_dir(const std::string& output, const std::string& like, const io::Checkpoint& first,
               const std::function<torch::Tensor(const std::string&)>& fn) {
  fs::create_directories(output);
  std::vector<torch::Tensor> keep;
  std::vector<io::TensorToWrite> out;
  const auto names = first.names();
  keep.reserve(names.size());
  for (const auto& n : names) {
    const auto& v = first.at(n);
    keep.push_back(fn(n).to(layers::to_scalar_type(v.dtype)).contiguous());
    out.push_back({n, v.dtype, v.shape, keep.back().data_ptr(), static_cast<std::size_t>(keep.back().nbytes())});
  }
  io::write_safetensors((fs::path(output) / "model.safetensors").string(), out, {{"format", "pt"}});
  if (fs::is_directory(like)) {
    for (const auto& e : fs::directory_iterator(like)) {
      const auto name = e.path().filename().string();
      if (!e.is_regular_file() || name.find(".safetensors") != std::string::npos || name.ends_with(".bin")) continue;
      if (fs::absolute(e.path()) != fs::absolute(fs::path(output) / name)) {
        fs::copy_file(e.path(), fs::path(output) / name, fs::copy_options::overwrite_existing);
      }
    }
  }
}

torch::Tensor load64(const io::Checkpoint& c, const std::string& n) {
  return layers::tensor_from_view(c.at(n), c.owner(n)).to(torch::kFloat64);
}

}  // namespace

void average_checkpoints(const std::vector<std::string>& inputs, const std::string& output) {
  if (inputs.size() < 2) throw InvalidArgument("average: give at least two checkpoints");
  std::vector<io::Checkpoint> ckpts;
  for (const auto& p : inputs) ckpts.push_back(io::Checkpoint::open(p));
  for (std::size_t i = 1; i < ckpts.size(); ++i) check_same(ckpts[0], ckpts[i], inputs[0], inputs[i]);
  torch::NoGradGuard ng;
  write_dir(output, inputs[0], ckpts[0], [&](const std::string& n) {
    if (!is_floating(ckpts[0].at(n).dtype)) return layers::tensor_from_view(ckpts[0].at(n), ckpts[0].owner(n));
    auto sum = load64(ckpts[0], n);
    for (std::size_t i = 1; i < ckpts.size(); ++i) sum += load64(ckpts[i], n);
    return sum / static_cast<double>(ckpts.size());
  });
}

void merge_checkpoints(const std::string& base, const std::string& plus, const std::string& minus, double scale,
                       const std::string& output) {
  auto b = io::Checkpoint::open(base), p = io::Checkpoint::open(plus), m = io::Checkpoint::open(minus);
  check_same(b, p, base, plus);
  check_same(b, m, base, minus);
  torch::NoGradGuard ng;
  write_dir(output, base, b, [&](const std::string& n) {
    if (!is_floating(b.at(n).dtype)) return layers::tensor_from_view(b.at(n), b.owner(n));
    return load64(b, n) + scale * (load64(p, n) - load64(m, n));
  });
}

}  // namespace xling::train
