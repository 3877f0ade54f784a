// Vector index benchmark (issue 8): build time, memory, and queries/s at recall@10 against
// exact Flat search in the same run, on clustered vectors (uniform random vectors are an
// unrealistic worst case for approximate search: real embeddings lie near a manifold of topics).
// Also the document store: SQLite lookups of the top-10 documents of a query.
//
//   build/bench/bench_index --index IDX --query-index QIDX   (real embeddings: bench/index_realtext.sh)
//   build/bench/bench_index [--n 1000000] [--dim 384] [--clusters 2000] [--intrinsic 16] [--spread 0.6] [--noise 0.1]
//                           [--queries 1000] [--hnsw-m 32] [--ef-construction E] [--ivf 0|1] [--hnsw 0|1] [--ivfpq 0|1]
//                           [--json bench/results/index_cpu.json]
//
// Data: `clusters` random unit centres, each with a random `intrinsic`-dimensional subspace;
// a vector = centre + Gaussian coefficients in that subspace (total norm ~`spread`) + isotropic
// noise (norm ~`noise`), normalised. Queries are fresh points of the same clusters. Threads: all cores
// (OpenMP). Memory: peak RSS growth while building each index.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/memory.hpp"
#include "index/corpus_index.hpp"
#include "index/vector_index.hpp"

using namespace xling::index;

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Each cluster is a low-dimensional patch: centre + a random `intrinsic`-dimensional subspace of
// its own (spread `spread`) + a little isotropic noise (`noise`). Sentence embeddings behave like
// this (intrinsic dimension in the tens); isotropic noise alone in 384 dimensions would make
// every point of a cluster nearly equidistant, i.e. uniform random vectors again, locally.
std::vector<float> clustered(int64_t n, int dim, const std::vector<float>& centres, const std::vector<float>& bases,
                             int clusters, int intrinsic, float spread, float noise, uint32_t seed) {
  std::vector<float> x(static_cast<std::size_t>(n) * static_cast<std::size_t>(dim));
#pragma omp parallel
  {
    std::mt19937 rng(seed + 7919u * static_cast<uint32_t>(omp_get_thread_num()));
    std::normal_distribution<float> z(0.f, spread / std::sqrt(static_cast<float>(intrinsic)));
    std::normal_distribution<float> e(0.f, noise / std::sqrt(static_cast<float>(dim)));
    std::uniform_int_distribution<int> pick(0, clusters - 1);
    std::vector<float> coef(static_cast<std::size_t>(intrinsic));
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      int c = pick(rng);
      for (auto& a : coef) a = z(rng);
      float* row = x.data() + i * dim;
      const float* basis = bases.data() + static_cast<std::size_t>(c) * static_cast<std::size_t>(intrinsic * dim);
      for (int j = 0; j < dim; ++j) row[j] = centres[static_cast<std::size_t>(c * dim + j)] + e(rng);
      for (int r = 0; r < intrinsic; ++r)
        for (int j = 0; j < dim; ++j) row[j] += coef[static_cast<std::size_t>(r)] * basis[r * dim + j];
    }
  }
  normalize_rows(x.data(), n, dim);
  return x;
}

double recall10(const Neighbours& got, const Neighbours& truth) {
  double hit = 0;
  for (int64_t i = 0; i < truth.nq; ++i) {
    std::set<int64_t> t(truth.positions.begin() + i * truth.k, truth.positions.begin() + i * truth.k + 10);
    for (int64_t j = 0; j < 10; ++j) hit += t.count(got.positions[static_cast<std::size_t>(i * got.k + j)]);
  }
  return hit / (10.0 * static_cast<double>(truth.nq));
}

struct Timed {
  Neighbours nb;
  double qps = 0;
};

