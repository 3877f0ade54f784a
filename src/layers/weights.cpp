// Zero-copy torch views of checkpoint tensors (see weights.hpp).
#include "layers/weights.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "xling/errors.hpp"

namespace xling::layers {

torch::ScalarType to_scalar_type(DType dtype) {
  switch (dtype) {
    case DType::kF64: return torch::kFloat64;
    case DType::kF32: return torch::kFloat32;
    case DType::kF16: return torch::kFloat16;
    case DType::kBF16: return torch::kBFloat16;
    case DType::kF8E4M3: return torch::kFloat8_e4m3fn;
    case DType::kF8E5M2: return torch::kFloat8_e5m2;
    case DType::kI64: return torch::kInt64;
    case DType::kI32: return torch::kInt32;
    case DType::kI16: return torch::kInt16;
    case DType::kI8: return torch::kInt8;
    case DType::kU8: return torch::kUInt8;
    case DType::kU16: return torch::kUInt16;
    case DType::kU32: return torch::kUInt32;
    case DType::kU64: return torch::kUInt64;
    case DType::kBool: return torch::kBool;
  }
  throw UnsupportedModel(fmt::format("dtype {} has no torch equivalent", dtype_name(dtype)));
}

torch::Tensor tensor_from_view(const io::TensorView& view, std::shared_ptr<const void> owner, bool* copied) {
  auto options = torch::TensorOptions().dtype(to_scalar_type(view.dtype)).device(torch::kCPU);
  if (copied) *copied = false;
  if (view.nbytes == 0) return torch::empty(view.shape, options);
  auto address = reinterpret_cast<std::uintptr_t>(view.data);
  if (address % dtype_size(view.dtype) != 0) {
    // A conforming writer never produces this, but the format allows it: copy once.
    if (copied) *copied = true;
    torch::Tensor out = torch::empty(view.shape, options);
    std::memcpy(out.data_ptr(), view.data, view.nbytes);
    return out;
  }
  auto* keep = new std::shared_ptr<const void>(std::move(owner));
  // from_blob wants a mutable pointer; the mapping is MAP_PRIVATE + writable (COW).
  void* data = const_cast<std::byte*>(view.data);
  return torch::from_blob(
      data, view.shape, [keep](void*) { delete keep; }, options);
}

torch::Tensor load_tensor(const io::Checkpoint& ckpt, const std::vector<std::string>& aliases,
                          const std::vector<int64_t>& expected_shape) {
  const io::TensorView& view = ckpt.resolve(aliases);
  if (!expected_shape.empty() && view.shape != expected_shape) {
    throw IoError(fmt::format("{}: tensor '{}' has shape {}, the config implies [{}]", ckpt.path(), view.name,
                              view.shape_string(), fmt::join(expected_shape, ", ")));
  }
  return tensor_from_view(view, ckpt.owner(view.name));
}

}  // namespace xling::layers
