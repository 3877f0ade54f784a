// Margin-based bitext mining: forward predictions agree with LASER's xSIM implementation in
// metrics/ (an independent double-precision one), max mode is one-to-one and recovers a
// permuted noisy copy, scores are sorted, thresholds cut, bad options are clear errors.
#include <numeric>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "metrics/mining.hpp"
#include "tasks/bitext_miner.hpp"
#include "xling/errors.hpp"

using namespace xling;

namespace {

torch::Tensor unit(torch::Tensor t) { return t / t.norm(2, 1, true); }

}  // namespace

TEST(BitextMiner, ForwardMatchesXsimPredictions) {
  torch::manual_seed(3);
  auto x = unit(torch::randn({57, 16}));
  auto y = unit(x + 0.9 * torch::randn({57, 16}));  // noisy: some rows are mismatched
  for (const char* margin : {"ratio", "distance", "absolute"}) {
    tasks::MineOptions o;
    o.margin = margin;
    o.mode = "forward";
    auto pairs = tasks::mine_bitext(x, y, o);
    ASSERT_EQ(pairs.size(), 57u);
    std::vector<int64_t> mine(57, -1);
    for (const auto& p : pairs) mine[static_cast<std::size_t>(p.source)] = p.target;
    auto xc = x.contiguous(), yc = y.contiguous();
    metrics::EmbeddingMatrix a({xc.data_ptr<float>(), 57 * 16}, 57, 16), b({yc.data_ptr<float>(), 57 * 16}, 57, 16);
    metrics::XsimOptions xo;
    xo.margin = std::string(margin) == "ratio" ? metrics::XsimMargin::kRatio
                : std::string(margin) == "distance" ? metrics::XsimMargin::kDistance : metrics::XsimMargin::kAbsolute;
    auto ref = metrics::xsim(a, b, xo);
    int same = 0;
    for (int i = 0; i < 57; ++i) same += mine[static_cast<std::size_t>(i)] == ref.predictions[static_cast<std::size_t>(i)];
    // float32 (here) vs double (xsim): near-ties may differ, nothing more.
    EXPECT_GE(same, 55) << margin;
    for (std::size_t i = 1; i < pairs.size(); ++i) EXPECT_GE(pairs[i - 1].score, pairs[i].score);
  }
}

TEST(BitextMiner, MaxModeIsOneToOneAndRecoversAPermutedCopy) {
  torch::manual_seed(5);
  const int64_t n = 300;
  auto x = unit(torch::randn({n, 32}));
  auto perm = torch::randperm(n);
  auto y = unit(x.index_select(0, perm) + 0.05 * torch::randn({n, 32}));  // noise norm ~0.28
  auto pairs = tasks::mine_bitext(x, y, {});
  std::set<int64_t> srcs, tgts;
  int64_t right = 0;
  for (const auto& p : pairs) {
    EXPECT_TRUE(srcs.insert(p.source).second);
    EXPECT_TRUE(tgts.insert(p.target).second);
    right += perm[p.target].item<int64_t>() == p.source;
  }
  EXPECT_GE(right, n - 3);
  tasks::MineOptions o;
  o.threshold = pairs[pairs.size() / 2].score;
  auto cut = tasks::mine_bitext(x, y, o);
  EXPECT_LE(cut.size(), pairs.size() / 2 + 1);
  for (const auto& p : cut) EXPECT_GE(p.score, o.threshold);
  o.mode = "intersect";
  o.threshold = -1e300;
  for (const auto& p : tasks::mine_bitext(x, y, o)) EXPECT_EQ(perm[p.target].item<int64_t>(), p.source);
}

TEST(BitextMiner, BadOptionsAndShapes) {
  torch::manual_seed(7);
  auto x = unit(torch::randn({4, 8}));
  tasks::MineOptions o;
  o.margin = "cosine-ish";
  EXPECT_THROW(tasks::mine_bitext(x, x, o), InvalidArgument);
  o = {};
  o.k = 0;
  EXPECT_THROW(tasks::mine_bitext(x, x, o), InvalidArgument);
  EXPECT_THROW(tasks::mine_bitext(x, unit(torch::randn({4, 6})), {}), InvalidArgument);
  EXPECT_TRUE(tasks::mine_bitext(x, torch::zeros({0, 8}), {}).empty());
  // k larger than the other side: capped. With plain cosine every row's best partner in a copy
  // of itself is itself. (Not with the ratio margin: random vectors have negative neighbourhood
  // means, where dividing by them ranks a negative cosine first; it is LASER's formula, meant
  // for real embeddings whose neighbourhoods are positive.)
  o = {};
  o.k = 50;
  o.margin = "absolute";
  auto self = tasks::mine_bitext(x, x, o);
  ASSERT_EQ(self.size(), 4u);
  for (const auto& p : self) EXPECT_EQ(p.source, p.target);
}
