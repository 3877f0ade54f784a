// Dynamic batching for `xling serve`: requests submit items (texts, pairs, ...), one worker
// thread per Batcher gathers items of many requests into batches under a token budget, runs
// the batch function and routes each result back to its request and position.
// Independent of torch and HTTP: Item, Result, the batch function and the cost are the
// caller's.
//
// Policy
// - Lanes: items are batched only with items of the same key (BatcherHandlers::key; e.g. a
//   translation's "src->tgt" pair). Without a key function every item is in one lane.
// - A lane is ready when its oldest item has waited max_wait, or when its items fill a batch
//   (the next item would exceed max_batch_tokens, or max_batch_items are waiting). Among ready
//   lanes the one with the oldest item runs first (FIFO across requests and lanes). While no
//   lane is ready the worker sleeps on a condition variable until the earliest max_wait expires
//   or an item arrives.
// - A batch takes items from the front of its lane in arrival order while they fit; the first
//   that does not fit ends the batch (no skipping ahead, so large items do not starve). An item
//   costlier than the whole budget runs alone. Items left behind wait like any other: their
//   max_wait counts from their arrival, so they are usually due when the worker is free again.
// - Items of a request that was cancelled (its flag set: the client went away) or whose
//   deadline passed are dropped when the worker reaches them; the request completes with
//   kCancelled / kTimedOut right then, and results of its items already in a running batch are
//   discarded. Callers that must answer exactly at the deadline wait on the future with
//   wait_until and set the cancel flag themselves.
// - If the batch function throws (or returns the wrong number of results), every request with
//   an item in that batch completes with kFailed and the exception's message; the worker goes on.
// - Admission is all-or-nothing: a request whose items would take the queue past
//   max_queue_items completes at once with kQueueFull (HTTP 429 + Retry-After).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "xling/errors.hpp"

namespace xling::serve {

using BatchClock = std::chrono::steady_clock;
using Deadline = BatchClock::time_point;
inline constexpr Deadline kNoDeadline = Deadline::max();

struct BatcherOptions {
  std::size_t max_batch_tokens = 16384;  // budget per batch, in cost units (tokens); >= 1
  std::size_t max_batch_items = 256;     // >= 1
  std::chrono::microseconds max_wait{std::chrono::milliseconds(2)};  // 0: run what is queued at once
  std::size_t max_queue_items = 4096;    // items waiting (not yet in a batch), all lanes; >= 1
  // false: a batch costs the sum of its items' costs (unpadded kernels, as TEI);
  // true: max(cost) x items, what a padded (B, T) tensor costs.
  bool padded_budget = false;
  // Sort a batch's items by cost before the batch function sees them (less padding);
  // results still go back to their own request and position.
  bool sort_by_cost = true;
};

// Validates the options (InvalidArgument naming the field).
void check_batcher_options(const BatcherOptions& options);

enum class BatchStatus {
  kOk,         // results holds one result per item, in submission order
  kQueueFull,  // refused at submit: the queue is full (HTTP 429)
  kCancelled,  // the cancel flag was set before the items were run
  kTimedOut,   // the deadline passed before the items were run
  kFailed,     // the batch function threw; error holds its message
  kShutdown,   // submitted after shutdown, or still queued at shutdown(/*drain=*/false)
};

// "ok", "queue_full", "cancelled", "timed_out", "failed", "shutdown".
std::string_view batch_status_name(BatchStatus status);

template <class Result>
struct BatchOutcome {
  BatchStatus status = BatchStatus::kOk;
  std::vector<Result> results;  // kOk only
  std::string error;            // why, for every status but kOk
  bool ok() const { return status == BatchStatus::kOk; }
};

// What the worker reports after each batch (BatcherHandlers::on_batch).
struct BatchStats {
  std::string_view key;              // the lane ("" without a key function)
  std::size_t items = 0;             // items in the batch
  std::size_t requests = 0;          // distinct requests they came from
  std::size_t tokens = 0;            // sum of the items' costs
  std::size_t padded_tokens = 0;     // max cost x items
  std::size_t queue_items = 0;       // items still waiting when the batch was taken
  std::chrono::nanoseconds waited{};  // how long the batch's oldest item waited
  std::chrono::nanoseconds run{};     // the batch function's wall time
  bool failed = false;
};

template <class Item, class Result>
struct BatcherHandlers {
  // Runs one batch: returns exactly items.size() results, results[i] for items[i]. May move
  // from the items. Called on the worker thread only, never concurrently.
  std::function<std::vector<Result>(std::vector<Item>& items)> run;
  // An item's cost in the budget's units (its token count). Absent: 1 per item.
  std::function<std::size_t(const Item&)> cost;
  // The lane an item belongs to. Absent: one lane.
  std::function<std::string(const Item&)> key;
  // Observers (metrics). on_batch runs on the worker after each batch; on_queue_depth runs
  // whenever the number of waiting items changes, under the batcher's lock: keep both cheap,
  // and never call back into the Batcher from them. Exceptions they throw are ignored.
  std::function<void(const BatchStats&)> on_batch;
  std::function<void(std::size_t queue_items)> on_queue_depth;
};

template <class Item, class Result>
class Batcher {
 public:
  using Outcome = BatchOutcome<Result>;
  using Handlers = BatcherHandlers<Item, Result>;

