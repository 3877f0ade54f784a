// Margin-based bitext mining (see bitext_miner.hpp).
#include "tasks/bitext_miner.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "xling/errors.hpp"

namespace xling::tasks {
namespace {

struct Knn {
  torch::Tensor values, indices;  // (N, k) float, int64: each row's k nearest rows of the other side
};

// Exact k nearest neighbours of every row of `a` among the rows of `b` (inner product).
Knn knn(const torch::Tensor& a, const torch::Tensor& b, int64_t k) {
  const int64_t n = a.size(0), m = b.size(0);
  const int64_t block = std::max<int64_t>(1, (int64_t{1} << 26) / std::max<int64_t>(1, m));
  std::vector<torch::Tensor> vals, idx;
  auto bt = b.t().contiguous();
  for (int64_t s = 0; s < n; s += block) {
    auto sims = torch::matmul(a.slice(0, s, std::min(n, s + block)), bt);
    auto top = sims.topk(k, 1);
    vals.push_back(std::get<0>(top));
    idx.push_back(std::get<1>(top));
  }
  return {torch::cat(vals), torch::cat(idx)};
}

}  // namespace

std::vector<MinedPair> mine_bitext(const torch::Tensor& x_in, const torch::Tensor& y_in, const MineOptions& opt) {
  if (opt.margin != "ratio" && opt.margin != "distance" && opt.margin != "absolute") {
    throw InvalidArgument(fmt::format("--margin '{}': expected ratio, distance or absolute", opt.margin));
  }
  if (opt.mode != "max" && opt.mode != "forward" && opt.mode != "backward" && opt.mode != "intersect") {
    throw InvalidArgument(fmt::format("--mode '{}': expected max, forward, backward or intersect", opt.mode));
  }
  if (opt.k < 1) throw InvalidArgument(fmt::format("--k {}: must be at least 1", opt.k));
  if (x_in.dim() != 2 || y_in.dim() != 2 || x_in.size(1) != y_in.size(1)) {
    throw InvalidArgument("mining needs (N, D) and (M, D) embeddings of the same width");
  }
  if (x_in.size(0) == 0 || y_in.size(0) == 0) return {};
  torch::NoGradGuard ng;
  auto x = x_in.to(torch::kFloat32).contiguous();
  auto y = y_in.to(torch::kFloat32).contiguous();
  const int64_t kx = std::min<int64_t>(opt.k, y.size(0)), ky = std::min<int64_t>(opt.k, x.size(0));
  Knn fwd = knn(x, y, kx), bwd = knn(y, x, ky);
  auto fwd_mean = fwd.values.mean(1).to(torch::kDouble).contiguous();
  auto bwd_mean = bwd.values.mean(1).to(torch::kDouble).contiguous();
  const double* fm = fwd_mean.data_ptr<double>();
  const double* bm = bwd_mean.data_ptr<double>();
  auto score = [&](double cos, int64_t i, int64_t j) {
    const double avg = (fm[i] + bm[j]) / 2;
    if (opt.margin == "ratio") return avg != 0 ? cos / avg : cos;
    if (opt.margin == "distance") return cos - avg;
    return cos;
  };
  // Best candidate of each row by margin score, among its k nearest neighbours.
  auto best = [&](const Knn& nn, bool source_side) {
    auto v = nn.values.to(torch::kDouble).contiguous();
    auto ix = nn.indices.contiguous();
    const double* pv = v.data_ptr<double>();
    const int64_t* pi = ix.data_ptr<int64_t>();
    const int64_t rows = v.size(0), k = v.size(1);
    std::vector<MinedPair> out(static_cast<std::size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) {
      MinedPair b{-1e300, 0, 0};
      for (int64_t c = 0; c < k; ++c) {
        const int64_t other = pi[r * k + c];
        const int64_t i = source_side ? r : other, j = source_side ? other : r;
        const double s = score(pv[r * k + c], i, j);
        if (s > b.score || (s == b.score && (source_side ? j < b.target : i < b.source))) b = {s, i, j};
      }
      out[static_cast<std::size_t>(r)] = b;
    }
    return out;
  };
  std::vector<MinedPair> f = best(fwd, true), g = best(bwd, false);
  std::vector<MinedPair> cand;
  if (opt.mode == "forward") cand = f;
  else if (opt.mode == "backward") cand = g;
  else if (opt.mode == "intersect") {
    for (const auto& p : f) {
      const auto& q = g[static_cast<std::size_t>(p.target)];
      if (q.source == p.source) cand.push_back(p);
    }
  } else {
    std::set<std::pair<int64_t, int64_t>> seen;
    for (const auto* side : {&f, &g}) {
      for (const auto& p : *side) {
        if (seen.insert({p.source, p.target}).second) cand.push_back(p);
      }
    }
  }
  std::sort(cand.begin(), cand.end(), [](const MinedPair& a, const MinedPair& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.source != b.source ? a.source < b.source : a.target < b.target;
  });
  std::vector<MinedPair> out;
  std::vector<char> used_src(static_cast<std::size_t>(x.size(0)), 0), used_tgt(static_cast<std::size_t>(y.size(0)), 0);
  for (const auto& p : cand) {
    if (p.score < opt.threshold) break;
    if (opt.mode == "max") {
      if (used_src[static_cast<std::size_t>(p.source)] || used_tgt[static_cast<std::size_t>(p.target)]) continue;
      used_src[static_cast<std::size_t>(p.source)] = used_tgt[static_cast<std::size_t>(p.target)] = 1;
    }
    out.push_back(p);
  }
  return out;
}

}  // namespace xling::tasks
