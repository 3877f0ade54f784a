// How inputs are cut into forward passes (tasks/batching.hpp): within the budget, every input
// exactly once, in order, and cheaper than greedy filling when lengths are mixed.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "tasks/batching.hpp"

namespace xling::tasks {
namespace {

std::size_t cost(const std::vector<std::size_t>& lengths, const std::vector<std::size_t>& ends, std::size_t pass_cost) {
  std::size_t total = 0, start = 0;
  for (auto end : ends) {
    total += pass_cost + std::max<std::size_t>(1, lengths[start]) * (end - start);
    start = end;
  }
  return total;
}

TEST(PlanPasses, CoversEveryInputWithinTheBudget) {
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    std::vector<std::size_t> lengths(1 + rng() % 300);
    for (auto& l : lengths) l = rng() % 200;
    std::sort(lengths.rbegin(), lengths.rend());
    const std::size_t budget = 64 + rng() % 2000;
    auto ends = plan_passes(lengths, budget, rng() % 100);
    ASSERT_FALSE(ends.empty());
    EXPECT_EQ(ends.back(), lengths.size());
    std::size_t start = 0;
    for (auto end : ends) {
      ASSERT_GT(end, start);
      const std::size_t rows = end - start, longest = std::max<std::size_t>(1, lengths[start]);
      EXPECT_TRUE(rows == 1 || rows * longest <= budget) << rows << " x " << longest << " > " << budget;
      start = end;
    }
  }
}

TEST(PlanPasses, NeverCostsMoreThanGreedyFilling) {
  std::mt19937 rng(11);
  for (int round = 0; round < 50; ++round) {
    std::vector<std::size_t> lengths(2 + rng() % 100);
    for (auto& l : lengths) l = 3 + rng() % 120;
    std::sort(lengths.rbegin(), lengths.rend());
    const std::size_t budget = 1024, pass_cost = 32;
    std::vector<std::size_t> greedy;
    for (std::size_t s = 0; s < lengths.size();) {
      s = std::min(lengths.size(), s + std::max<std::size_t>(1, budget / lengths[s]));
      greedy.push_back(s);
    }
    EXPECT_LE(cost(lengths, plan_passes(lengths, budget, pass_cost), pass_cost), cost(lengths, greedy, pass_cost));
  }
  // One long input among short ones gets its own pass instead of padding the others.
  std::vector<std::size_t> mixed{120, 10, 10, 10, 10, 10, 10, 10};
  EXPECT_EQ(plan_passes(mixed, 1024, 32), (std::vector<std::size_t>{1, 8}));
  // Equal lengths fill the budget.
  std::vector<std::size_t> same(100, 16);
  EXPECT_EQ(plan_passes(same, 512, 32), (std::vector<std::size_t>{32, 64, 96, 100}));
}

TEST(PlanPasses, HandlesEmptyAndOversizedInputs) {
  EXPECT_TRUE(plan_passes({}, 1024, 32).empty());
  // Longer than the budget: one input per pass.
  EXPECT_EQ(plan_passes({5000, 3000, 10}, 1024, 32), (std::vector<std::size_t>{1, 2, 3}));
  // Zero-length inputs count as one token.
  EXPECT_EQ(plan_passes({0, 0, 0}, 2, 0).back(), 3u);
}

}  // namespace
}  // namespace xling::tasks
