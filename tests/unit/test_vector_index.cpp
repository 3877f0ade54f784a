// The FAISS-backed vector index: exact search equals brute force, HNSW recall at the default
// settings on clustered vectors, IVF-PQ training limits, persistence, merging.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "index/vector_index.hpp"
#include "test_util.hpp"
#include "xling/errors.hpp"

namespace xling::index {
namespace {

std::vector<float> random_unit(int64_t n, int dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  std::vector<float> x(static_cast<std::size_t>(n * dim));
  for (auto& v : x) v = g(rng);
  normalize_rows(x.data(), n, dim);
  return x;
}

// Points around `clusters` random centres (noise scale relative to a unit centre), the shape of
// real sentence embeddings; uniform random vectors are the unrealistic worst case for ANN.
std::vector<float> clustered(int64_t n, int dim, int clusters, float noise, uint32_t seed, uint32_t centre_seed) {
  auto centres = random_unit(clusters, dim, centre_seed);
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.f, noise / std::sqrt(static_cast<float>(dim)));
  std::uniform_int_distribution<int> pick(0, clusters - 1);
  std::vector<float> x(static_cast<std::size_t>(n * dim));
  for (int64_t i = 0; i < n; ++i) {
    int c = pick(rng);
    for (int j = 0; j < dim; ++j) x[static_cast<std::size_t>(i * dim + j)] = centres[static_cast<std::size_t>(c * dim + j)] + g(rng);
  }
  normalize_rows(x.data(), n, dim);
  return x;
}

// Brute-force top-k by inner product, ties by lower position.
std::vector<std::vector<int64_t>> brute_force(const std::vector<float>& x, const std::vector<float>& q, int dim, int64_t k) {
  int64_t n = static_cast<int64_t>(x.size()) / dim, nq = static_cast<int64_t>(q.size()) / dim;
  std::vector<std::vector<int64_t>> out;
  for (int64_t i = 0; i < nq; ++i) {
    std::vector<std::pair<double, int64_t>> s;
    for (int64_t r = 0; r < n; ++r) {
      double d = 0;
      for (int j = 0; j < dim; ++j) d += static_cast<double>(q[static_cast<std::size_t>(i * dim + j)]) * x[static_cast<std::size_t>(r * dim + j)];
      s.emplace_back(-d, r);
    }
    std::partial_sort(s.begin(), s.begin() + std::min<int64_t>(k, n), s.end());
    std::vector<int64_t> top;
    for (int64_t j = 0; j < std::min<int64_t>(k, n); ++j) top.push_back(s[static_cast<std::size_t>(j)].second);
    out.push_back(top);
  }
  return out;
}

double recall_at_k(const Neighbours& got, const std::vector<std::vector<int64_t>>& truth, int64_t k) {
  double hit = 0, total = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    std::set<int64_t> t(truth[i].begin(), truth[i].begin() + std::min<std::size_t>(static_cast<std::size_t>(k), truth[i].size()));
    for (int64_t j = 0; j < k; ++j) hit += t.count(got.positions[i * static_cast<std::size_t>(got.k) + static_cast<std::size_t>(j)]);
    total += static_cast<double>(t.size());
  }
  return hit / total;
}

TEST(VectorIndex, FlatEqualsBruteForce) {
  const int dim = 37;
  auto x = random_unit(1531, dim, 11);
  auto q = random_unit(23, dim, 12);
  auto idx = VectorIndex::build(IndexKind::kFlat, x.data(), 1531, dim);
  ASSERT_EQ(idx.size(), 1531);
  auto got = idx.search(q.data(), 23, 9);
  auto truth = brute_force(x, q, dim, 9);
  for (std::size_t i = 0; i < truth.size(); ++i) {
    for (std::size_t j = 0; j < 9; ++j) {
      int64_t p = got.positions[i * 9 + j];
      EXPECT_EQ(p, truth[i][j]) << "query " << i << " rank " << j;
      double d = 0;
      for (int c = 0; c < dim; ++c) d += static_cast<double>(q[i * dim + static_cast<std::size_t>(c)]) * x[static_cast<std::size_t>(p) * dim + static_cast<std::size_t>(c)];
      EXPECT_NEAR(got.scores[i * 9 + j], d, 1e-5);
    }
  }
}

