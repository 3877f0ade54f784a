// Prometheus registry of serve/: exact text exposition, escaping, registration rules, threads.
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "serve/batcher.hpp"
#include "serve/metrics.hpp"
#include "xling/errors.hpp"

using namespace xling::serve;

TEST(ServeMetrics, CountersAndGaugesExactText) {
  Registry r;
  auto& requests = r.counter("xling_requests_total", "HTTP requests", {"endpoint", "status"});
  auto& up = r.gauge("xling_up", "1 when serving");
  requests.with({"embed", "200"}).inc();
  requests.with({"embed", "200"}).inc(2);
  requests.with({"rerank", "413"}).inc();
  requests.with({"embed", "400"}).inc(0.5);
  up.with({}).set(1);
  EXPECT_EQ(r.expose(),
            "# HELP xling_requests_total HTTP requests\n"
            "# TYPE xling_requests_total counter\n"
            "xling_requests_total{endpoint=\"embed\",status=\"200\"} 3\n"
            "xling_requests_total{endpoint=\"embed\",status=\"400\"} 0.5\n"
            "xling_requests_total{endpoint=\"rerank\",status=\"413\"} 1\n"
            "# HELP xling_up 1 when serving\n"
            "# TYPE xling_up gauge\n"
            "xling_up 1\n");
  auto& g = up.with({});
  g.dec();
  g.dec();
  g.add(-0.25);
  EXPECT_EQ(g.value(), -1.25);
}

TEST(ServeMetrics, UnlabelledSeriesExposedAsZeroAndSpecialValues) {
  Registry r;
  r.counter("a_total", "a");
  auto& g = r.gauge("g", "g", {"k"});
  g.with({"nan"}).set(NAN);
  g.with({"pinf"}).set(INFINITY);
  g.with({"ninf"}).set(-INFINITY);
  g.with({"big"}).set(1e21);
  EXPECT_EQ(r.expose(),
            "# HELP a_total a\n# TYPE a_total counter\na_total 0\n"
            "# HELP g g\n# TYPE g gauge\n"
            "g{k=\"big\"} 1e+21\n"
            "g{k=\"nan\"} NaN\n"
            "g{k=\"ninf\"} -Inf\n"
            "g{k=\"pinf\"} +Inf\n");
}

TEST(ServeMetrics, HistogramExactText) {
  Registry r;
  auto& h = r.histogram("lat_seconds", "latency", {"endpoint"}, {0.5, 1});
  auto& embed = h.with({"embed"});
  for (double v : {0.25, 0.5, 0.75, 4.0}) embed.observe(v);
  h.with({"tag"}).observe(NAN);  // NaN: +Inf bucket only, as client_golang
  EXPECT_EQ(r.expose(),
            "# HELP lat_seconds latency\n"
            "# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{endpoint=\"embed\",le=\"0.5\"} 2\n"
            "lat_seconds_bucket{endpoint=\"embed\",le=\"1\"} 3\n"
            "lat_seconds_bucket{endpoint=\"embed\",le=\"+Inf\"} 4\n"
            "lat_seconds_sum{endpoint=\"embed\"} 5.5\n"
            "lat_seconds_count{endpoint=\"embed\"} 4\n"
            "lat_seconds_bucket{endpoint=\"tag\",le=\"0.5\"} 0\n"
            "lat_seconds_bucket{endpoint=\"tag\",le=\"1\"} 0\n"
            "lat_seconds_bucket{endpoint=\"tag\",le=\"+Inf\"} 1\n"
            "lat_seconds_sum{endpoint=\"tag\"} NaN\n"
            "lat_seconds_count{endpoint=\"tag\"} 1\n");
  Registry u;
  u.histogram("sizes", "no labels", {}, {1}).with({}).observe(1);
  EXPECT_EQ(u.expose(),
            "# HELP sizes no labels\n# TYPE sizes histogram\n"
            "sizes_bucket{le=\"1\"} 1\nsizes_bucket{le=\"+Inf\"} 1\nsizes_sum 1\nsizes_count 1\n");
}

