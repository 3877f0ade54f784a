// Atomic file replacement: write to a temp file in the target's folder, fsync, rename
// over the target, fsync the folder. Readers see the old file or the complete new one,
// never a partial write; a failure (or an exception before commit) leaves the target alone.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace xling::core {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);  // creates the temp file; throws IoError
  ~AtomicFile();                          // removes the temp file unless committed
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, std::size_t size);  // throws IoError on short write
  void write(std::string_view text) { write(text.data(), text.size()); }
  void commit();  // fsync + rename + fsync(dir); throws IoError

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  bool committed_ = false;
};

// Convenience: atomically replace `path` with `contents`.
void write_file_atomic(const std::string& path, std::string_view contents);

}  // namespace xling::core
