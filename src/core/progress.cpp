// Progress bar (see progress.hpp).
#include "core/progress.hpp"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

namespace xling::core {

Progress::Progress(std::string label, std::size_t total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled && ::isatty(STDERR_FILENO)),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {
  if (enabled_) draw(false);
}

Progress::~Progress() {
  if (enabled_) draw(true);
}

void Progress::advance(std::size_t n) {
  done_ += n;
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ > std::chrono::milliseconds(100) || done_ >= total_) {
    last_draw_ = now;
    draw(false);
  }
}

void Progress::set_label(std::string label) { label_ = std::move(label); }

void Progress::draw(bool final) {
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double frac = total_ ? static_cast<double>(done_) / static_cast<double>(total_) : 1.0;
  int width = 28;
  int filled = static_cast<int>(frac * width);
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.append(static_cast<std::size_t>(width - filled), '.');
  std::string eta = "--";
  if (done_ > 0 && done_ < total_) {
    double left = elapsed / static_cast<double>(done_) * static_cast<double>(total_ - done_);
    eta = fmt::format("{}:{:02}", static_cast<int>(left) / 60, static_cast<int>(left) % 60);
  }
  std::fprintf(stderr, "\r%s [%s] %zu/%zu %3.0f%% %s %s", label_.c_str(), bar.c_str(), done_, total_, frac * 100,
               final ? fmt::format("{:.1f}s", elapsed).c_str() : ("ETA " + eta).c_str(), final ? "\n" : "   ");
  std::fflush(stderr);
}

}  // namespace xling::core