  // Starts the worker thread. InvalidArgument for bad options or a missing run function.
  Batcher(BatcherOptions options, Handlers handlers);
  // shutdown(/*drain=*/false): queued requests complete with kShutdown; a running batch finishes.
  // Must not run on the worker thread (i.e. from the batch function).
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Queues `items`; the future gets one result per item in the same order (or a non-ok
  // status). Never blocks on the queue: a full queue, or a Batcher shut down, gives an
  // already-ready future (kQueueFull / kShutdown). An empty `items` gives kOk with no results.
  // Exceptions from the cost or key function propagate, with nothing queued.
  std::future<Outcome> submit(std::vector<Item> items, Deadline deadline = kNoDeadline,
                              std::shared_ptr<std::atomic<bool>> cancelled = nullptr);

  // Stops accepting (later submits get kShutdown). drain = true: runs every queued item
  // (without waiting max_wait), then stops; false: queued requests complete with kShutdown.
  // Joins the worker; idempotent and thread-safe. Called from the batch function itself it
  // only signals (a thread cannot join itself).
  void shutdown(bool drain = true);

  std::size_t queued_items() const {
    std::lock_guard lock(mutex_);
    return queued_items_;
  }
  const BatcherOptions& options() const { return options_; }

 private:
  struct Request {
    std::promise<Outcome> promise;
    std::vector<std::optional<Result>> results;
    std::size_t unresolved = 0;  // items without a result yet
    std::size_t queued = 0;      // items still in a lane (part of queued_items_)
    Deadline deadline = kNoDeadline;
    std::shared_ptr<std::atomic<bool>> cancelled;
    bool finished = false;       // promise satisfied
  };
  struct Entry {
    std::shared_ptr<Request> request;
    std::size_t index = 0;       // position in the request
    std::size_t cost = 0;
    BatchClock::time_point enqueued;
    std::uint64_t seq = 0;       // arrival order across lanes
    Item item;
  };

  // Request state is touched only by the worker (after submit published it); the lanes,
  // queued_items_ and the flags are guarded by mutex_.
  void worker_loop();
  bool kill_if_dead(Request& request, BatchClock::time_point now);  // under mutex_
  void finish(Request& request, BatchStatus status, std::string error);  // under mutex_
  void drop_dead_front(std::deque<Entry>& lane, BatchClock::time_point now);
  bool fits(std::size_t items, std::size_t tokens, std::size_t max_cost, std::size_t cost) const;
  bool lane_full(const std::deque<Entry>& lane) const;
  std::vector<Entry> take_batch(std::deque<Entry>& lane, BatchClock::time_point now);
  // Runs one batch (without the lock) and completes the requests it finishes.
  void run_batch(std::vector<Entry>& batch, const std::string& key, BatchClock::time_point taken,
                 std::size_t queue_items);
  void publish_depth();  // under mutex_

  template <class F>
  static void call_hook(const F& hook, const auto&... args) {
    if (!hook) return;
    try {
      hook(args...);
    } catch (...) {
    }
  }

  const BatcherOptions options_;
  const Handlers handlers_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::string, std::deque<Entry>> lanes_;
  std::size_t queued_items_ = 0;
  std::size_t published_depth_ = 0;
  std::uint64_t next_seq_ = 0;
  bool stopping_ = false;
  bool drain_ = true;

  std::mutex join_mutex_;
  std::thread worker_;
};

// ------------------------------------------------------------------ implementation

template <class Item, class Result>
Batcher<Item, Result>::Batcher(BatcherOptions options, Handlers handlers)
    : options_(options), handlers_(std::move(handlers)) {
  check_batcher_options(options_);
  if (!handlers_.run) throw InvalidArgument("Batcher: no batch function (BatcherHandlers::run)");
  worker_ = std::thread([this] { worker_loop(); });
}

template <class Item, class Result>
Batcher<Item, Result>::~Batcher() {
  shutdown(/*drain=*/false);
}

template <class Item, class Result>
std::future<BatchOutcome<Result>> Batcher<Item, Result>::submit(std::vector<Item> items, Deadline deadline,
                                                                 std::shared_ptr<std::atomic<bool>> cancelled) {
  auto request = std::make_shared<Request>();
  auto future = request->promise.get_future();
  if (items.empty()) {
    request->promise.set_value(Outcome{});
    return future;
  }
  // User functions run before anything is queued, so their exceptions leave no trace.
  std::vector<std::size_t> costs(items.size(), 1);
  std::vector<std::string> keys(handlers_.key ? items.size() : 0);
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (handlers_.cost) costs[i] = handlers_.cost(items[i]);
    if (handlers_.key) keys[i] = handlers_.key(items[i]);
  }
  request->results.resize(items.size());
  request->unresolved = items.size();
  request->deadline = deadline;
  request->cancelled = std::move(cancelled);

