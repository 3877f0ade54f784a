// Dynamic batcher of serve/: routing under many threads, budgets, lanes, cancellation,
// deadlines, queue limits, failures and shutdown. Deterministic scenarios hold the worker
// inside a batch (a Gate) while the queue is arranged.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "serve/batcher.hpp"
#include "xling/errors.hpp"

using namespace xling::serve;
using namespace std::chrono_literals;

namespace {

struct Item {
  int value = 0;
  std::size_t cost = 1;
  std::string key;
};
using TestBatcher = Batcher<Item, long>;

long f(const Item& item) { return 3L * item.value + 1; }

constexpr int kGateValue = -1;

// Holds the worker inside the batch that contains kGateValue until released.
class Gate {
 public:
  void enter_and_wait() {
    std::unique_lock lock(mutex_);
    entered_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  void wait_entered() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return entered_; });
  }
  void release() {
    std::lock_guard lock(mutex_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool entered_ = false, open_ = false;
};

// Records every batch the function saw, and the stats the hook got.
struct Recorder {
  std::mutex mutex;
  std::vector<std::vector<Item>> batches;
  std::vector<BatchStats> stats;
  std::vector<std::string> stat_keys;
  std::vector<std::size_t> depths;

  std::vector<int> values_seen() {
    std::lock_guard lock(mutex);
    std::vector<int> v;
    for (const auto& b : batches) {
      for (const auto& i : b) v.push_back(i.value);
    }
    return v;
  }
};

TestBatcher::Handlers handlers(Recorder& rec, Gate* gate = nullptr) {
  TestBatcher::Handlers h;
  h.run = [&rec, gate](std::vector<Item>& items) {
    {
      std::lock_guard lock(rec.mutex);
      rec.batches.push_back(items);
    }
    bool has_gate = std::any_of(items.begin(), items.end(), [](const Item& i) { return i.value == kGateValue; });
    if (gate && has_gate) gate->enter_and_wait();
    for (const auto& i : items) {
      if (i.value == 666) throw std::runtime_error("boom on 666");
    }
    std::vector<long> out;
    for (const auto& i : items) out.push_back(f(i));
    return out;
  };
  h.cost = [](const Item& i) { return i.cost; };
  h.on_batch = [&rec](const BatchStats& s) {
    std::lock_guard lock(rec.mutex);
    rec.stats.push_back(s);
    rec.stat_keys.emplace_back(s.key);
  };
  h.on_queue_depth = [&rec](std::size_t n) { rec.depths.push_back(n); };  // called under the batcher's lock
  return h;
}

std::vector<Item> items_of(std::initializer_list<int> values, std::size_t cost = 1, const std::string& key = "") {
  std::vector<Item> v;
  for (int x : values) v.push_back({x, cost, key});
  return v;
}

std::vector<long> expected(const std::vector<Item>& items) {
  std::vector<long> v;
  for (const auto& i : items) v.push_back(f(i));
  return v;
}

// Submits until the batcher answers kShutdown (another thread is shutting it down).
void wait_until_refused(TestBatcher& b) {
  for (;;) {
    auto f = b.submit(items_of({9}));
    if (f.wait_for(0s) == std::future_status::ready && f.get().status == BatchStatus::kShutdown) return;
    std::this_thread::sleep_for(100us);
  }
}

BatcherOptions options(std::size_t tokens, std::size_t items, std::chrono::microseconds wait, std::size_t queue = 4096) {
  BatcherOptions o;
  o.max_batch_tokens = tokens;
  o.max_batch_items = items;
  o.max_wait = wait;
  o.max_queue_items = queue;
  return o;
}

}  // namespace

TEST(ServeBatcher, RoutesResultsInOrder) {
  Recorder rec;
  TestBatcher b(options(100, 8, 0us), handlers(rec));
  auto items = items_of({5, 1, 4, 2, 3});
  auto out = b.submit(items).get();
  ASSERT_TRUE(out.ok()) << out.error;
  EXPECT_EQ(out.results, expected(items));
  auto empty = b.submit({}).get();
  EXPECT_TRUE(empty.ok());
  EXPECT_TRUE(empty.results.empty());
}