TEST(ServeMetrics, EscapesLabelValuesAndHelp) {
  Registry r;
  r.counter("c_total", "help with \\ and\nnewline", {"v"}).with({"a\"b\\c\nd"}).inc();
  EXPECT_EQ(r.expose(),
            "# HELP c_total help with \\\\ and\\nnewline\n"
            "# TYPE c_total counter\n"
            "c_total{v=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(ServeMetrics, RegistrationRules) {
  Registry r;
  auto& a = r.counter("x_total", "x", {"k"});
  EXPECT_EQ(&r.counter("x_total", "x", {"k"}), &a);  // same definition: same family
  EXPECT_THROW(r.counter("x_total", "other help", {"k"}), xling::InvalidArgument);
  EXPECT_THROW(r.counter("x_total", "x", {"j"}), xling::InvalidArgument);
  EXPECT_THROW(r.gauge("x_total", "x", {"k"}), xling::InvalidArgument);
  auto& h = r.histogram("h", "h", {}, {1, 2});
  EXPECT_EQ(&r.histogram("h", "h", {}, {1, 2}), &h);
  EXPECT_THROW(r.histogram("h", "h", {}, {1, 3}), xling::InvalidArgument);

  EXPECT_THROW(r.counter("9bad", "x"), xling::InvalidArgument);
  EXPECT_THROW(r.counter("bad-name", "x"), xling::InvalidArgument);
  EXPECT_NO_THROW(r.counter("ns:ok_total", "x"));
  EXPECT_THROW(r.counter("y", "x", {"bad:label"}), xling::InvalidArgument);
  EXPECT_THROW(r.counter("y", "x", {"__reserved"}), xling::InvalidArgument);
  EXPECT_THROW(r.counter("y", "x", {"k", "k"}), xling::InvalidArgument);
  EXPECT_THROW(r.histogram("y", "x", {"le"}, {1}), xling::InvalidArgument);
  EXPECT_THROW(r.histogram("y", "x", {}, {2, 1}), xling::InvalidArgument);
  EXPECT_THROW(r.histogram("y", "x", {}, {1, 1}), xling::InvalidArgument);
  EXPECT_THROW(r.histogram("y", "x", {}, {1, INFINITY}), xling::InvalidArgument);

  EXPECT_THROW(a.with({}), xling::InvalidArgument);
  EXPECT_THROW(a.with({"1", "2"}), xling::InvalidArgument);
  EXPECT_THROW(a.with({"1"}).inc(-1), xling::InvalidArgument);
  EXPECT_EQ(&a.with({"1"}), &a.with({std::string_view("1")}));  // one series per label values
  EXPECT_EQ(exponential_buckets(1, 2, 4), (std::vector<double>{1, 2, 4, 8}));
  EXPECT_THROW(exponential_buckets(0, 2, 4), xling::InvalidArgument);
}

TEST(ServeMetrics, ConcurrentUpdatesAreExact) {
  Registry r;
  auto& c = r.counter("c_total", "c", {"t"});
  auto& h = r.histogram("h", "h", {"t"}, {10, 100});
  auto& g = r.gauge("g", "g");
  constexpr int kThreads = 8, kIters = 20000;
  std::vector<std::thread> threads;
  std::atomic<bool> stop{false};
  std::thread scraper([&] {
    while (!stop.load()) (void)r.expose();  // exposition while writers run
  });
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string label = t % 2 ? "odd" : "even";
      for (int i = 0; i < kIters; ++i) {
        c.with({label}).inc();
        h.with({label}).observe(i % 200);
        g.with({}).inc();
      }
    });
  }
  for (auto& t : threads) t.join();
  stop = true;
  scraper.join();
  EXPECT_EQ(c.with({"odd"}).value() + c.with({"even"}).value(), kThreads * kIters);
  auto s = h.with({"odd"}).snapshot();
  EXPECT_EQ(s.count, static_cast<std::uint64_t>(kThreads / 2 * kIters));
  EXPECT_EQ(s.cumulative[0], static_cast<std::uint64_t>(kThreads / 2 * kIters / 200 * 11));  // 0..10
  EXPECT_EQ(g.with({}).value(), kThreads * kIters);
}

TEST(ServeMetrics, StandardFamiliesFedByBatcherHooks) {
  Registry r;
  ServeMetrics m(r);
  auto on_batch = m.batch_observer("xling-mini");
  auto on_depth = m.queue_observer("xling-mini");
  BatchStats s;
  s.items = 3;
  s.requests = 2;
  s.tokens = 40;
  s.run = std::chrono::milliseconds(20);
  on_batch(s);
  s.failed = true;
  on_batch(s);
  on_depth(17);
  m.requests.with({"embed", "200"}).inc();
  std::string text = r.expose();
  for (const char* line : {
           "xling_requests_total{endpoint=\"embed\",status=\"200\"} 1\n",
           "xling_batch_items_bucket{model=\"xling-mini\",le=\"2\"} 0\n",
           "xling_batch_items_bucket{model=\"xling-mini\",le=\"4\"} 2\n",
           "xling_batch_requests_sum{model=\"xling-mini\"} 4\n",
           "xling_batch_tokens_bucket{model=\"xling-mini\",le=\"32\"} 0\n",
           "xling_batch_tokens_bucket{model=\"xling-mini\",le=\"64\"} 2\n",
           "xling_batch_duration_seconds_bucket{model=\"xling-mini\",le=\"0.025\"} 2\n",
           "xling_batch_failures_total{model=\"xling-mini\"} 1\n",
           "xling_tokens_total{model=\"xling-mini\"} 40\n",  // failed batches processed nothing
           "xling_queue_items{model=\"xling-mini\"} 17\n",
           "# TYPE xling_request_duration_seconds histogram\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << "missing: " << line << "in:\n" << text;
  }
  // A second ServeMetrics on the same registry reuses the families.
  ServeMetrics again(r);
  EXPECT_EQ(&again.requests, &m.requests);
}