Timed timed_search(const VectorIndex& idx, const std::vector<float>& q, int64_t nq, const SearchParams& p) {
  // Best of 3 (the first run warms caches).
  Timed t;
  double best = 1e300;
  for (int r = 0; r < 3; ++r) {
    double t0 = now_s();
    t.nb = idx.search(q.data(), nq, 10, p);
    best = std::min(best, now_s() - t0);
  }
  t.qps = static_cast<double>(nq) / best;
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t n = 1'000'000, nq = 1000;
  int dim = 384, clusters = 2000;
  float noise = 0.1f, spread = 0.6f;
  int intrinsic = 16;
  std::string json_out;
  BuildParams hp;  // hnsw build settings (default: the index's defaults)
  bool ivfpq = true, hnsw = true, ivf = true;
  std::string real_index, real_queries;  // real embeddings: vectors of two `xling index build` outputs
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--n") n = std::stoll(v);
    else if (k == "--dim") dim = std::stoi(v);
    else if (k == "--clusters") clusters = std::stoi(v);
    else if (k == "--noise") noise = std::stof(v);
    else if (k == "--spread") spread = std::stof(v);
    else if (k == "--intrinsic") intrinsic = std::stoi(v);
    else if (k == "--queries") nq = std::stoll(v);
    else if (k == "--json") json_out = v;
    else if (k == "--hnsw-m") hp.hnsw_m = std::stoi(v);
    else if (k == "--ef-construction") hp.ef_construction = std::stoi(v);
    else if (k == "--ivfpq") ivfpq = v != "0";
    else if (k == "--hnsw") hnsw = v != "0";
    else if (k == "--ivf") ivf = v != "0";
    else if (k == "--index") real_index = v;
    else if (k == "--query-index") real_queries = v;
    else {
      std::cerr << "unknown option " << k << "\n";
      return 2;
    }
  }
  std::vector<float> x, q;
  double t0 = now_s();
  if (!real_index.empty()) {
    if (real_queries.empty()) {
      std::cerr << "--index needs --query-index\n";
      return 2;
    }
    auto ci = CorpusIndex::open(real_index);
    auto cq = CorpusIndex::open(real_queries);
    n = ci.info().count;
    nq = cq.info().count;
    dim = ci.info().dim;
    x = ci.vectors().vectors(0, n);
    q = cq.vectors().vectors(0, nq);
    std::cerr << fmt::format("bench_index: real embeddings {} x {} ({}, model {}), {} queries ({}), {} threads\n", n, dim,
                             real_index, ci.info().model, nq, real_queries, omp_get_max_threads());
  } else {
    std::cerr << fmt::format("bench_index: {} x {} clustered vectors ({} clusters of intrinsic dimension {}, spread {}, noise "
                             "{}), {} queries, {} threads\n",
                             n, dim, clusters, intrinsic, spread, noise, nq, omp_get_max_threads());
    std::mt19937 rng(42);
    std::normal_distribution<float> g;
    std::vector<float> centres(static_cast<std::size_t>(clusters) * static_cast<std::size_t>(dim));
    for (auto& c : centres) c = g(rng);
    normalize_rows(centres.data(), clusters, dim);
    std::vector<float> bases(static_cast<std::size_t>(clusters) * static_cast<std::size_t>(intrinsic * dim));
    for (auto& b : bases) b = g(rng);
    normalize_rows(bases.data(), static_cast<int64_t>(clusters) * intrinsic, dim);
    x = clustered(n, dim, centres, bases, clusters, intrinsic, spread, noise, 1);
    q = clustered(nq, dim, centres, bases, clusters, intrinsic, spread, noise, 2);
    std::cerr << fmt::format("  data generated in {:.1f} s ({:.0f} MB)\n", now_s() - t0, static_cast<double>(x.size()) * 4 / 1e6);
  }

  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  auto report = [&](const std::string& kind, const std::string& params, double build_s, double mem_mb, double qps,
                    double recall, double flat_qps) {
    std::cout << fmt::format("| {} | {} | {:.1f} | {:.0f} | {:.0f} | {:.3f} | {:.1f}x |\n", kind, params, build_s, mem_mb, qps,
                             recall, qps / flat_qps);
    rows.push_back({{"index", kind}, {"params", params}, {"build_s", build_s}, {"memory_mb", mem_mb}, {"qps", qps},
                    {"recall_at_10", recall}, {"speedup_vs_flat", qps / flat_qps}});
  };
  std::cout << "| index | parameters | build s | memory MB | queries/s | recall@10 | vs flat |\n|---|---|---|---|---|---|---|\n";

  // Exact reference.
  auto rss0 = static_cast<double>(xling::core::current_rss_bytes());
  t0 = now_s();
  auto flat = VectorIndex::build(IndexKind::kFlat, x.data(), n, dim);
  double flat_build = now_s() - t0;
  double flat_mem = (static_cast<double>(xling::core::current_rss_bytes()) - rss0) / 1e6;
  auto exact = timed_search(flat, q, nq, {});
  report("flat", "exact", flat_build, flat_mem, exact.qps, 1.0, exact.qps);
  flat = VectorIndex();

  // IVF-Flat at the default build settings; nprobe sweep.
  if (ivf && n >= 39 * 256) {
    BuildParams bp;
    rss0 = static_cast<double>(xling::core::current_rss_bytes());
    t0 = now_s();
    auto iv = VectorIndex::build(IndexKind::kIvf, x.data(), n, dim, bp);
    double build = now_s() - t0;
    double mem = (static_cast<double>(xling::core::current_rss_bytes()) - rss0) / 1e6;
    std::cerr << fmt::format("  ivf built in {:.1f} s ({})\n", build, iv.describe());
    for (int np : {4, 8, 16, 32, 64}) {
      SearchParams sp;
      sp.nprobe = np;
      auto r = timed_search(iv, q, nq, sp);
      report("ivf", fmt::format("nlist={} nprobe={}{}", iv.describe().substr(iv.describe().find('=') + 1, iv.describe().find(' ', 4) - iv.describe().find('=') - 1), np,
                                np == bp.nprobe ? " (default)" : ""),
             build, mem, r.qps, recall10(r.nb, exact.nb), exact.qps);
    }
  }
  // HNSW at the default build settings; query beam sweep.
  if (hnsw) {
    const BuildParams& bp = hp;
    rss0 = static_cast<double>(xling::core::current_rss_bytes());
    t0 = now_s();
    auto h = VectorIndex::build(IndexKind::kHnsw, x.data(), n, dim, bp);
    double build = now_s() - t0;
    double mem = (static_cast<double>(xling::core::current_rss_bytes()) - rss0) / 1e6;
    std::cerr << fmt::format("  hnsw built in {:.1f} s\n", build);
    for (int ef : {16, 32, 64, 128, 256, 512}) {
      SearchParams sp;
      sp.ef_search = ef;
      auto r = timed_search(h, q, nq, sp);
      report("hnsw", fmt::format("M={} efC={} efSearch={}{}", bp.hnsw_m, bp.ef_construction, ef, ef == bp.ef_search ? " (default)" : ""),
             build, mem, r.qps, recall10(r.nb, exact.nb), exact.qps);
    }
  }
  // IVF-PQ at the defaults; nprobe sweep.
  if (ivfpq && n >= 100000) {
    BuildParams bp;
    rss0 = static_cast<double>(xling::core::current_rss_bytes());
    t0 = now_s();
    auto ivf = VectorIndex::build(IndexKind::kIvfPq, x.data(), n, dim, bp);
    double build = now_s() - t0;
    double mem = (static_cast<double>(xling::core::current_rss_bytes()) - rss0) / 1e6;
    std::cerr << fmt::format("  ivfpq built in {:.1f} s ({})\n", build, ivf.describe());
    for (int np : {8, 32, 128}) {
      SearchParams sp;
      sp.nprobe = np;
      auto r = timed_search(ivf, q, nq, sp);
      report("ivfpq", fmt::format("{} nprobe={}", ivf.describe().substr(6), np), build, mem, r.qps, recall10(r.nb, exact.nb),
             exact.qps);
    }
  }

  // Document store: fetch the top-10 documents of each query from SQLite (100k documents).
  double lookup_us = 0;
  {
    auto dir = std::filesystem::temp_directory_path() / fmt::format("bench-index-{}", ::getpid());
    std::filesystem::remove_all(dir);
    IndexSettings s;
    s.model = "bench";
    s.model_fingerprint = "none";
    s.dim = 8;
    const int64_t nd = 100000;
    {
      IndexBuilder b(dir.string(), s, false);
      std::vector<Document> docs;
      std::vector<float> v(static_cast<std::size_t>(nd) * 8, 0.5f);
      for (int64_t i = 0; i < nd; ++i) {
        Document d;
        d.id = fmt::format("doc-{}", i);
        d.text = fmt::format("a document text of ordinary length, number {}, with a few more words to be realistic", i);
        docs.push_back(std::move(d));
      }
      b.add(docs, v.data());
      b.finish(IndexKind::kFlat);
    }
    auto idx = CorpusIndex::open(dir.string());
    std::mt19937 r2(5);
    std::uniform_int_distribution<int64_t> pick(0, nd - 1);
    const int reps = 2000;
    std::vector<std::vector<int64_t>> lists(reps);
    for (auto& l : lists)
      for (int j = 0; j < 10; ++j) l.push_back(pick(r2));
    t0 = now_s();
    std::size_t chars = 0;
    for (const auto& l : lists)
      for (const auto& d : idx.docs().get(l)) chars += d.text.size();
    lookup_us = (now_s() - t0) / reps * 1e6;
    std::cout << fmt::format("\nDocument store (SQLite, WAL, 100k documents): top-10 lookup {:.1f} us per query ({} chars read)\n",
                             lookup_us, chars);
    std::filesystem::remove_all(dir);
  }
  if (!json_out.empty()) {
    nlohmann::ordered_json j = {{"data", real_index.empty() ? "clustered" : real_index}, {"n", n}, {"dim", dim},
                                {"clusters", clusters}, {"intrinsic", intrinsic}, {"spread", spread}, {"noise", noise}, {"queries", nq},
                                {"threads", omp_get_max_threads()}, {"rows", rows}, {"sqlite_top10_lookup_us", lookup_us}};
    std::ofstream(json_out) << j.dump(2) << "\n";
  }
  return 0;
}
