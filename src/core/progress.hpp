// A progress bar with rate and ETA on stderr, for long jobs. Silent when stderr is not a
// terminal or when disabled (--quiet), so logs and CI output stay clean.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace xling::core {

class Progress {
 public:
  Progress(std::string label, std::size_t total, bool enabled = true);
  ~Progress();  // finishes the line
  void advance(std::size_t n = 1);
  void set_label(std::string label);

 private:
  void draw(bool final);
  std::string label_;
  std::size_t total_, done_ = 0;
  bool enabled_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace xling::core