TEST(VectorIndex, KLargerThanIndexLeavesEmptySlots) {
  auto x = random_unit(5, 8, 3);
  auto idx = VectorIndex::build(IndexKind::kFlat, x.data(), 5, 8);
  auto got = idx.search(x.data(), 1, 7);
  EXPECT_EQ(got.positions[0], 0);
  EXPECT_EQ(got.positions[5], -1);
  EXPECT_EQ(got.positions[6], -1);
  EXPECT_TRUE(std::isinf(got.scores[6]));
  EXPECT_THROW(idx.search(x.data(), 1, 0), InvalidArgument);
}

TEST(VectorIndex, HnswRecallOnClusteredVectors) {
  const int dim = 96;
  const int64_t n = 30000, nq = 300;
  auto x = clustered(n, dim, 300, 0.6f, 21, 7);
  auto q = clustered(nq, dim, 300, 0.6f, 22, 7);  // same centres, other points
  auto idx = VectorIndex::build(IndexKind::kHnsw, x.data(), n, dim);  // default parameters
  auto got = idx.search(q.data(), nq, 10);
  double r = recall_at_k(got, brute_force(x, q, dim, 10), 10);
  EXPECT_GE(r, 0.95) << idx.describe();
}

TEST(VectorIndex, IvfFindsTheExactNeighboursInTheProbedCells) {
  const int dim = 48;
  const int64_t n = 20000;
  auto x = clustered(n, dim, 100, 0.5f, 61, 12);
  auto q = clustered(100, dim, 100, 0.5f, 62, 12);
  EXPECT_THROW(VectorIndex::build(IndexKind::kIvf, x.data(), 100, dim, BuildParams{.ivf_nlist = 50}), InvalidArgument);  // too few to train
  auto idx = VectorIndex::build(IndexKind::kIvf, x.data(), n, dim);
  auto truth = brute_force(x, q, dim, 10);
  EXPECT_GE(recall_at_k(idx.search(q.data(), 100, 10), truth, 10), 0.95) << idx.describe();
  // Probing every cell is exhaustive: exactly the flat result.
  SearchParams all;
  all.nprobe = 1 << 20;
  auto every = idx.search(q.data(), 100, 10, all);
  EXPECT_EQ(recall_at_k(every, truth, 10), 1.0);
}

TEST(VectorIndex, IvfPqTrainsAndFindsNeighbours) {
  const int dim = 32;
  const int64_t n = 12000;
  auto x = clustered(n, dim, 50, 0.5f, 31, 8);
  EXPECT_THROW(VectorIndex::build(IndexKind::kIvfPq, x.data(), 9000, dim), InvalidArgument);  // too few to train
  BuildParams p;
  p.pq_m = 5;  // does not divide 32
  EXPECT_THROW(VectorIndex::build(IndexKind::kIvfPq, x.data(), n, dim, p), InvalidArgument);
  auto idx = VectorIndex::build(IndexKind::kIvfPq, x.data(), n, dim);
  EXPECT_EQ(idx.size(), n);
  auto q = clustered(100, dim, 50, 0.5f, 32, 8);
  auto got = idx.search(q.data(), 100, 10);
  // A lossy code (16 bytes for 32 floats): most of the exact top-10 is found, far above chance
  // (10 / 12000); one byte per dimension finds nearly all of it.
  auto truth = brute_force(x, q, dim, 10);
  EXPECT_GE(recall_at_k(got, truth, 10), 0.7) << idx.describe();
  auto fine = VectorIndex::build(IndexKind::kIvfPq, x.data(), n, dim, BuildParams{.pq_m = dim});
  EXPECT_GE(recall_at_k(fine.search(q.data(), 100, 10), truth, 10), 0.95) << fine.describe();
}