  auto now = BatchClock::now();
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      request->promise.set_value(Outcome{BatchStatus::kShutdown, {}, "the server is shutting down"});
      return future;
    }
    if (items.size() > options_.max_queue_items - queued_items_) {
      request->promise.set_value(Outcome{
          BatchStatus::kQueueFull,
          {},
          "queue full: " + std::to_string(queued_items_) + " of " + std::to_string(options_.max_queue_items) +
              " items waiting, this request has " + std::to_string(items.size())});
      return future;
    }
    std::deque<Entry>* lane = nullptr;
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (!lane || (handlers_.key && keys[i] != keys[i - 1])) lane = &lanes_[handlers_.key ? keys[i] : std::string()];
      lane->push_back(Entry{request, i, costs[i], now, next_seq_++, std::move(items[i])});
    }
    request->queued = items.size();
    queued_items_ += items.size();
    publish_depth();
  }
  wake_.notify_one();
  return future;
}

template <class Item, class Result>
void Batcher<Item, Result>::shutdown(bool drain) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      stopping_ = true;
      drain_ = drain;
    } else if (!drain) {
      drain_ = false;  // a later abort overrides a drain in progress
    }
  }
  wake_.notify_all();
  if (std::this_thread::get_id() == worker_.get_id()) return;
  std::lock_guard join(join_mutex_);
  if (worker_.joinable()) worker_.join();
}

template <class Item, class Result>
void Batcher<Item, Result>::finish(Request& request, BatchStatus status, std::string error) {
  if (request.finished) return;
  request.finished = true;
  queued_items_ -= request.queued;
  request.queued = 0;
  request.promise.set_value(Outcome{status, {}, std::move(error)});
}

template <class Item, class Result>
bool Batcher<Item, Result>::kill_if_dead(Request& request, BatchClock::time_point now) {
  if (request.finished) return true;
  if (request.cancelled && request.cancelled->load(std::memory_order_relaxed)) {
    finish(request, BatchStatus::kCancelled, "the request was cancelled");
    return true;
  }
  if (now > request.deadline) {
    finish(request, BatchStatus::kTimedOut, "the request's deadline passed before it was run");
    return true;
  }
  return false;
}

template <class Item, class Result>
void Batcher<Item, Result>::drop_dead_front(std::deque<Entry>& lane, BatchClock::time_point now) {
  while (!lane.empty() && kill_if_dead(*lane.front().request, now)) lane.pop_front();
}

template <class Item, class Result>
bool Batcher<Item, Result>::fits(std::size_t items, std::size_t tokens, std::size_t max_cost,
                                 std::size_t cost) const {
  if (items == 0) return true;  // an over-budget item runs alone
  if (items >= options_.max_batch_items) return false;
  if (options_.padded_budget) return std::max(max_cost, cost) * (items + 1) <= options_.max_batch_tokens;
  return tokens + cost <= options_.max_batch_tokens;
}

template <class Item, class Result>
bool Batcher<Item, Result>::lane_full(const std::deque<Entry>& lane) const {
  std::size_t items = 0, tokens = 0, max_cost = 0;
  for (const Entry& e : lane) {
    if (e.request->finished) continue;
    if (!fits(items, tokens, max_cost, e.cost)) return true;
    ++items;
    tokens += e.cost;
    max_cost = std::max(max_cost, e.cost);
  }
  // Also full when no further item could join (e.g. one item that takes the whole budget).
  if (items >= options_.max_batch_items) return true;
  if (options_.padded_budget) return max_cost * (items + 1) > options_.max_batch_tokens;
  return tokens >= options_.max_batch_tokens;
}

template <class Item, class Result>
std::vector<typename Batcher<Item, Result>::Entry> Batcher<Item, Result>::take_batch(std::deque<Entry>& lane,
                                                                                     BatchClock::time_point now) {
  std::vector<Entry> batch;
  std::size_t tokens = 0, max_cost = 0;
  while (!lane.empty()) {
    Entry& e = lane.front();
    if (kill_if_dead(*e.request, now)) {
      lane.pop_front();
      continue;
    }
    if (!fits(batch.size(), tokens, max_cost, e.cost)) break;
    tokens += e.cost;
    max_cost = std::max(max_cost, e.cost);
    --e.request->queued;
    --queued_items_;
    batch.push_back(std::move(e));
    lane.pop_front();
  }
  return batch;
}

