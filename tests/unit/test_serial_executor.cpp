// The server's single model thread (serve/serial_executor.hpp).
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "serve/serial_executor.hpp"

namespace xling::serve {
namespace {

TEST(SerialExecutor, RunsEveryCallersWorkOnOneThreadOneAtATime) {
  SerialExecutor ex;
  std::mutex mu;
  std::set<std::thread::id> ran_on;
  std::atomic<int> running{0}, overlaps{0}, done{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 8; ++c) {
    callers.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        ex.run([&] {
          if (running.fetch_add(1) != 0) overlaps.fetch_add(1);
          {
            std::lock_guard<std::mutex> lock(mu);
            ran_on.insert(std::this_thread::get_id());
          }
          running.fetch_sub(1);
          done.fetch_add(1);
        });
      }
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(done.load(), 400);
  EXPECT_EQ(overlaps.load(), 0);
  ASSERT_EQ(ran_on.size(), 1u);
  EXPECT_NE(*ran_on.begin(), std::this_thread::get_id());
}

TEST(SerialExecutor, RethrowsToTheCallerAndKeepsRunning) {
  SerialExecutor ex;
  EXPECT_THROW(ex.run([] { throw std::runtime_error("model failed"); }), std::runtime_error);
  int x = 0;
  ex.run([&] { x = 7; });
  EXPECT_EQ(x, 7);
  // Work submitted from the executor's own thread runs inline instead of deadlocking.
  ex.run([&] { ex.run([&] { x = 9; }); });
  EXPECT_EQ(x, 9);
}

}  // namespace
}  // namespace xling::serve
