// Atomic file replacement (see atomic_file.hpp).
#include "core/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include <fmt/format.h>

#include "xling/errors.hpp"

namespace xling::core {

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  std::filesystem::path target(path_);
  std::string name = target.filename().string();
  if (name.empty()) throw IoError(fmt::format("{}: not a file name", path_));
  std::filesystem::path dir = target.has_parent_path() ? target.parent_path() : ".";
  std::string templ = (dir / ("." + name + ".tmp.XXXXXX")).string();
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  fd_ = ::mkstemp(buf.data());
  if (fd_ < 0) {
    throw IoError(fmt::format("{}: cannot create a file in '{}': {}", path_, dir.string(), std::strerror(errno)));
  }
  temp_path_.assign(buf.data());
  ::fchmod(fd_, 0644);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
}

void AtomicFile::write(const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd_, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw IoError(fmt::format("{}: write failed: {}", path_, std::strerror(errno)));
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

void AtomicFile::commit() {
  if (::fsync(fd_) != 0) throw IoError(fmt::format("{}: fsync failed: {}", path_, std::strerror(errno)));
  if (::close(fd_) != 0) {
    fd_ = -1;
    throw IoError(fmt::format("{}: close failed: {}", path_, std::strerror(errno)));
  }
  fd_ = -1;
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    throw IoError(fmt::format("{}: cannot replace: {}", path_, std::strerror(errno)));
  }
  committed_ = true;
  std::filesystem::path target(path_);
  std::string dir = target.has_parent_path() ? target.parent_path().string() : ".";
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);  // best effort: makes the rename durable
    ::close(dfd);
  }
}

void write_file_atomic(const std::string& path, std::string_view contents) {
  AtomicFile file(path);
  file.write(contents);
  file.commit();
}

}  // namespace xling::core
