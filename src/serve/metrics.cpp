// Prometheus registry and text exposition (see metrics.hpp).
#include "serve/metrics.hpp"

#include <charconv>
#include <cmath>
#include <set>
#include <type_traits>

#include <fmt/format.h>

#include "serve/batcher.hpp"
#include "xling/errors.hpp"

namespace xling::serve {
namespace {

// Go's float spellings (what Prometheus parses): "NaN", "+Inf", "-Inf", else the shortest
// decimal that reads back as the same double ("3", "0.25", "1e+21").
std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

void append_label_value(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

void append_help(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

// `name{k1="v1",...[,le="bound"]} value\n`
void append_sample(std::string& out, std::string_view name, const std::vector<std::string>& label_names,
                   const std::vector<std::string>& label_values, std::string_view le, std::string_view value) {
  out += name;
  if (!label_names.empty() || !le.empty()) {
    out += '{';
    for (std::size_t i = 0; i < label_names.size(); ++i) {
      if (i > 0) out += ',';
      out += label_names[i];
      out += "=\"";
      append_label_value(out, label_values[i]);
      out += '"';
    }
    if (!le.empty()) {
      if (!label_names.empty()) out += ',';
      out += "le=\"";
      out += le;
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  out += value;
  out += '\n';
}

bool valid_name(std::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':') ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

void check_names(const std::string& name, const std::vector<std::string>& label_names, MetricType type) {
  if (!valid_name(name, /*allow_colon=*/true)) {
    throw InvalidArgument(fmt::format("metric name '{}' is not [a-zA-Z_:][a-zA-Z0-9_:]*", name));
  }
  std::set<std::string_view> seen;
  for (const auto& label : label_names) {
    if (!valid_name(label, /*allow_colon=*/false) || label.starts_with("__")) {
      throw InvalidArgument(fmt::format("metric '{}': label name '{}' is not [a-zA-Z_][a-zA-Z0-9_]* "
                                        "(or starts with the reserved '__')",
                                        name, label));
    }
    if (type == MetricType::kHistogram && label == "le") {
      throw InvalidArgument(fmt::format("metric '{}': 'le' is reserved for histogram buckets", name));
    }
    if (!seen.insert(label).second) throw InvalidArgument(fmt::format("metric '{}': label '{}' given twice", name, label));
  }
}

std::string_view type_name(MetricType type) {
  switch (type) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
  }
  return "untyped";
}

}  // namespace

// ------------------------------------------------------------------ metrics

void Counter::inc(double amount) {
  if (!(amount >= 0.0)) throw InvalidArgument(fmt::format("Counter::inc: amount {} is negative or NaN", amount));
  value_.fetch_add(amount, std::memory_order_relaxed);
}

Histogram::Histogram(std::shared_ptr<const std::vector<double>> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<std::uint64_t>[bounds_->size() + 1]) {
  for (std::size_t i = 0; i <= bounds_->size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) {
  const auto& b = *bounds_;
  std::size_t bucket = std::isnan(v) ? b.size() : static_cast<std::size_t>(std::lower_bound(b.begin(), b.end(), v) - b.begin());
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.cumulative.resize(bounds_->size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_->size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = running;
  }
  s.count = running;  // so that _count always equals the +Inf bucket
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

// ------------------------------------------------------------------ families

MetricFamily::MetricFamily(std::string name, std::string help, MetricType type, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), type_(type), label_names_(std::move(label_names)) {}

void MetricFamily::check_arity(std::size_t n) const {
  if (n != label_names_.size()) {
    throw InvalidArgument(
        fmt::format("metric '{}': {} label values given for {} labels", name_, n, label_names_.size()));
  }
}

void MetricFamily::render(std::string& out) const {
  out += "# HELP ";
  out += name_;
  out += ' ';
  append_help(out, help_);
  out += "\n# TYPE ";
  out += name_;
  out += ' ';
  out += type_name(type_);
  out += '\n';
  std::lock_guard lock(mutex_);
  render_series(out);
}

namespace detail {

void render(std::string& out, const MetricFamily& family, const std::vector<std::string>& values, const Counter& m) {
  append_sample(out, family.name(), family.label_names(), values, {}, format_value(m.value()));
}

void render(std::string& out, const MetricFamily& family, const std::vector<std::string>& values, const Gauge& m) {
  append_sample(out, family.name(), family.label_names(), values, {}, format_value(m.value()));
}

void render(std::string& out, const MetricFamily& family, const std::vector<std::string>& values,
            const Histogram& m) {
  Histogram::Snapshot s = m.snapshot();
  const std::string bucket = family.name() + "_bucket";
  for (std::size_t i = 0; i < m.bounds().size(); ++i) {
    append_sample(out, bucket, family.label_names(), values, format_value(m.bounds()[i]),
                  std::to_string(s.cumulative[i]));
  }
  append_sample(out, bucket, family.label_names(), values, "+Inf", std::to_string(s.count));
  append_sample(out, family.name() + "_sum", family.label_names(), values, {}, format_value(s.sum));
  append_sample(out, family.name() + "_count", family.label_names(), values, {}, std::to_string(s.count));
}

}  // namespace detail

// ------------------------------------------------------------------ registry

template <class Metric>
Family<Metric>& Registry::add(const std::string& name, const std::string& help, MetricType type,
                              std::vector<std::string> label_names,
                              std::shared_ptr<const std::vector<double>> bounds) {
  check_names(name, label_names, type);
  std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < families_.size(); ++i) {
    if (families_[i]->name() != name) continue;
    auto* existing = dynamic_cast<Family<Metric>*>(families_[i].get());
    bool same = existing && existing->type() == type && existing->help() == help &&
                existing->label_names() == label_names &&
                (!bounds || (family_bounds_[i] && *family_bounds_[i] == *bounds));
    if (!same) {
      throw InvalidArgument(
          fmt::format("metric '{}' is already registered with another type, help, labels or buckets", name));
    }
    return *existing;
  }
  std::function<std::unique_ptr<Metric>()> make;
  if constexpr (std::is_same_v<Metric, Histogram>) {
    make = [bounds] { return std::make_unique<Histogram>(bounds); };
  } else {
    make = [] { return std::make_unique<Metric>(); };
  }
  auto family = std::make_unique<Family<Metric>>(name, help, type, std::move(label_names), std::move(make));
  Family<Metric>& ref = *family;
  families_.push_back(std::move(family));
  family_bounds_.push_back(std::move(bounds));
  return ref;
}

CounterFamily& Registry::counter(const std::string& name, const std::string& help,
                                 std::vector<std::string> label_names) {
  return add<Counter>(name, help, MetricType::kCounter, std::move(label_names), nullptr);
}

GaugeFamily& Registry::gauge(const std::string& name, const std::string& help, std::vector<std::string> label_names) {
  return add<Gauge>(name, help, MetricType::kGauge, std::move(label_names), nullptr);
}

HistogramFamily& Registry::histogram(const std::string& name, const std::string& help,
                                     std::vector<std::string> label_names, std::vector<double> bounds) {
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1]))) {
      throw InvalidArgument(
          fmt::format("histogram '{}': bucket bounds must be finite and strictly increasing (bound {} is {})", name,
                      i, bounds[i]));
    }
  }
  return add<Histogram>(name, help, MetricType::kHistogram, std::move(label_names),
                        std::make_shared<const std::vector<double>>(std::move(bounds)));
}