TEST(ServeBatcher, ManyThreadsMergeRequestsWithinBudget) {
  constexpr std::size_t kBudget = 200, kMaxItems = 32;
  std::atomic<int> over_budget{0}, unsorted{0}, merged_batches{0}, total_items{0};
  TestBatcher::Handlers h;
  h.run = [&](std::vector<Item>& items) {
    std::size_t tokens = 0;
    for (const auto& i : items) tokens += i.cost;
    if ((items.size() > 1 && tokens > kBudget) || items.size() > kMaxItems) ++over_budget;
    if (!std::is_sorted(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.cost < b.cost; })) {
      ++unsorted;
    }
    total_items += static_cast<int>(items.size());
    std::this_thread::sleep_for(200us);  // let the queue build up behind the model
    std::vector<long> out;
    for (const auto& i : items) out.push_back(f(i));
    return out;
  };
  h.cost = [](const Item& i) { return i.cost; };
  h.on_batch = [&](const BatchStats& s) {
    if (s.requests > 1) ++merged_batches;
  };
  TestBatcher b(options(kBudget, kMaxItems, 1ms), h);

  constexpr int kThreads = 64, kRounds = 3;
  std::atomic<int> failures{0}, submitted{0};
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      for (int round = 0; round < kRounds; ++round) {
        std::vector<Item> items(1 + rng() % 20);
        for (std::size_t i = 0; i < items.size(); ++i) {
          items[i].value = t * 100000 + round * 1000 + static_cast<int>(i);
          items[i].cost = rng() % 50 == 0 ? 300 : 1 + rng() % 40;  // a few exceed the budget alone
        }
        submitted += static_cast<int>(items.size());
        auto out = b.submit(items).get();
        if (!out.ok() || out.results != expected(items)) ++failures;
      }
    });
  }
  for (auto& p : producers) p.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(over_budget.load(), 0);
  EXPECT_EQ(unsorted.load(), 0);
  EXPECT_EQ(total_items.load(), submitted.load());
  EXPECT_GT(merged_batches.load(), 0);
  EXPECT_EQ(b.queued_items(), 0u);
}

TEST(ServeBatcher, SplitsARequestAcrossBatches) {
  Recorder rec;
  TestBatcher b(options(25, 100, 0us), handlers(rec));
  std::vector<Item> items;
  for (int i = 0; i < 10; ++i) items.push_back({i, 10, ""});
  auto out = b.submit(items).get();
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out.results, expected(items));
  b.shutdown();
  ASSERT_EQ(rec.stats.size(), 5u);
  for (const auto& s : rec.stats) {
    EXPECT_EQ(s.items, 2u);
    EXPECT_EQ(s.tokens, 20u);
    EXPECT_EQ(s.requests, 1u);
  }
}

TEST(ServeBatcher, OversizedItemRunsAloneAndFifoIsKept) {
  Recorder rec;
  TestBatcher b(options(50, 100, 0us), handlers(rec));
  std::vector<Item> items{{1, 5, ""}, {2, 100, ""}, {3, 5, ""}};
  auto out = b.submit(items).get();
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out.results, expected(items));
  b.shutdown();
  ASSERT_EQ(rec.stats.size(), 3u);  // [5] | [100] | [5]: the item after 100 does not jump ahead
  EXPECT_EQ(rec.stats[0].tokens, 5u);
  EXPECT_EQ(rec.stats[1].tokens, 100u);
  EXPECT_EQ(rec.stats[2].tokens, 5u);
}

TEST(ServeBatcher, PaddedBudgetCountsMaxCostTimesItems) {
  for (bool padded : {false, true}) {
    Recorder rec;
    Gate gate;
    auto o = options(60, 100, 0us);
    o.padded_budget = padded;
    o.sort_by_cost = false;
    TestBatcher b(o, handlers(rec, &gate));
    auto held = b.submit(items_of({kGateValue}));
    gate.wait_entered();
    std::vector<Item> items{{1, 10, ""}, {2, 30, ""}, {3, 10, ""}};
    auto f1 = b.submit(items);
    gate.release();
    ASSERT_TRUE(f1.get().ok());
    b.shutdown();
    ASSERT_TRUE(held.get().ok());
    std::vector<std::size_t> sizes;
    for (std::size_t i = 1; i < rec.stats.size(); ++i) sizes.push_back(rec.stats[i].items);
    // sum: 10 + 30 + 10 = 50 <= 60, one batch; padded: 30 x 2 = 60 fits, 30 x 3 = 90 does not.
    EXPECT_EQ(sizes, padded ? std::vector<std::size_t>({2, 1}) : std::vector<std::size_t>({3})) << padded;
    if (padded) {
      EXPECT_EQ(rec.stats[1].padded_tokens, 60u);
    }
  }
}

