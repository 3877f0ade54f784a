// Unigram language-model segmentation (Viterbi over all vocabulary pieces), shared by
// sentencepiece .model files and tokenizer.json "Unigram" models, and PieceTrie, the
// double-array trie it (and the sentencepiece tokenizer) match pieces with.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xling::tokenize {

// Static byte-string -> int map as a double array (base + label, label = byte + 1):
// one array read and one comparison per input byte.
class PieceTrie {
 public:
  PieceTrie();
  // Builds from (key, value) pairs with value >= 0; when a key appears more than once the
  // last value wins. Empty keys are ignored.
  explicit PieceTrie(const std::vector<std::pair<std::string_view, int>>& entries);

  // Calls fn(length, value) for each key that is a prefix of text, shortest first.
  template <typename Fn>
  void for_each_prefix(std::string_view text, Fn&& fn) const {
    const Unit* units = units_.data();
    uint32_t node = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
      // The array is padded so that base + 256 is always inside it.
      const uint32_t next = units[node].base + static_cast<unsigned char>(text[i]) + 1;
      if (units[next].check != node) return;
      node = next;
      if (units[node].value >= 0) fn(i + 1, units[node].value);
    }
  }

  // The value of `key`, or -1.
  int find(std::string_view key) const;

  // Node-level access for incremental lookups: the root, the node reached by following
  // `text` from `node` (kNoNode when that path leaves the trie), and a node's value (-1 if
  // no key ends there).
  static constexpr uint32_t kRoot = 0;
  static constexpr uint32_t kNoNode = 0xFFFFFFFFu;
  uint32_t walk(uint32_t node, std::string_view text) const {
    const Unit* units = units_.data();
    for (char ch : text) {
      const uint32_t next = units[node].base + static_cast<unsigned char>(ch) + 1;
      if (units[next].check != node) return kNoNode;
      node = next;
    }
    return node;
  }
  int value_at(uint32_t node) const { return units_[node].value; }
  // Length of the longest key that is a prefix of text (0 if none) and its value in *value.
  std::size_t longest_prefix(std::string_view text, int* value) const;
  std::size_t num_keys() const { return num_keys_; }
  std::size_t num_units() const { return units_.size(); }

 private:
  static constexpr uint32_t kFree = 0xFFFFFFFFu;
  struct Unit {
    uint32_t base = 0;
    uint32_t check = kFree;  // index of the parent, kFree for an unused unit
    int32_t value = -1;      // >= 0 when a key ends here
  };
  std::vector<Unit> units_;
  std::size_t num_keys_ = 0;
};

struct UnigramToken {
  int id;
  uint32_t begin;  // byte offsets into the encoded text
  uint32_t end;
};

struct UnigramOptions {
  int unk_id = 0;  // < 0: no unknown piece; encoding a character no piece covers throws
  bool byte_fallback = false;
  double unk_penalty = 10.0;
  // The unknown-character score is min_score - unk_penalty. Unset: the lowest of all scores
  // (HF tokenizers); sentencepiece takes the lowest score of its NORMAL pieces.
  std::optional<double> min_score;
  // sentencepiece stores best-path scores as float32 (HF tokenizers: float64); ties and
  // near-ties resolve differently, so this selects which library to match bit for bit.
  bool float32_path_scores = false;
};

class UnigramModel {
 public:
  // pieces[id], scores[id]; matchable[id] == false for pieces Viterbi must never produce
  // (sentencepiece CONTROL/UNUSED/UNKNOWN pieces; BYTE pieces are used only by byte fallback).
  // Throws InvalidArgument when the sizes differ or unk_id is out of range.
  UnigramModel(std::vector<std::string> pieces, std::vector<double> scores, std::vector<bool> matchable,
               UnigramOptions options);

  // Appends the best segmentation of `text` to `out`. Runs of unknown characters become one
  // unk token; with byte_fallback (and all their <0xXX> pieces present) one byte piece per
  // UTF-8 byte instead, each with the offsets of the whole run.
  void encode(std::string_view text, std::vector<UnigramToken>& out) const;

  // The id of `piece` (any piece, matchable or not; the last one if repeated).
  std::optional<int> id_of(std::string_view piece) const;
  const std::string& piece(int id) const;  // throws InvalidArgument when out of range
  double score(int id) const;              // throws InvalidArgument when out of range
  std::size_t size() const { return pieces_.size(); }
  const UnigramOptions& options() const { return options_; }

 private:
  template <typename Score>
  void viterbi(std::string_view text, std::vector<UnigramToken>& out) const;
  void emit_unknown(uint32_t begin, uint32_t end, std::string_view text, std::vector<UnigramToken>& out) const;

  std::vector<std::string> pieces_;
  std::vector<double> scores_;
  UnigramOptions options_;
  PieceTrie matchable_;              // matchable pieces -> id
  std::vector<int32_t> by_piece_;    // every id, sorted by (piece, id): id_of
  std::array<int, 256> byte_ids_{};  // id of <0xXX>, -1 if absent
  double unk_score_ = 0.0;
};

}  // namespace xling::tokenize
