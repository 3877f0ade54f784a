// Shared CLI plumbing (see common.hpp).
#include "cli/common.hpp"

#include <filesystem>
#include <iostream>

#include "core/atomic_file.hpp"

namespace xling::cli {

TextOutput::TextOutput(std::string path) : path_(std::move(path)) {}

std::ostream& TextOutput::stream() { return path_ == "-" ? std::cout : buffer_; }

void TextOutput::commit() {
  if (path_ == "-") {
    std::cout.flush();
    return;
  }
  core::write_file_atomic(path_, buffer_.str());
}

const CLI::Validator kExistingPath(
    [](std::string& path) -> std::string {
      std::error_code ec;
      if (path == "-" || std::filesystem::exists(path, ec)) return {};
      return "no such file or directory: " + path;
    },
    "PATH");

}  // namespace xling::cli