TEST(ServeBatcher, WaitsForMoreItemsUntilMaxWaitOrFull) {
  Recorder rec, rec_full, rec_tokens;
  TestBatcher b(options(1000, 4, 60ms), handlers(rec));
  auto start = BatchClock::now();
  ASSERT_TRUE(b.submit(items_of({1})).get().ok());
  auto waited = BatchClock::now() - start;
  EXPECT_GE(waited, 55ms);  // a lone item waits max_wait for company
  EXPECT_LT(waited, 5s);

  TestBatcher full(options(1000, 4, 60s), handlers(rec_full));
  start = BatchClock::now();
  auto out = full.submit(items_of({1, 2, 3, 4})).get();  // fills max_batch_items: runs at once
  EXPECT_TRUE(out.ok());
  EXPECT_LT(BatchClock::now() - start, 30s);
  TestBatcher tokens(options(10, 100, 60s), handlers(rec_tokens));
  start = BatchClock::now();
  EXPECT_TRUE(tokens.submit(items_of({1, 2}, /*cost=*/5)).get().ok());  // 5 + 5 uses the whole budget
  EXPECT_LT(BatchClock::now() - start, 30s);
  // An item that does not fit beside the waiting one makes the waiting one a full batch; the
  // newcomer then waits for company itself (until shutdown drains it here).
  auto first = tokens.submit(items_of({3}, /*cost=*/6));
  auto second = tokens.submit(items_of({4}, /*cost=*/6));
  EXPECT_TRUE(first.get().ok());
  EXPECT_LT(BatchClock::now() - start, 30s);
  EXPECT_EQ(second.wait_for(0s), std::future_status::timeout);
  tokens.shutdown(/*drain=*/true);
  EXPECT_TRUE(second.get().ok());
}

TEST(ServeBatcher, QueuedRequestsMergeIntoOneBatch) {
  Recorder rec;
  Gate gate;
  TestBatcher b(options(1000, 100, 0us), handlers(rec, &gate));
  auto held = b.submit(items_of({kGateValue}));
  gate.wait_entered();
  auto a = items_of({10, 11});
  auto c = items_of({12});
  auto fa = b.submit(a);
  auto fc = b.submit(c);
  EXPECT_EQ(b.queued_items(), 3u);
  gate.release();
  EXPECT_EQ(fa.get().results, expected(a));
  EXPECT_EQ(fc.get().results, expected(c));
  b.shutdown();
  ASSERT_EQ(rec.stats.size(), 2u);
  EXPECT_EQ(rec.stats[1].items, 3u);
  EXPECT_EQ(rec.stats[1].requests, 2u);
  EXPECT_EQ(rec.stats[1].queue_items, 0u);
  EXPECT_EQ(rec.depths, (std::vector<std::size_t>{1, 0, 2, 3, 0}));
}

TEST(ServeBatcher, QueueFullIsImmediateAndAllOrNothing) {
  Recorder rec;
  Gate gate;
  TestBatcher b(options(1000, 100, 0us, /*queue=*/4), handlers(rec, &gate));
  auto held = b.submit(items_of({kGateValue}));
  gate.wait_entered();
  auto f1 = b.submit(items_of({1, 2, 3}));
  auto refused = b.submit(items_of({4, 5}));
  ASSERT_EQ(refused.wait_for(0s), std::future_status::ready);
  auto r = refused.get();
  EXPECT_EQ(r.status, BatchStatus::kQueueFull);
  EXPECT_NE(r.error.find("3 of 4 items waiting, this request has 2"), std::string::npos) << r.error;
  auto f2 = b.submit(items_of({6}));  // exactly fills the queue
  EXPECT_EQ(b.queued_items(), 4u);
  EXPECT_EQ(b.submit(items_of({7})).get().status, BatchStatus::kQueueFull);
  gate.release();
  EXPECT_TRUE(f1.get().ok());
  EXPECT_TRUE(f2.get().ok());
  auto seen = b.submit(items_of({8})).get();  // room again
  EXPECT_TRUE(seen.ok());
  std::vector<int> values = rec.values_seen();
  EXPECT_EQ(std::count(values.begin(), values.end(), 4), 0);
  EXPECT_EQ(std::count(values.begin(), values.end(), 7), 0);
}

