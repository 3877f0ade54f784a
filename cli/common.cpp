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

void add_compute_options(CLI::App* sub, std::string& device, std::string& dtype) {
  sub->add_option("--device", device, "Where to run: cpu, cuda or cuda:N (a CUDA build on a GPU machine)")
      ->capture_default_str();
  sub->add_option("--dtype", dtype,
                  "Compute dtype: f32 (exact), bf16 or f16 (fast on CPUs with AMX/AVX512-BF16 and on GPUs; ~1e-2 off)")
      ->capture_default_str();
}

}  // namespace xling::cli
