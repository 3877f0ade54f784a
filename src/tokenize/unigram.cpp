// Unigram Viterbi segmentation and the double-array piece trie (see unigram.hpp).
// The search follows sentencepiece unigram_model.cc EncodeOptimized and HF tokenizers
// models/unigram/model.rs encode_optimized: best path ending at each byte position, lattice
// nodes generated on the fly, ties kept by the first candidate (earlier start, shorter piece).
#include "tokenize/unigram.hpp"

#include <algorithm>
#include <climits>
#include <limits>

#include <fmt/format.h>

#include "xling/errors.hpp"

namespace xling::tokenize {

// ------------------------------------------------------------------------------ PieceTrie

PieceTrie::PieceTrie() : units_(257) { units_[0].check = 0; }

PieceTrie::PieceTrie(const std::vector<std::pair<std::string_view, int>>& entries) : PieceTrie() {
  // Sorted unique keys, the last value of a repeated key winning.
  std::vector<std::pair<std::string_view, int>> keys;
  keys.reserve(entries.size());
  for (const auto& e : entries) {
    if (!e.first.empty() && e.second >= 0) keys.push_back(e);
  }
  std::stable_sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::size_t unique = 0;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (unique > 0 && keys[unique - 1].first == keys[i].first) {
      keys[unique - 1].second = keys[i].second;
    } else {
      keys[unique++] = keys[i];
    }
  }
  keys.resize(unique);
  num_keys_ = unique;
  if (keys.empty()) return;

  // Depth-first placement. Each node owns the key range [lo, hi) sharing its prefix of
  // `depth` bytes; its children sit at base + byte + 1.
  struct Task {
    uint32_t node;
    std::size_t lo, hi, depth;
  };
  std::vector<Task> stack{{0, 0, keys.size(), 0}};
  uint32_t max_base = 0;
  std::vector<uint32_t> labels;
  std::vector<std::pair<std::size_t, std::size_t>> ranges;

  // Free units form a list in index order (unit 0, the root, is its sentinel) so that the base
  // search skips used ones. A free unit that failed as the first child's slot kMaxFails times
  // leaves the list (it can still take a later child), which keeps the search near-linear.
  constexpr uint8_t kMaxFails = 16;
  enum : uint8_t { kListed, kUsed, kUnlisted };
  std::vector<uint8_t> state(units_.size(), kListed), fails(units_.size(), 0);
  std::vector<uint32_t> next(units_.size()), prev(units_.size());
  state[0] = kUsed;
  next[0] = prev[0] = 0;
  auto append = [&](std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to; ++i) {
      const auto u = static_cast<uint32_t>(i);
      prev[u] = prev[0];
      next[prev[0]] = u;
      next[u] = 0;
      prev[0] = u;
    }
  };
  auto unlink = [&](uint32_t u, uint8_t new_state) {
    if (state[u] == kListed) {
      next[prev[u]] = next[u];
      prev[next[u]] = prev[u];
    }
    state[u] = new_state;
  };
  auto ensure = [&](std::size_t size) {
    if (size <= units_.size()) return;
    const std::size_t old = units_.size();
    const std::size_t grown = std::max(size, old + old / 2);
    if (grown >= kFree) throw InvalidArgument(fmt::format("piece trie: {} units is too large", grown));
    units_.resize(grown);
    state.resize(grown, kListed);
    fails.resize(grown, 0);
    next.resize(grown);
    prev.resize(grown);
    append(old, grown);
  };
  append(1, units_.size());

  while (!stack.empty()) {
    Task t = stack.back();
    stack.pop_back();
    std::size_t lo = t.lo;
    if (keys[lo].first.size() == t.depth) {
      units_[t.node].value = keys[lo].second;
      ++lo;
    }
    if (lo == t.hi) continue;

    labels.clear();
    ranges.clear();
    for (std::size_t i = lo; i < t.hi;) {
      const auto c = static_cast<unsigned char>(keys[i].first[t.depth]);
      std::size_t j = i + 1;
      while (j < t.hi && static_cast<unsigned char>(keys[j].first[t.depth]) == c) ++j;
      labels.push_back(static_cast<uint32_t>(c) + 1);
      ranges.emplace_back(i, j);
      i = j;
    }

    // The first base at which every child unit is free; past the end when none is.
    std::size_t base = 0;
    for (uint32_t u = next[0];;) {
      if (u == 0) {
        base = std::max(units_.size(), static_cast<std::size_t>(labels[0])) - labels[0];
        break;
      }
      const uint32_t following = next[u];
      if (u >= labels[0]) {
        const std::size_t b = u - labels[0];
        bool fits = true;
        for (std::size_t k = 1; k < labels.size() && fits; ++k) {
          const std::size_t v = b + labels[k];
          fits = v >= units_.size() || state[v] != kUsed;
        }
        if (fits) {
          base = b;
          break;
        }
      }
      if (++fails[u] >= kMaxFails) unlink(u, kUnlisted);
      u = following;
    }
    ensure(base + 257);
    units_[t.node].base = static_cast<uint32_t>(base);
    max_base = std::max(max_base, static_cast<uint32_t>(base));
    for (std::size_t k = 0; k < labels.size(); ++k) {
      const auto child = static_cast<uint32_t>(base + labels[k]);
      unlink(child, kUsed);
      units_[child].check = t.node;
      stack.push_back({child, ranges[k].first, ranges[k].second, t.depth + 1});
    }
  }
  // Units past the last possible child are never read.
  units_.resize(static_cast<std::size_t>(max_base) + 257);
  units_.shrink_to_fit();
}

