// One thread that runs every model of a server, one batch at a time. Each model's batcher
// has its own thread for queueing, but the forward passes go through here: with one thread
// per model, every thread that ran a model would own an OpenMP team, and libgomp, seeing
// more threads than cores, stops spinning between parallel regions (measured on 2 cores with
// two models in use: 1.55x slower batches). On a CPU the models share the cores anyway.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

namespace xling::serve {

class SerialExecutor {
 public:
  SerialExecutor();
  ~SerialExecutor();  // runs what was queued, then joins
  SerialExecutor(const SerialExecutor&) = delete;
  SerialExecutor& operator=(const SerialExecutor&) = delete;

  // Runs `fn` on the executor's thread and returns when it has run; its exception is rethrown
  // here. Callers from many threads are served in arrival order.
  void run(const std::function<void()>& fn);

 private:
  void loop();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::packaged_task<void()>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace xling::serve
