// Zero-copy reader for the safetensors format: an 8-byte little-endian header length, a
// JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {..}},
// then the tensor bytes. The file is mmapped; TensorView::data points into the mapping.
// Every rule the reference implementation enforces is checked before any tensor is used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "xling/dtype.hpp"

namespace xling::io {

// Largest header accepted (the reference implementation's limit).
inline constexpr uint64_t kMaxSafetensorsHeader = 100'000'000;

struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;        // empty = scalar
  const std::byte* data = nullptr;   // into the mapping; nullptr when nbytes == 0
  std::size_t nbytes = 0;
  uint64_t offset = 0;               // byte offset inside the data section

  int64_t numel() const;
  std::string shape_string() const;  // "[2, 3]"
};

class SafeTensorsFile {
 public:
  // mmaps and validates `path`. Throws IoError naming the path and the fault.
  static SafeTensorsFile open(const std::string& path);
  // Validates a buffer already in memory. `owner` keeps `data` alive (may be null when the
  // caller guarantees the lifetime); `source` names the buffer in errors.
  static SafeTensorsFile parse(std::shared_ptr<const void> owner, const std::byte* data, std::size_t size,
                               const std::string& source);

  const std::string& path() const { return path_; }
  const std::vector<TensorView>& tensors() const { return tensors_; }  // in file order
  const TensorView* find(std::string_view name) const;
  const TensorView& at(std::string_view name) const;  // throws IoError naming file + tensor
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  uint64_t header_size() const { return header_size_; }
  uint64_t file_size() const { return file_size_; }
  // Keeps the mapping alive; hand it to anything that keeps a TensorView::data pointer.
  const std::shared_ptr<const void>& owner() const { return owner_; }

 private:
  std::string path_;
  std::shared_ptr<const void> owner_;
  std::vector<TensorView> tensors_;
  std::unordered_map<std::string, std::size_t> index_;
  std::map<std::string, std::string> metadata_;
  uint64_t header_size_ = 0;
  uint64_t file_size_ = 0;
};

}  // namespace xling::io