TEST(ServeBatcher, CancelledAndExpiredRequestsAreSkipped) {
  Recorder rec;
  Gate gate;
  TestBatcher b(options(1000, 100, 0us), handlers(rec, &gate));
  auto held = b.submit(items_of({kGateValue}));
  gate.wait_entered();
  auto flag = std::make_shared<std::atomic<bool>>(false);
  auto cancelled = b.submit(items_of({100, 101}), kNoDeadline, flag);
  auto expired = b.submit(items_of({200}), BatchClock::now() + 1ms);
  auto live = b.submit(items_of({300}), BatchClock::now() + 60s, std::make_shared<std::atomic<bool>>(false));
  flag->store(true);
  std::this_thread::sleep_for(5ms);
  gate.release();
  EXPECT_EQ(cancelled.get().status, BatchStatus::kCancelled);
  auto e = expired.get();
  EXPECT_EQ(e.status, BatchStatus::kTimedOut);
  EXPECT_FALSE(e.error.empty());
  auto l = live.get();
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l.results, expected(items_of({300})));
  std::vector<int> values = rec.values_seen();
  for (int v : {100, 101, 200}) EXPECT_EQ(std::count(values.begin(), values.end(), v), 0) << v;
  EXPECT_EQ(b.queued_items(), 0u);
  EXPECT_EQ(batch_status_name(BatchStatus::kCancelled), "cancelled");
  EXPECT_EQ(batch_status_name(BatchStatus::kTimedOut), "timed_out");
}

TEST(ServeBatcher, BatchFunctionErrorsReachEveryRequestInTheBatch) {
  Recorder rec;
  Gate gate;
  TestBatcher b(options(1000, 3, 0us), handlers(rec, &gate));
  auto held = b.submit(items_of({kGateValue}));
  gate.wait_entered();
  auto p = b.submit(items_of({666}));
  auto q = b.submit(items_of({1}));
  auto x = b.submit(items_of({2, 3, 4}));  // 2 shares the failing batch; 3, 4 are then dropped
  auto y = b.submit(items_of({5}));
  gate.release();
  for (auto* fut : {&p, &q, &x}) {
    auto out = fut->get();
    EXPECT_EQ(out.status, BatchStatus::kFailed);
    EXPECT_EQ(out.error, "boom on 666");
  }
  EXPECT_EQ(y.get().results, expected(items_of({5})));  // the worker went on
  std::vector<int> values = rec.values_seen();
  EXPECT_EQ(std::count(values.begin(), values.end(), 3), 0);
  EXPECT_EQ(std::count(values.begin(), values.end(), 4), 0);
  EXPECT_EQ(b.queued_items(), 0u);
  b.shutdown();
  ASSERT_GE(rec.stats.size(), 3u);
  EXPECT_TRUE(rec.stats[1].failed);
  EXPECT_EQ(rec.stats[1].requests, 3u);
  EXPECT_FALSE(rec.stats.back().failed);
}

TEST(ServeBatcher, WrongResultCountAndNonStandardExceptionsFail) {
  TestBatcher::Handlers h;
  h.run = [](std::vector<Item>& items) -> std::vector<long> {
    if (items[0].value == 1) return {};
    if (items[0].value == 2) throw 42;
    return std::vector<long>(items.size(), 7);
  };
  TestBatcher b(options(1000, 100, 0us), h);
  auto wrong = b.submit(items_of({1})).get();
  EXPECT_EQ(wrong.status, BatchStatus::kFailed);
  EXPECT_NE(wrong.error.find("returned 0 results for 1 items"), std::string::npos) << wrong.error;
  auto odd = b.submit(items_of({2})).get();
  EXPECT_EQ(odd.status, BatchStatus::kFailed);
  EXPECT_NE(odd.error.find("non-standard exception"), std::string::npos);
  EXPECT_EQ(b.submit(items_of({3})).get().results, std::vector<long>{7});
}

TEST(ServeBatcher, LanesBatchOnlySameKeyOldestFirst) {
  Recorder rec;
  Gate gate;
  auto h = handlers(rec, &gate);
  h.key = [](const Item& i) { return i.key; };
  TestBatcher b(options(1000, 100, 0us), h);
  auto held = b.submit(items_of({kGateValue}, 1, "gate"));
  gate.wait_entered();
  auto en_fr = b.submit(items_of({1, 2}, 1, "en->fr"));
  auto de_en = b.submit(items_of({3}, 1, "de->en"));
  auto en_fr2 = b.submit(items_of({4}, 1, "en->fr"));
  std::vector<Item> mixed{{5, 1, "de->en"}, {6, 1, "en->fr"}};  // one request over two lanes
  auto mix = b.submit(mixed);
  gate.release();
  EXPECT_EQ(en_fr.get().results, expected(items_of({1, 2})));
  EXPECT_EQ(de_en.get().results, expected(items_of({3})));
  EXPECT_EQ(en_fr2.get().results, expected(items_of({4})));
  EXPECT_EQ(mix.get().results, expected(mixed));
  b.shutdown();
  for (const auto& batch : rec.batches) {
    for (const auto& i : batch) EXPECT_EQ(i.key, batch[0].key);
  }
  // en->fr holds the oldest waiting item, so it runs first, with every en->fr item.
  EXPECT_EQ(rec.stat_keys, (std::vector<std::string>{"gate", "en->fr", "de->en"}));
  EXPECT_EQ(rec.stats[1].items, 4u);
  EXPECT_EQ(rec.stats[1].requests, 3u);
}

