// The single model thread of a server (see serial_executor.hpp).
#include "serve/serial_executor.hpp"

namespace xling::serve {

SerialExecutor::SerialExecutor() : thread_([this] { loop(); }) {}

SerialExecutor::~SerialExecutor() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void SerialExecutor::run(const std::function<void()>& fn) {
  if (std::this_thread::get_id() == thread_.get_id()) {  // nested: already on the model thread
    fn();
    return;
  }
  std::packaged_task<void()> task(fn);
  auto done = task.get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
  done.get();
}

void SerialExecutor::loop() {
  for (;;) {
    std::packaged_task<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

}  // namespace xling::serve
