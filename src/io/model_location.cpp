// Model lookup (see model_location.hpp).
#include "io/model_location.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "xling/errors.hpp"

namespace fs = std::filesystem;

namespace xling::io {
namespace {

std::optional<fs::path> binary_dir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return std::nullopt;
  return exe.parent_path();
}

}  // namespace

std::vector<std::string> model_search_dirs() {
  std::vector<fs::path> cands;
  if (const char* env = std::getenv("XLING_MODEL_PATH")) {
    std::string s = env;
    std::size_t start = 0;
    while (start <= s.size()) {
      std::size_t end = s.find(':', start);
      if (end == std::string::npos) end = s.size();
      if (end > start) cands.emplace_back(s.substr(start, end - start));
      start = end + 1;
    }
  }
  if (auto bin = binary_dir()) {
    cands.push_back(*bin / ".." / "share" / "xling" / "models");
    cands.push_back(*bin / ".." / ".." / "models");
  }
#ifdef XLING_SOURCE_DIR
  cands.push_back(fs::path(XLING_SOURCE_DIR) / "models");
#endif
  std::vector<std::string> out;
  for (const auto& c : cands) {
    std::error_code ec;
    if (!fs::is_directory(c, ec)) continue;
    std::string p = fs::weakly_canonical(c, ec).string();
    if (ec) p = c.string();
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  }
  return out;
}

std::optional<std::string> find_shipped_model(const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") return std::nullopt;
  for (const auto& d : model_search_dirs()) {
    std::error_code ec;
    fs::path p = fs::path(d) / name;
    if (fs::is_regular_file(p / "config.json", ec) || fs::is_regular_file(p / "modules.json", ec)) return p.string();
  }
  return std::nullopt;
}

std::string resolve_model(const std::string& spec) {
  const std::string name = spec.empty() ? kDefaultModelName : spec;
  std::error_code ec;
  if (!spec.empty() && fs::exists(spec, ec)) return spec;
  if (auto p = find_shipped_model(name)) return *p;
  auto dirs = model_search_dirs();
  std::string where = dirs.empty() ? "no model folder exists" : fmt::format("searched {}", fmt::join(dirs, ", "));
  if (spec.empty()) {
    throw IoError(fmt::format("no --model given and the default model '{}' was not found ({}); pass --model DIR or set "
                              "XLING_MODEL_PATH", name, where));
  }
  throw IoError(fmt::format("--model {}: no such file or directory, and no shipped model of that name ({})", spec, where));
}

}  // namespace xling::io
