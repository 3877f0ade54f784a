// Client-disconnect detection for `xling serve` (see disconnect_watcher.hpp).
#include "server/disconnect_watcher.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdlib>
#include <vector>

namespace xling::server {
namespace {

// The peer and local ports and the peer address of a connected socket; false for anything else.
bool socket_ends(int fd, std::string* addr, int* port, int* local_port) {
  sockaddr_storage peer{}, local{};
  socklen_t n = sizeof peer, m = sizeof local;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &n) != 0) return false;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &m) != 0) return false;
  char buf[INET6_ADDRSTRLEN] = {0};
  if (peer.ss_family == AF_INET) {
    const auto* p = reinterpret_cast<const sockaddr_in*>(&peer);
    inet_ntop(AF_INET, &p->sin_addr, buf, sizeof buf);
    *port = ntohs(p->sin_port);
    *local_port = ntohs(reinterpret_cast<const sockaddr_in*>(&local)->sin_port);
  } else if (peer.ss_family == AF_INET6) {
    const auto* p = reinterpret_cast<const sockaddr_in6*>(&peer);
    inet_ntop(AF_INET6, &p->sin6_addr, buf, sizeof buf);
    *port = ntohs(p->sin6_port);
    *local_port = ntohs(reinterpret_cast<const sockaddr_in6*>(&local)->sin6_port);
  } else {
    return false;
  }
  *addr = buf;
  return true;
}

}  // namespace

DisconnectWatcher::Registration::~Registration() {
  std::lock_guard<std::mutex> lock(watcher_->mutex_);
  watcher_->entries_.erase(it_);
}

DisconnectWatcher::DisconnectWatcher(std::chrono::milliseconds period, std::chrono::milliseconds min_age)
    : period_(period), min_age_(min_age), thread_([this] { loop(); }) {}

DisconnectWatcher::~DisconnectWatcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::unique_ptr<DisconnectWatcher::Registration> DisconnectWatcher::watch(const std::string& remote_addr,
                                                                          int remote_port, int local_port,
                                                                          std::shared_ptr<std::atomic<bool>> cancelled) {
  std::lock_guard<std::mutex> lock(mutex_);
  entries_.push_back({remote_addr, remote_port, local_port, std::move(cancelled), std::chrono::steady_clock::now()});
  return std::make_unique<Registration>(this, std::prev(entries_.end()));
}

void DisconnectWatcher::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    cv_.wait_for(lock, period_);
    if (!stop_) look();
  }
}

// Runs under mutex_: registrations cannot go away (nor their sockets close) meanwhile.
void DisconnectWatcher::look() {
  const auto now = std::chrono::steady_clock::now();
  std::vector<Entry*> unresolved;
  for (auto& e : entries_) {
    if (now - e.since < min_age_ || e.cancelled->load()) continue;
    if (e.fd < 0 && !e.searched) unresolved.push_back(&e);
  }
  if (!unresolved.empty()) {
    if (DIR* d = opendir("/proc/self/fd")) {
      while (dirent* de = readdir(d)) {
        char* end = nullptr;
        const long fd = std::strtol(de->d_name, &end, 10);
        if (end == de->d_name || *end != '\0') continue;
        std::string addr;
        int port = 0, local_port = 0;
        if (!socket_ends(static_cast<int>(fd), &addr, &port, &local_port)) continue;
        for (Entry* e : unresolved) {
          if (e->remote_port == port && e->local_port == local_port && e->remote_addr == addr) e->fd = static_cast<int>(fd);
        }
      }
      closedir(d);
    }
    for (Entry* e : unresolved) e->searched = true;
  }
  for (auto& e : entries_) {
    if (e.fd < 0 || e.cancelled->load()) continue;
    char c;
    if (recv(e.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0) e.cancelled->store(true);  // the peer sent FIN
  }
}

}  // namespace xling::server