std::string Registry::expose() const {
  std::string out;
  std::lock_guard lock(mutex_);
  for (const auto& family : families_) family->render(out);
  return out;
}

// ------------------------------------------------------------------ standard families

std::vector<double> latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

std::vector<double> exponential_buckets(double start, double factor, int count) {
  if (!(start > 0) || !(factor > 1) || count < 1) {
    throw InvalidArgument(fmt::format("exponential_buckets: needs start > 0, factor > 1, count >= 1; found {}, {}, {}",
                                      start, factor, count));
  }
  std::vector<double> b;
  for (int i = 0; i < count; ++i) b.push_back(start * std::pow(factor, i));
  return b;
}

ServeMetrics::ServeMetrics(Registry& r)
    : requests(r.counter("xling_requests_total", "HTTP requests by endpoint and status code", {"endpoint", "status"})),
      request_duration(r.histogram("xling_request_duration_seconds", "Request latency in seconds", {"endpoint"},
                                   latency_buckets())),
      batch_items(r.histogram("xling_batch_items", "Items (sequences) per batch", {"model"},
                              exponential_buckets(1, 2, 11))),
      batch_requests(r.histogram("xling_batch_requests", "Distinct requests per batch", {"model"},
                                 exponential_buckets(1, 2, 11))),
      batch_tokens(r.histogram("xling_batch_tokens", "Tokens per batch (sum of item costs)", {"model"},
                               exponential_buckets(16, 2, 13))),
      batch_duration(r.histogram("xling_batch_duration_seconds", "Model time per batch in seconds", {"model"},
                                 latency_buckets())),
      batch_failures(r.counter("xling_batch_failures_total", "Batches whose model call failed", {"model"})),
      queue_items(r.gauge("xling_queue_items", "Items waiting to be batched", {"model"})),
      tokens(r.counter("xling_tokens_total", "Tokens processed", {"model"})) {}

std::function<void(const BatchStats&)> ServeMetrics::batch_observer(const std::string& model) {
  std::string_view m = model;
  Histogram& items = batch_items.with({m});
  Histogram& reqs = batch_requests.with({m});
  Histogram& toks = batch_tokens.with({m});
  Histogram& duration = batch_duration.with({m});
  Counter& failures = batch_failures.with({m});
  Counter& processed = tokens.with({m});
  return [&items, &reqs, &toks, &duration, &failures, &processed](const BatchStats& s) {
    items.observe(static_cast<double>(s.items));
    reqs.observe(static_cast<double>(s.requests));
    toks.observe(static_cast<double>(s.tokens));
    duration.observe(std::chrono::duration<double>(s.run).count());
    if (s.failed) failures.inc();
    else processed.inc(static_cast<double>(s.tokens));
  };
}

std::function<void(std::size_t)> ServeMetrics::queue_observer(const std::string& model) {
  Gauge& depth = queue_items.with({std::string_view(model)});
  return [&depth](std::size_t n) { depth.set(static_cast<double>(n)); };
}

}  // namespace xling::serve