template <class Item, class Result>
void Batcher<Item, Result>::publish_depth() {
  if (queued_items_ == published_depth_) return;
  published_depth_ = queued_items_;
  call_hook(handlers_.on_queue_depth, queued_items_);
}

template <class Item, class Result>
void Batcher<Item, Result>::worker_loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (stopping_ && !drain_) {
      for (auto& [key, lane] : lanes_) {
        for (Entry& e : lane) finish(*e.request, BatchStatus::kShutdown, "the server is shutting down");
      }
      lanes_.clear();
      publish_depth();
      return;
    }
    auto now = BatchClock::now();
    auto chosen = lanes_.end();
    auto wake_at = BatchClock::time_point::max();
    for (auto it = lanes_.begin(); it != lanes_.end();) {
      drop_dead_front(it->second, now);
      if (it->second.empty()) {
        it = lanes_.erase(it);
        continue;
      }
      const Entry& head = it->second.front();
      auto due = head.enqueued + options_.max_wait;
      if (stopping_ || now >= due || lane_full(it->second)) {
        if (chosen == lanes_.end() || head.seq < chosen->second.front().seq) chosen = it;
      } else {
        wake_at = std::min(wake_at, due);
      }
      ++it;
    }
    publish_depth();
    if (chosen == lanes_.end()) {
      if (lanes_.empty()) {
        if (stopping_) return;
        wake_.wait(lock);
      } else {
        wake_.wait_until(lock, wake_at);
      }
      continue;
    }
    std::string key = chosen->first;
    std::vector<Entry> batch = take_batch(chosen->second, now);
    if (chosen->second.empty()) lanes_.erase(chosen);
    std::size_t remaining = queued_items_;
    publish_depth();
    if (batch.empty()) continue;
    lock.unlock();
    run_batch(batch, key, now, remaining);
    lock.lock();
  }
}

template <class Item, class Result>
void Batcher<Item, Result>::run_batch(std::vector<Entry>& batch, const std::string& key,
                                      BatchClock::time_point taken, std::size_t queue_items) {
  BatchStats stats;
  stats.key = key;
  stats.items = batch.size();
  stats.queue_items = queue_items;
  stats.waited = taken - batch.front().enqueued;  // the front is the oldest (lane order)
  std::size_t max_cost = 0;
  for (const Entry& e : batch) {
    stats.tokens += e.cost;
    max_cost = std::max(max_cost, e.cost);
  }
  stats.padded_tokens = max_cost * batch.size();
  {
    std::vector<const Request*> seen;
    for (const Entry& e : batch) seen.push_back(e.request.get());
    std::sort(seen.begin(), seen.end());
    stats.requests = static_cast<std::size_t>(std::unique(seen.begin(), seen.end()) - seen.begin());
  }
  if (options_.sort_by_cost) {
    std::stable_sort(batch.begin(), batch.end(), [](const Entry& a, const Entry& b) { return a.cost < b.cost; });
  }

  std::vector<Item> items;
  items.reserve(batch.size());
  for (Entry& e : batch) items.push_back(std::move(e.item));
  std::vector<Result> results;
  std::string error;
  auto start = BatchClock::now();
  try {
    results = handlers_.run(items);
    if (results.size() != items.size()) {
      error = "the batch function returned " + std::to_string(results.size()) + " results for " +
              std::to_string(items.size()) + " items";
    }
  } catch (const std::exception& e) {
    error = e.what();
    if (error.empty()) error = "the batch function failed";
  } catch (...) {
    error = "the batch function threw a non-standard exception";
  }
  stats.run = BatchClock::now() - start;
  stats.failed = !error.empty();

  if (stats.failed) {
    std::lock_guard lock(mutex_);  // finish() updates queued_items_ for the requests' other items
    for (Entry& e : batch) finish(*e.request, BatchStatus::kFailed, error);
    publish_depth();
  } else {
    for (std::size_t i = 0; i < batch.size(); ++i) {
      Request& r = *batch[i].request;
      if (r.finished) continue;  // cancelled or timed out meanwhile: the result is not wanted
      r.results[batch[i].index] = std::move(results[i]);
      if (--r.unresolved > 0) continue;
      Outcome outcome;
      outcome.results.reserve(r.results.size());
      for (auto& slot : r.results) outcome.results.push_back(std::move(*slot));
      r.finished = true;  // unresolved == 0 implies queued == 0: no shared counter changes
      r.results.clear();
      r.promise.set_value(std::move(outcome));
    }
  }
  batch.clear();  // release the requests before reporting
  call_hook(handlers_.on_batch, stats);
}

}  // namespace xling::serve