int PieceTrie::find(std::string_view key) const {
  if (key.empty()) return -1;
  const uint32_t node = walk(kRoot, key);
  return node == kNoNode ? -1 : units_[node].value;
}

std::size_t PieceTrie::longest_prefix(std::string_view text, int* value) const {
  std::size_t longest = 0;
  for_each_prefix(text, [&](std::size_t length, int v) {
    longest = length;
    if (value) *value = v;
  });
  return longest;
}

// --------------------------------------------------------------------------- UnigramModel

namespace {

// Byte length of the UTF-8 sequence a lead byte announces (sentencepiece OneCharLen: decided
// by the lead byte alone, so malformed input still advances).
inline std::size_t one_char_len(char lead) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[static_cast<unsigned char>(lead) >> 4];
}

}  // namespace

UnigramModel::UnigramModel(std::vector<std::string> pieces, std::vector<double> scores, std::vector<bool> matchable,
                           UnigramOptions options)
    : pieces_(std::move(pieces)), scores_(std::move(scores)), options_(options) {
  if (scores_.size() != pieces_.size() || matchable.size() != pieces_.size()) {
    throw InvalidArgument(fmt::format("Unigram model: {} pieces but {} scores and {} matchable flags", pieces_.size(),
                                      scores_.size(), matchable.size()));
  }
  if (pieces_.size() > static_cast<std::size_t>(INT_MAX)) {
    throw InvalidArgument(fmt::format("Unigram model: {} pieces is more than ids can address", pieces_.size()));
  }
  if (options_.unk_id >= static_cast<int>(pieces_.size())) {
    throw InvalidArgument(fmt::format("Unigram model: unk_id {} is outside the vocabulary of {} pieces",
                                      options_.unk_id, pieces_.size()));
  }
  std::vector<std::pair<std::string_view, int>> usable;
  usable.reserve(pieces_.size());
  double min_score = std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < pieces_.size(); ++i) {
    if (matchable[i]) usable.emplace_back(pieces_[i], static_cast<int>(i));
    min_score = std::min(min_score, scores_[i]);
  }
  matchable_ = PieceTrie(usable);
  by_piece_.resize(pieces_.size());
  for (std::size_t i = 0; i < pieces_.size(); ++i) by_piece_[i] = static_cast<int32_t>(i);
  std::stable_sort(by_piece_.begin(), by_piece_.end(),
                   [this](int32_t a, int32_t b) { return pieces_[a] < pieces_[b]; });
  if (options_.min_score) min_score = *options_.min_score;
  unk_score_ = min_score - options_.unk_penalty;
  if (options_.float32_path_scores) {
    // sentencepiece: const float unk_score = min_score() - kUnkPenalty; (float arithmetic)
    unk_score_ = static_cast<float>(min_score) - static_cast<float>(options_.unk_penalty);
  }
  for (int b = 0; b < 256; ++b) byte_ids_[b] = id_of(fmt::format("<0x{:02X}>", b)).value_or(-1);
}

std::optional<int> UnigramModel::id_of(std::string_view piece) const {
  // The last of the ids holding `piece` (HF keeps the last one of a repeated token).
  const auto it = std::upper_bound(by_piece_.begin(), by_piece_.end(), piece,
                                   [this](std::string_view p, int32_t id) { return p < pieces_[id]; });
  if (it == by_piece_.begin() || pieces_[*(it - 1)] != piece) return std::nullopt;
  return *(it - 1);
}

