// Helpers shared by the test suites: scratch directories and hand-made safetensors bytes.
#pragma once

#include <sys/wait.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "xling/errors.hpp"

namespace xling::testing {

// A fresh directory under the system temp dir, removed with the object.
class ScratchDir {
 public:
  ScratchDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("xling-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// safetensors bytes from a raw header string and a data section (no validation: tests
// use it to build malformed files).
inline std::string raw_safetensors(const std::string& header, const std::string& data, uint64_t declared_len = UINT64_MAX) {
  uint64_t n = declared_len == UINT64_MAX ? header.size() : declared_len;
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

// The message of the `Exception` `fn` throws ("" and a test failure if it throws none).
template <typename Exception, typename Fn>
std::string message_of(Fn&& fn) {
  try {
    fn();
  } catch (const Exception& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected exception not thrown";
  return "";
}

template <typename Fn>
std::string invalid_argument_message(Fn&& fn) {
  return message_of<xling::InvalidArgument>(std::forward<Fn>(fn));
}

// Runs a shell command line; captures stdout, stderr and the exit code (128 + signal when
// killed by one).
struct CommandResult {
  int code = -1;
  std::string out, err;
};

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

inline CommandResult run_shell(const std::string& command_line) {
  static ScratchDir scratch;
  static int n = 0;
  std::string err_path = scratch.file("stderr" + std::to_string(n++));
  CommandResult r;
  FILE* p = ::popen((command_line + " 2>" + shell_quote(err_path)).c_str(), "r");
  char buf[4096];
  std::size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, got);
  int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.err = read_bytes(err_path);
  return r;
}

// Runs `bin args...` with stdin from a file, capturing stdout, stderr and the exit code.
inline CommandResult run_command(const std::string& bin, const std::vector<std::string>& args,
                                 const std::string& stdin_file = "/dev/null") {
  std::string cmd = shell_quote(bin);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  return run_shell(cmd + " <" + shell_quote(stdin_file));
}

}  // namespace xling::testing
