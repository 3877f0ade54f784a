// Bitext mining with margin scoring (Artetxe & Schwenk 2019, "Margin-based parallel corpus
// mining with multilingual sentence embeddings"): for unit-length source rows x (N, D) and
// target rows y (M, D),
//   score(i, j) = margin(cos(x_i, y_j), (fwd_k(i) + bwd_k(j)) / 2)
// where fwd_k(i) is the mean cosine of x_i's k nearest targets and bwd_k(j) of y_j's k nearest
// sources; margin "ratio" divides, "distance" subtracts, "absolute" is the plain cosine.
// Candidates are each row's k nearest neighbours in both directions; the pairs kept depend on
// the mode:
//   max        union of every source's best and every target's best, then greedily by score,
//              each source and target used once (the paper's "max. score")
//   forward    every source's best target;  backward: every target's best source
//   intersect  pairs that are both a source's best and a target's best
// Exact k-NN in blocks (memory ~256 MB per block whatever the corpus size).
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

namespace xling::tasks {

struct MineOptions {
  std::string margin = "ratio";  // ratio | distance | absolute
  std::string mode = "max";      // max | forward | backward | intersect
  int64_t k = 4;
  double threshold = -1e300;     // keep scores >= threshold
};

struct MinedPair {
  double score = 0;
  int64_t source = 0, target = 0;  // row indices
};

// Best first (ties: lower source row, then lower target row). Throws InvalidArgument on bad
// options or shapes.
std::vector<MinedPair> mine_bitext(const torch::Tensor& x, const torch::Tensor& y, const MineOptions& options);

}  // namespace xling::tasks
