// Maximal marginal relevance (Carbonell & Goldstein 1998) for picking diverse examples:
// repeatedly take the candidate maximising
//   lambda * cos(query, c) - (1 - lambda) * max_{s already selected} cos(c, s)
// lambda = 1 is plain similarity order; lower values trade relevance for diversity.
#pragma once

#include <cstdint>
#include <vector>

namespace xling::index {

struct Selected {
  int64_t candidate = 0;  // row of `candidates`
  float similarity = 0;   // cos(query, candidate)
};

// query (dim), candidates (n, dim), both unit length. Returns min(k, n) picks in selection
// order; ties go to the lower row. InvalidArgument when lambda is outside [0, 1] or k < 0.
std::vector<Selected> mmr_select(const float* query, const float* candidates, int64_t n, int dim, int64_t k, double lambda);

}  // namespace xling::index
