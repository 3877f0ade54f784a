// Read-only view of a whole file through mmap: checkpoints are mapped, never copied.
// The mapping is private and writable (copy-on-write), so a tensor that is later
// modified in place (fine-tuning) copies only the pages it touches and never faults.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace xling::core {

class MappedFile {
 public:
  // Maps `path`; throws IoError naming the path and the OS error. An empty file maps to
  // size() == 0 and data() == nullptr.
  static std::shared_ptr<const MappedFile> open(const std::string& path);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::byte* data() const { return data_; }
  std::size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Gives back the resident pages lying wholly inside [begin, begin + n) of a mapping (they
  // are read again from the file if touched later). For ranges whose data was just
  // converted into another tensor: a bf16 model loaded from an fp32 file then peaks at the
  // converted size plus one tensor instead of both models. Partial pages at either end
  // (shared with neighbouring tensors) are kept. Not for ranges modified in place.
  static void drop_pages(const std::byte* begin, std::size_t n);

 private:
  MappedFile() = default;
  std::string path_;
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace xling::core