TEST(ServeBatcher, ShutdownDrainsQueuedWork) {
  Recorder rec;
  Gate gate;
  TestBatcher b(options(1000, 100, 60s), handlers(rec, &gate));  // max_wait never reached
  auto held = b.submit(items_of({kGateValue}, /*cost=*/1000));  // fills a batch: runs at once
  gate.wait_entered();
  auto a = b.submit(items_of({1}));
  auto c = b.submit(items_of({2, 3, 4}));
  std::thread stopper([&] { b.shutdown(/*drain=*/true); });
  wait_until_refused(b);
  gate.release();
  stopper.join();
  EXPECT_TRUE(held.get().ok());
  EXPECT_EQ(a.get().results, expected(items_of({1})));
  EXPECT_EQ(c.get().results, expected(items_of({2, 3, 4})));
  EXPECT_EQ(b.submit(items_of({5})).get().status, BatchStatus::kShutdown);
  b.shutdown();  // idempotent
}

TEST(ServeBatcher, AbortingShutdownFinishesRunningBatchOnly) {
  Recorder rec;
  Gate gate;
  auto b = std::make_unique<TestBatcher>(options(1000, 100, 0us), handlers(rec, &gate));
  auto held = b->submit(items_of({kGateValue}));
  gate.wait_entered();
  auto queued = b->submit(items_of({1, 2}));
  std::thread stopper([&] { b->shutdown(/*drain=*/false); });
  wait_until_refused(*b);
  gate.release();
  stopper.join();
  EXPECT_TRUE(held.get().ok());
  EXPECT_EQ(queued.get().status, BatchStatus::kShutdown);
  b.reset();
  std::vector<int> values = rec.values_seen();
  EXPECT_EQ(std::count(values.begin(), values.end(), 1), 0);
}

TEST(ServeBatcher, DestructorCompletesPendingFutures) {
  Recorder rec;
  std::future<TestBatcher::Outcome> pending;
  auto start = BatchClock::now();
  {
    TestBatcher b(options(1000, 100, 60s), handlers(rec));  // would wait a minute for company
    pending = b.submit(items_of({1}));
  }
  EXPECT_EQ(pending.get().status, BatchStatus::kShutdown);
  EXPECT_LT(BatchClock::now() - start, 30s);
}

TEST(ServeBatcher, BadOptionsAndThrowingCallbacks) {
  Recorder rec;
  EXPECT_THROW(TestBatcher(options(0, 1, 0us), handlers(rec)), xling::InvalidArgument);
  EXPECT_THROW(TestBatcher(options(1, 0, 0us), handlers(rec)), xling::InvalidArgument);
  EXPECT_THROW(TestBatcher(options(1, 1, 0us, 0), handlers(rec)), xling::InvalidArgument);
  EXPECT_THROW(TestBatcher(options(1, 1, -1us), handlers(rec)), xling::InvalidArgument);
  EXPECT_THROW(TestBatcher(options(1, 1, 0us), TestBatcher::Handlers{}), xling::InvalidArgument);

  auto h = handlers(rec);
  h.cost = [](const Item& i) -> std::size_t {
    if (i.value < 0) throw std::invalid_argument("negative");
    return 1;
  };
  h.on_batch = [](const BatchStats&) { throw std::runtime_error("observer bug"); };
  h.on_queue_depth = [](std::size_t) { throw std::runtime_error("observer bug"); };
  TestBatcher b(options(10, 10, 0us), h);
  EXPECT_THROW(b.submit(items_of({1, -5})), std::invalid_argument);
  EXPECT_EQ(b.queued_items(), 0u);
  EXPECT_EQ(b.submit(items_of({1, 2})).get().results, expected(items_of({1, 2})));
}

TEST(ServeBatcher, MoveOnlyItemsAndResults) {
  using Ptr = std::unique_ptr<int>;
  Batcher<Ptr, Ptr>::Handlers h;
  h.run = [](std::vector<Ptr>& items) {
    std::vector<Ptr> out;
    for (auto& p : items) out.push_back(std::make_unique<int>(*p * 2));
    return out;
  };
  Batcher<Ptr, Ptr> b(options(100, 3, 0us), std::move(h));
  std::vector<Ptr> items;
  for (int i = 0; i < 7; ++i) items.push_back(std::make_unique<int>(i));
  auto out = b.submit(std::move(items)).get();
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out.results.size(), 7u);
  for (int i = 0; i < 7; ++i) EXPECT_EQ(*out.results[i], 2 * i);
}
