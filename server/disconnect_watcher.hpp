// Notices clients that closed their connection while their request waits in the service, so
// that its queued work is dropped (serve::Batcher's cancel flag). cpp-httplib 0.11 gives a
// handler no handle on its socket, so a watcher thread finds the socket by its peer address
// (/proc/self/fd + getpeername, once per waiting request) and peeks at it: a read of 0 bytes
// means the peer sent FIN. Only requests that have waited `min_age` are looked at, so quick
// requests cost one list insertion.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace xling::server {

class DisconnectWatcher {
 public:
  struct Entry {
    std::string remote_addr;
    int remote_port = 0, local_port = 0;
    std::shared_ptr<std::atomic<bool>> cancelled;
    std::chrono::steady_clock::time_point since;
    int fd = -1;              // found on the first look
    bool searched = false;    // looked for once already
  };

  // Unregisters its request when destroyed (before the handler returns and httplib closes the
  // socket, so a socket number is never confused with a later connection's).
  class Registration {
   public:
    Registration(DisconnectWatcher* w, std::list<Entry>::iterator it) : watcher_(w), it_(it) {}
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;
    ~Registration();

   private:
    DisconnectWatcher* watcher_;
    std::list<Entry>::iterator it_;
  };

  explicit DisconnectWatcher(std::chrono::milliseconds period = std::chrono::milliseconds(50),
                             std::chrono::milliseconds min_age = std::chrono::milliseconds(50));
  ~DisconnectWatcher();
  DisconnectWatcher(const DisconnectWatcher&) = delete;
  DisconnectWatcher& operator=(const DisconnectWatcher&) = delete;

  std::unique_ptr<Registration> watch(const std::string& remote_addr, int remote_port, int local_port,
                                      std::shared_ptr<std::atomic<bool>> cancelled);

 private:
  void loop();
  void look();

  std::chrono::milliseconds period_, min_age_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::list<Entry> entries_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace xling::server
