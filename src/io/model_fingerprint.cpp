#include "io/model_fingerprint.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "core/sha256.hpp"
#include "xling/errors.hpp"

namespace fs = std::filesystem;

namespace xling::io {
namespace {

bool defines_model(const fs::path& rel) {
  static const std::array<const char*, 6> kExt = {".json", ".safetensors", ".bin", ".model", ".txt", ".spm"};
  auto ext = rel.extension().string();
  if (std::find(kExt.begin(), kExt.end(), ext) == kExt.end()) return false;
  for (const auto& part : rel.parent_path()) {
    auto p = part.string();
    if (p == "eval" || p == "training" || p == "runs" || p.rfind("checkpoint-", 0) == 0 || p.rfind('.', 0) == 0) return false;
  }
  auto name = rel.filename().string();
  return name != "trainer_state.json" && name != "training_args.json" && name.rfind("results", 0) != 0;
}

void hash_range(core::Sha256& h, int fd, uint64_t offset, uint64_t n, const std::string& path) {
  std::vector<char> buf(static_cast<std::size_t>(n));
  uint64_t done = 0;
  while (done < n) {
    auto r = ::pread(fd, buf.data() + done, static_cast<std::size_t>(n - done), static_cast<off_t>(offset + done));
    if (r <= 0) throw IoError(fmt::format("{}: read failed while fingerprinting the model", path));
    done += static_cast<uint64_t>(r);
  }
  h.update(buf.data(), buf.size());
}

}  // namespace

std::string model_fingerprint(const std::string& dir) {
  if (!fs::is_directory(dir)) throw IoError(fmt::format("{}: not a model directory", dir));
  std::vector<fs::path> files;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
    if (it.depth() > 2) {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    auto rel = fs::relative(it->path(), dir);
    if (defines_model(rel)) files.push_back(rel);
  }
  if (files.empty()) throw IoError(fmt::format("{}: no model files (config.json, weights) to fingerprint", dir));
  std::sort(files.begin(), files.end());
  core::Sha256 h;
  constexpr uint64_t kWhole = 1 << 20, kEdge = 64 << 10, kSample = 4 << 10, kSamples = 256;
  for (const auto& rel : files) {
    auto path = (fs::path(dir) / rel).string();
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw IoError(fmt::format("{}: cannot open for fingerprinting", path));
    uint64_t size = static_cast<uint64_t>(fs::file_size(path));
    h.update(fmt::format("{}\n{}\n", rel.generic_string(), size));
    try {
      if (size <= kWhole) {
        hash_range(h, fd, 0, size, path);
      } else {
        hash_range(h, fd, 0, kEdge, path);
        uint64_t span = size - 2 * kEdge - kSample;
        for (uint64_t i = 0; i < kSamples; ++i) hash_range(h, fd, kEdge + span * i / (kSamples - 1), kSample, path);
        hash_range(h, fd, size - kEdge, kEdge, path);
      }
    } catch (...) {
      ::close(fd);
      throw;
    }
    ::close(fd);
  }
  auto d = h.digest();
  std::string hex = "sha256:";
  for (auto b : d) hex += fmt::format("{:02x}", b);
  return hex;
}

}  // namespace xling::io