TEST(VectorIndex, SaveLoadRoundTripEveryKind) {
  xling::testing::ScratchDir dir;
  const int dim = 16;
  const int64_t n = 12000;
  auto x = clustered(n, dim, 20, 0.5f, 41, 9);
  auto q = clustered(17, dim, 20, 0.5f, 42, 9);
  for (auto kind : {IndexKind::kFlat, IndexKind::kHnsw, IndexKind::kIvf, IndexKind::kIvfPq}) {
    auto idx = VectorIndex::build(kind, x.data(), n, dim);
    auto path = dir.file(std::string(index_kind_name(kind)) + ".faiss");
    idx.save(path);
    auto back = VectorIndex::load(path);
    EXPECT_EQ(back.kind(), kind);
    EXPECT_EQ(back.size(), n);
    EXPECT_EQ(back.describe(), idx.describe());
    auto a = idx.search(q.data(), 17, 5);
    auto b = back.search(q.data(), 17, 5);
    EXPECT_EQ(a.positions, b.positions) << index_kind_name(kind);
    EXPECT_EQ(a.scores, b.scores) << index_kind_name(kind);
  }
  EXPECT_THROW(VectorIndex::load(dir.file("missing.faiss")), IoError);
  xling::testing::write_bytes(dir.file("junk.faiss"), "IxF2 not an index at all");
  EXPECT_THROW(VectorIndex::load(dir.file("junk.faiss")), IoError);
}

TEST(VectorIndex, MergeKeepsShardOrder) {
  const int dim = 24;
  auto x = clustered(12000, dim, 30, 0.5f, 51, 10);
  auto q = clustered(40, dim, 30, 0.5f, 52, 10);
  auto whole = VectorIndex::build(IndexKind::kFlat, x.data(), 12000, dim);
  auto a = VectorIndex::build(IndexKind::kFlat, x.data(), 4000, dim);
  auto b = VectorIndex::build(IndexKind::kFlat, x.data() + 4000 * dim, 8000, dim);
  a.merge(b);
  EXPECT_EQ(a.size(), 12000);
  EXPECT_EQ(a.search(q.data(), 40, 10).positions, whole.search(q.data(), 40, 10).positions);

  // ivfpq shards built from one trained template merge to the index of all vectors.
  auto tmpl = VectorIndex::build(IndexKind::kIvfPq, x.data(), 12000, dim).empty_like();
  EXPECT_EQ(tmpl.size(), 0);
  auto s1 = tmpl.empty_like(), s2 = tmpl.empty_like(), all = tmpl.empty_like();
  s1.add(x.data(), 4000);
  s2.add(x.data() + 4000 * dim, 8000);
  all.add(x.data(), 12000);
  s1.merge(s2);
  EXPECT_EQ(s1.search(q.data(), 40, 10).positions, all.search(q.data(), 40, 10).positions);

  // Mismatches are refused with the reason.
  auto other_dim = VectorIndex::flat(dim + 1);
  EXPECT_THROW(a.merge(other_dim), InvalidArgument);
  auto h = VectorIndex::build(IndexKind::kHnsw, x.data(), 100, dim);
  EXPECT_THROW(a.merge(h), InvalidArgument);
  auto untrained_other = VectorIndex::build(IndexKind::kIvfPq, x.data(), 12000, dim, BuildParams{.ivf_nlist = 50});
  EXPECT_THROW(s1.merge(untrained_other), InvalidArgument);
}

TEST(VectorIndex, NormalizeRowsAndKinds) {
  std::vector<float> x = {3, 4, 0, 0, 0, 0};
  EXPECT_EQ(normalize_rows(x.data(), 3, 2), 2);
  EXPECT_FLOAT_EQ(x[0], 0.6f);
  EXPECT_FLOAT_EQ(x[1], 0.8f);
  EXPECT_EQ(parse_index_kind("hnsw"), IndexKind::kHnsw);
  EXPECT_THROW(parse_index_kind("annoy"), InvalidArgument);
  EXPECT_EQ(default_index_kind(1000), IndexKind::kFlat);
  EXPECT_EQ(default_index_kind(1'000'000), IndexKind::kHnsw);
  EXPECT_EQ(parse_index_kind("ivf"), IndexKind::kIvf);
  EXPECT_THROW(VectorIndex::flat(0), InvalidArgument);
}

}  // namespace
}  // namespace xling::index
