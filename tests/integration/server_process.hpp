// A running `xling serve` for integration tests: started with --port 0, stderr polled for the
// port and "ready"; the destructor sends SIGTERM and waits. Plus post_json over cpp-httplib.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "../unit/test_util.hpp"

namespace xling::testing {

// A running `xling serve`; stderr goes to a file that the constructor polls for the port and
// "ready" (or only the port, with wait_ready false). The destructor sends SIGTERM and waits.
class ServerProcess {
 public:
  explicit ServerProcess(std::vector<std::string> args, bool wait_ready = true) {
    log_ = scratch_.file("serve.log");
    args.insert(args.begin(), {XLING_BIN, "--threads", "2", "serve", "--port", "0"});
    pid_ = fork();
    if (pid_ == 0) {
      FILE* f = std::freopen(log_.c_str(), "w", stderr);
      (void)f;
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(XLING_BIN, argv.data());
      _exit(127);
    }
    poll(wait_ready);
  }
  // Waits (up to 120 s) for "ready"; false when the server exited or never got there.
  bool wait_ready() { return poll(/*until_ready=*/true); }
  ~ServerProcess() {
    if (!exited_) stop();
  }
  // SIGTERM, wait; returns the exit code.
  int stop() {
    if (exited_) return exit_code_;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    exited_ = true;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return exit_code_;
  }
  bool running() const { return !exited_ && port_ > 0; }
  int port() const { return port_; }
  int exit_code() const { return exit_code_; }
  std::string log() const { return read_bytes(log_); }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    return c;
  }

 private:
  bool poll(bool until_ready) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    std::regex listening(R"(listening on http://[^:]+:(\d+))");
    while (std::chrono::steady_clock::now() < until) {
      std::string text = log();
      std::smatch m;
      if (port_ == 0 && std::regex_search(text, m, listening)) port_ = std::stoi(m[1]);
      if (text.find("xling serve: ready") != std::string::npos) return true;
      if (!until_ready && port_ > 0) return false;
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  ScratchDir scratch_;
  std::string log_;
  pid_t pid_ = -1;
  int port_ = 0;
  bool exited_ = false;
  int exit_code_ = -1;
};

// POSTs `body`; returns the parsed JSON (discarded on a parse error) and sets *status (-1: no
// response).
inline nlohmann::json post_json(httplib::Client& c, const std::string& path, const std::string& body, int* status) {
  auto r = c.Post(path, body, "application/json");
  if (!r) {
    *status = -1;
    return nlohmann::json();
  }
  *status = r->status;
  return nlohmann::json::parse(r->body, nullptr, /*allow_exceptions=*/false);
}

}  // namespace xling::testing