const std::string& UnigramModel::piece(int id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= pieces_.size()) {
    throw InvalidArgument(
        fmt::format("Unigram model: id {} is outside the vocabulary of {} pieces", id, pieces_.size()));
  }
  return pieces_[id];
}

double UnigramModel::score(int id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= scores_.size()) {
    throw InvalidArgument(
        fmt::format("Unigram model: id {} is outside the vocabulary of {} pieces", id, scores_.size()));
  }
  return scores_[id];
}

void UnigramModel::encode(std::string_view text, std::vector<UnigramToken>& out) const {
  if (text.empty()) return;
  if (text.size() >= static_cast<std::size_t>(INT32_MAX)) {
    throw InvalidArgument(fmt::format("Unigram model: a text of {} bytes is too long to encode", text.size()));
  }
  if (options_.float32_path_scores) {
    viterbi<float>(text, out);
  } else {
    viterbi<double>(text, out);
  }
}

void UnigramModel::emit_unknown(uint32_t begin, uint32_t end, std::string_view text,
                                std::vector<UnigramToken>& out) const {
  if (options_.byte_fallback) {
    bool all_found = true;
    for (uint32_t i = begin; i < end; ++i) {
      if (byte_ids_[static_cast<unsigned char>(text[i])] < 0) {
        all_found = false;
        break;
      }
    }
    if (all_found) {
      for (uint32_t i = begin; i < end; ++i) {
        out.push_back({byte_ids_[static_cast<unsigned char>(text[i])], begin, end});
      }
      return;
    }
  }
  out.push_back({options_.unk_id, begin, end});
}

template <typename Score>
void UnigramModel::viterbi(std::string_view text, std::vector<UnigramToken>& out) const {
  struct BestPath {
    Score score = 0;         // best score of a path ending here
    int32_t starts_at = -1;  // start of its last piece; -1 while unreached
    int32_t id = -1;
  };
  const std::size_t size = text.size();
  std::vector<BestPath> best(size + 1);
  const Score unk_score = static_cast<Score>(unk_score_);
  const double* scores = scores_.data();
  const int unk_id = options_.unk_id;

  for (std::size_t start = 0; start < size;) {
    const Score till_here = best[start].score;
    const std::size_t mblen = std::min(one_char_len(text[start]), size - start);
    bool has_single_node = false;
    matchable_.for_each_prefix(text.substr(start), [&](std::size_t length, int id) {
      BestPath& target = best[start + length];
      // In the path's own precision: float for sentencepiece (the 0.2.2 library adds in float;
      // exact ties then resolve as it does), double for HF tokenizers.
      const Score candidate = static_cast<Score>(scores[id]) + till_here;
      if (target.starts_at < 0 || candidate > target.score) {
        target.score = candidate;
        target.starts_at = static_cast<int32_t>(start);
        target.id = id;
      }
      if (length == mblen) has_single_node = true;
    });
    if (!has_single_node) {
      if (unk_id < 0) {
        throw InvalidArgument(fmt::format(
            "Unigram model: no piece covers the character at byte {} of the text and the model has no unk piece",
            start));
      }
      BestPath& target = best[start + mblen];
      const Score candidate = unk_score + till_here;
      if (target.starts_at < 0 || candidate > target.score) {
        target.score = candidate;
        target.starts_at = static_cast<int32_t>(start);
        target.id = unk_id;
      }
    }
    start += mblen;
  }

  // Backtrack into `out`, then put the appended tail in text order.
  const std::size_t first = out.size();
  std::size_t end = size;
  while (end > 0) {
    const BestPath& node = best[end];
    out.push_back({node.id, static_cast<uint32_t>(node.starts_at), static_cast<uint32_t>(end)});
    end = static_cast<std::size_t>(node.starts_at);
  }
  std::reverse(out.begin() + static_cast<std::ptrdiff_t>(first), out.end());
  if (unk_id < 0) return;

  // Fuse runs of unknown tokens (and expand them to bytes with byte fallback), in place.
  bool any_unk = false;
  for (std::size_t i = first; i < out.size(); ++i) any_unk |= out[i].id == unk_id;
  if (!any_unk) return;
  std::vector<UnigramToken> path(out.begin() + static_cast<std::ptrdiff_t>(first), out.end());
  out.resize(first);
  for (std::size_t i = 0; i < path.size();) {
    if (path[i].id != unk_id) {
      out.push_back(path[i++]);
      continue;
    }
    std::size_t j = i + 1;
    while (j < path.size() && path[j].id == unk_id) ++j;
    emit_unknown(path[i].begin, path[j - 1].end, text, out);
    i = j;
  }
}

}  // namespace xling::tokenize
