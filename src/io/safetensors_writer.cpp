// Deterministic atomic safetensors writer (see safetensors_writer.hpp).
#include "io/safetensors_writer.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/atomic_file.hpp"
#include "xling/errors.hpp"

namespace xling::io {

std::string encode_safetensors_header(const std::vector<TensorToWrite>& tensors,
                                      const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) {
    nlohmann::json meta = nlohmann::json::object();
    for (const auto& [k, v] : metadata) meta[k] = v;
    header["__metadata__"] = std::move(meta);
  }
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    if (t.name == "__metadata__") throw InvalidArgument("tensor name '__metadata__' is reserved by safetensors");
    if (!seen.insert(t.name).second) throw InvalidArgument(fmt::format("duplicate tensor name '{}'", t.name));
    uint64_t numel = 1;
    for (int64_t d : t.shape) {
      if (d < 0) throw InvalidArgument(fmt::format("tensor '{}': negative dimension {}", t.name, d));
      numel *= static_cast<uint64_t>(d);
    }
    if (numel * dtype_size(t.dtype) != t.nbytes) {
      throw InvalidArgument(fmt::format("tensor '{}': {} elements of {} need {} bytes, got {}", t.name, numel,
                                        dtype_name(t.dtype), numel * dtype_size(t.dtype), t.nbytes));
    }
    header[t.name] = {{"dtype", std::string(dtype_name(t.dtype))},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.nbytes}}};
    offset += t.nbytes;
  }
  std::string json = header.dump();  // std::map-backed: keys sorted, output deterministic
  json.append((8 - json.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  out += json;
  return out;
}

void sort_for_layout(std::vector<TensorToWrite>& tensors) {
  std::stable_sort(tensors.begin(), tensors.end(), [](const TensorToWrite& a, const TensorToWrite& b) {
    std::size_t sa = dtype_size(a.dtype), sb = dtype_size(b.dtype);
    return sa != sb ? sa > sb : a.name < b.name;
  });
}

void write_safetensors(std::ostream& out, std::vector<TensorToWrite> tensors,
                       const std::map<std::string, std::string>& metadata) {
  sort_for_layout(tensors);
  std::string header = encode_safetensors_header(tensors, metadata);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  for (const auto& t : tensors) {
    if (t.nbytes > 0) out.write(static_cast<const char*>(t.data), static_cast<std::streamsize>(t.nbytes));
  }
  out.flush();
  if (!out) throw IoError("write to output stream failed");
}

void write_safetensors(const std::string& path, std::vector<TensorToWrite> tensors,
                       const std::map<std::string, std::string>& metadata) {
  sort_for_layout(tensors);
  std::string header = encode_safetensors_header(tensors, metadata);
  core::AtomicFile file(path);
  file.write(header);
  for (const auto& t : tensors) {
    if (t.nbytes > 0) file.write(t.data, t.nbytes);
  }
  file.commit();
}

}  // namespace xling::io
