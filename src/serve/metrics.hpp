// Prometheus metrics for `xling serve`: counters, gauges and histograms in labelled families,
// exposed in the text format 0.0.4 (GET /metrics). Thread-safe. The hot path is an atomic
// add: look a series up once (`family.with({...})`, a mutex-guarded map lookup that does not
// allocate when the series exists) and keep the reference, which stays valid for the
// registry's lifetime.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace xling::serve {

class Counter {
 public:
  void inc(double amount = 1.0);  // amount >= 0, else InvalidArgument
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  void inc() { add(1.0); }
  void dec() { add(-1.0); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Fixed upper bounds (strictly increasing, finite); "+Inf" is implicit. An observation v
// counts in the first bucket with v <= bound (NaN: +Inf only, as client_golang).
class Histogram {
 public:
  explicit Histogram(std::shared_ptr<const std::vector<double>> bounds);
  void observe(double v);

  struct Snapshot {
    std::vector<std::uint64_t> cumulative;  // per bound, then +Inf (== count)
    double sum = 0.0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const;
  const std::vector<double>& bounds() const { return *bounds_; }

 private:
  std::shared_ptr<const std::vector<double>> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // per bucket, not cumulative
  std::atomic<double> sum_{0.0};
};

enum class MetricType { kCounter, kGauge, kHistogram };

// Name, help, type and label names of a family; renders its series.
class MetricFamily {
 public:
  MetricFamily(std::string name, std::string help, MetricType type, std::vector<std::string> label_names);
  virtual ~MetricFamily() = default;
  MetricFamily(const MetricFamily&) = delete;
  MetricFamily& operator=(const MetricFamily&) = delete;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  MetricType type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Appends "# HELP", "# TYPE" and one line per sample.
  void render(std::string& out) const;

 protected:
  // Appends the samples of every series (called with the series lock held).
  virtual void render_series(std::string& out) const = 0;
  void check_arity(std::size_t n) const;  // InvalidArgument unless n == label_names().size()
  mutable std::mutex mutex_;              // guards the series map of the derived class

 private:
  std::string name_, help_;
  MetricType type_;
  std::vector<std::string> label_names_;
};

namespace detail {
// Orders label-value vectors, and compares them with spans of string_view without building
// a vector (heterogeneous lookup).
struct LabelLess {
  using is_transparent = void;
  template <class A, class B>
  bool operator()(const A& a, const B& b) const {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                        [](std::string_view x, std::string_view y) { return x < y; });
  }
};
// Append the sample lines of one series (label values escaped).
void render(std::string& out, const MetricFamily& family, const std::vector<std::string>& values, const Counter& m);
void render(std::string& out, const MetricFamily& family, const std::vector<std::string>& values, const Gauge& m);
void render(std::string& out, const MetricFamily& family, const std::vector<std::string>& values,
            const Histogram& m);
}  // namespace detail

// A family of series of one metric type, one series per label-value combination.
template <class Metric>
class Family final : public MetricFamily {
 public:
  Family(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
         std::function<std::unique_ptr<Metric>()> make)
      : MetricFamily(std::move(name), std::move(help), type, std::move(label_names)), make_(std::move(make)) {
    // An unlabelled metric is exposed from the start (as 0).
    if (this->label_names().empty()) with(std::span<const std::string_view>{});
  }

  // The series for these label values (one per label name, in order); created at first use.
  Metric& with(std::initializer_list<std::string_view> values) {
    return with(std::span<const std::string_view>(values.begin(), values.size()));
  }
  Metric& with(std::span<const std::string_view> values) {
    check_arity(values.size());
    std::lock_guard lock(mutex_);
    auto it = series_.find(values);
    if (it == series_.end()) {
      it = series_.emplace(std::vector<std::string>(values.begin(), values.end()), make_()).first;
    }
    return *it->second;
  }

 private:
  void render_series(std::string& out) const override {
    for (const auto& [values, metric] : series_) detail::render(out, *this, values, *metric);
  }

  std::function<std::unique_ptr<Metric>()> make_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>, detail::LabelLess> series_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// Owns the families; renders them in registration order. Registering a name again with the
// same type, help, labels (and buckets) returns the existing family; anything else, or an
// invalid metric/label name, is InvalidArgument.
class Registry {
 public:
  CounterFamily& counter(const std::string& name, const std::string& help, std::vector<std::string> label_names = {});
  GaugeFamily& gauge(const std::string& name, const std::string& help, std::vector<std::string> label_names = {});
  HistogramFamily& histogram(const std::string& name, const std::string& help, std::vector<std::string> label_names,
                             std::vector<double> bounds);

  // Text exposition format 0.0.4 (Content-Type: text/plain; version=0.0.4; charset=utf-8).
  std::string expose() const;

 private:
  template <class Metric>
  Family<Metric>& add(const std::string& name, const std::string& help, MetricType type,
                      std::vector<std::string> label_names, std::shared_ptr<const std::vector<double>> bounds);

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<MetricFamily>> families_;
  std::vector<std::shared_ptr<const std::vector<double>>> family_bounds_;  // parallel to families_
};

struct BatchStats;  // serve/batcher.hpp

// Bucket layouts for the standard families.
std::vector<double> latency_buckets();      // seconds: 0.001 ... 60
std::vector<double> exponential_buckets(double start, double factor, int count);

// The server's standard families, registered in `registry`:
//   xling_requests_total{endpoint,status}            counter
//   xling_request_duration_seconds{endpoint}         histogram (latency_buckets)
//   xling_batch_items{model}                         histogram: items (sequences) per batch
//   xling_batch_requests{model}                      histogram: distinct requests per batch
//   xling_batch_tokens{model}                        histogram: tokens per batch (sum of costs)
//   xling_batch_duration_seconds{model}              histogram: the batch function's time
//   xling_batch_failures_total{model}                counter: batches whose function threw
//   xling_queue_items{model}                         gauge: items waiting to be batched
//   xling_tokens_total{model}                        counter: tokens processed
struct ServeMetrics {
  explicit ServeMetrics(Registry& registry);

  CounterFamily& requests;
  HistogramFamily& request_duration;
  HistogramFamily& batch_items;
  HistogramFamily& batch_requests;
  HistogramFamily& batch_tokens;
  HistogramFamily& batch_duration;
  CounterFamily& batch_failures;
  GaugeFamily& queue_items;
  CounterFamily& tokens;

  // Hooks for BatcherHandlers::on_batch / on_queue_depth feeding the {model=`model`} series
  // (resolved once, so each call is a few atomic adds).
  std::function<void(const BatchStats&)> batch_observer(const std::string& model);
  std::function<void(std::size_t)> queue_observer(const std::string& model);
};

}  // namespace xling::serve
