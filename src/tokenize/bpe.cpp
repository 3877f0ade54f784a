// BPE with a merge list (HF tokenizers' model): a piece starts as one symbol per char (or
// its bytes with byte_fallback, or unk), then the lowest-ranked adjacent pair is merged
// until none applies. ignore_merges: a piece found whole in the vocabulary is one token.
#include <mutex>
#include <queue>
#include <shared_mutex>

#include <fmt/format.h>

#include "core/json.hpp"
#include "tokenize/model.hpp"
#include "tokenize/unicode.hpp"
#include "xling/errors.hpp"

namespace xling::tokenize {
namespace {

struct PairHash {
  std::size_t operator()(uint64_t k) const { return std::hash<uint64_t>{}(k * 0x9E3779B97F4A7C15ull); }
};

inline uint64_t pair_key(int a, int b) { return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b); }

class Bpe : public Model {
 public:
  struct Options {
    std::optional<int> unk;
    std::string prefix, suffix;
    bool byte_fallback = false, fuse_unk = false, ignore_merges = false;
  };

  Bpe(Vocab vocab, std::unordered_map<uint64_t, std::pair<int, int>, PairHash> merges, Options o)
      : vocab_(std::move(vocab)), merges_(std::move(merges)), opt_(std::move(o)) {
    if (opt_.byte_fallback) {
      for (int b = 0; b < 256; ++b) {
        auto id = vocab_.find(fmt::format("<0x{:02X}>", b));
        byte_ids_[b] = id ? *id : -1;
      }
    }
  }

  void tokenize(std::string_view piece, std::vector<ModelToken>& out) const override {
    if (piece.empty()) return;
    if (opt_.ignore_merges) {
      if (auto id = vocab_.find(piece)) {
        out.push_back({*id, 0, static_cast<uint32_t>(piece.size())});
        return;
      }
    }
    {
      std::shared_lock lock(cache_mutex_);
      auto it = cache_.find(std::string(piece));
      if (it != cache_.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        return;
      }
    }
    std::vector<ModelToken> result;
    merge_word(piece, result);
    out.insert(out.end(), result.begin(), result.end());
    if (piece.size() < 256) {
      std::unique_lock lock(cache_mutex_);
      if (cache_.size() > 100000) cache_.clear();
      cache_.emplace(std::string(piece), std::move(result));
    }
  }

  std::optional<int> token_to_id(std::string_view t) const override { return vocab_.find(t); }
  const std::string* id_to_token(int id) const override { return vocab_.piece(id); }
  std::size_t vocab_size() const override { return vocab_.size(); }

 private:
  struct Symbol {
    int id;
    int prev, next;
    uint32_t begin, end;
  };
  struct Merge {
    int pos, rank, new_id;
    bool operator<(const Merge& o) const {  // priority_queue: top = lowest rank, then leftmost
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };

  void merge_word(std::string_view w, std::vector<ModelToken>& out) const {
    std::vector<Symbol> syms;
    std::optional<std::pair<uint32_t, uint32_t>> pending_unk;
    auto flush_unk = [&]() {
      if (pending_unk) {
        syms.push_back({*opt_.unk, -1, -1, pending_unk->first, pending_unk->second});
        pending_unk.reset();
      }
    };
    std::string buf;
    for (std::size_t i = 0; i < w.size();) {
      char32_t c;
      int n = decode_utf8(w, i, c);
      uint32_t b = static_cast<uint32_t>(i), e = static_cast<uint32_t>(i + n);
      bool first = i == 0, last = i + n == w.size();
      buf.clear();
      if (!first) buf = opt_.prefix;
      buf.append(w.substr(i, static_cast<std::size_t>(n)));
      if (last) buf += opt_.suffix;
      i += static_cast<std::size_t>(n);
      if (auto id = vocab_.find(buf)) {
        flush_unk();
        syms.push_back({*id, -1, -1, b, e});
        continue;
      }
      if (opt_.byte_fallback) {
        bool all = true;
        for (uint32_t k = b; k < e; ++k) all &= byte_ids_[static_cast<uint8_t>(w[k])] >= 0;
        if (all) {
          flush_unk();
          for (uint32_t k = b; k < e; ++k) syms.push_back({byte_ids_[static_cast<uint8_t>(w[k])], -1, -1, k, k + 1});
          continue;
        }
      }
      if (opt_.unk) {
        if (opt_.fuse_unk && pending_unk) {
          pending_unk->second = e;
        } else {
          flush_unk();
          pending_unk = std::make_pair(b, e);
        }
      }
    }
    flush_unk();
    for (std::size_t k = 0; k < syms.size(); ++k) {
      syms[k].prev = static_cast<int>(k) - 1;
      syms[k].next = k + 1 < syms.size() ? static_cast<int>(k) + 1 : -1;
    }
    std::priority_queue<Merge> queue;
    for (std::size_t k = 0; k + 1 < syms.size(); ++k) {
      auto it = merges_.find(pair_key(syms[k].id, syms[k + 1].id));
      if (it != merges_.end()) queue.push({static_cast<int>(k), it->second.first, it->second.second});
    }
    while (!queue.empty()) {
      Merge top = queue.top();
      queue.pop();
      Symbol& left = syms[static_cast<std::size_t>(top.pos)];
      if (left.id < 0 || left.next < 0) continue;
      Symbol& right = syms[static_cast<std::size_t>(left.next)];
      auto it = merges_.find(pair_key(left.id, right.id));
      if (it == merges_.end() || it->second.first != top.rank || it->second.second != top.new_id) continue;
      left.id = top.new_id;
      left.end = right.end;
      int right_next = right.next;
      right.id = -1;  // removed
      left.next = right_next;
      if (right_next >= 0) syms[static_cast<std::size_t>(right_next)].prev = top.pos;
      if (left.prev >= 0) {
        const Symbol& p = syms[static_cast<std::size_t>(left.prev)];
        auto m = merges_.find(pair_key(p.id, left.id));
        if (m != merges_.end()) queue.push({left.prev, m->second.first, m->second.second});
      }
      if (left.next >= 0) {
        const Symbol& nx = syms[static_cast<std::size_t>(left.next)];
        auto m = merges_.find(pair_key(left.id, nx.id));
        if (m != merges_.end()) queue.push({top.pos, m->second.first, m->second.second});
      }
    }
    for (const auto& s : syms) {
      if (s.id >= 0) out.push_back({s.id, s.begin, s.end});
    }
  }

  Vocab vocab_;
  std::unordered_map<uint64_t, std::pair<int, int>, PairHash> merges_;  // (a, b) -> (rank, merged id)
  Options opt_;
  int byte_ids_[256] = {};
  mutable std::shared_mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<ModelToken>> cache_;
};

}  // namespace

std::unique_ptr<Model> make_bpe(const nlohmann::json& j, const std::string& where) {
  core::JsonFields f(j, where);
  Vocab vocab = Vocab::from_json(f, "vocab");
  Bpe::Options o;
  o.prefix = f.string_or("continuing_subword_prefix", "");
  o.suffix = f.string_or("end_of_word_suffix", "");
  o.byte_fallback = f.boolean_or("byte_fallback", false);
  o.fuse_unk = f.boolean_or("fuse_unk", false);
  o.ignore_merges = f.boolean_or("ignore_merges", false);
  if (f.has("dropout") && f.number("dropout") > 0.0) {
    // Dropout is a training-time regulariser; inference runs without it, as HF does when unset.
  }
  if (f.has("unk_token")) {
    auto id = vocab.find(f.string("unk_token"));
    if (!id) f.fail("unk_token", "is not in the vocabulary");
    o.unk = *id;
  }
  std::unordered_map<uint64_t, std::pair<int, int>, PairHash> merges;
  const auto& list = f.raw("merges");
  if (!list.is_array()) f.fail("merges", "expected a list");
  int rank = 0;
  std::size_t prefix_len = o.prefix.size();
  for (const auto& m : list) {
    std::string a, b;
    if (m.is_string()) {  // older spelling: "a b"
      const std::string& s = m.get_ref<const std::string&>();
      auto sp = s.find(' ', 1);
      if (sp == std::string::npos) f.fail("merges", fmt::format("merge {} has no space", core::json_excerpt(m)));
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      a = m[0].get<std::string>();
      b = m[1].get<std::string>();
    } else {
      f.fail("merges", fmt::format("merge {} is neither \"a b\" nor [\"a\", \"b\"]", core::json_excerpt(m)));
    }
    auto ia = vocab.find(a), ib = vocab.find(b);
    std::string merged = a + (b.compare(0, prefix_len, o.prefix) == 0 ? b.substr(prefix_len) : b);
    auto im = vocab.find(merged);
    if (!ia || !ib || !im) {
      throw InvalidArgument(fmt::format("{}: merge [{}, {}] uses a token missing from the vocabulary", where,
                                        core::json_excerpt(a), core::json_excerpt(b)));
    }
    merges.insert_or_assign(pair_key(*ia, *ib), std::make_pair(rank++, *im));  // last wins, as in HF
  }
  return std::make_unique<Bpe>(std::move(vocab), std::move(merges), std::move(o));
}

Vocab Vocab::from_json(const core::JsonFields& f, const std::string& key) {
  const auto& v = f.raw(key);
  if (!v.is_object()) f.fail(key, "expected an object {piece: id}");
  Vocab vocab;
  for (const auto& [piece, id] : v.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX) {
      f.fail(key, fmt::format("id of '{}' is not a non-negative integer", piece));
    }
    vocab.add(piece, id.get<int>());
  }
  return vocab;
}

void Vocab::add(std::string piece, int id) {
  if (static_cast<std::size_t>(id) >= by_id_.size()) by_id_.resize(static_cast<std::size_t>(id) + 1);
  by_id_[static_cast<std::size_t>(id)] = piece;
  by_piece_[std::move(piece)] = id;
}

std::optional<int> Vocab::find(std::string_view piece) const {
  auto it = by_piece_.find(piece);
  if (it == by_piece_.end()) return std::nullopt;
  return it->second;
}

const std::string* Vocab::piece(int id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= by_id_.size()) return nullptr;
  return &by_id_[static_cast<std::size_t>(id)];
}

}  // namespace xling::tokenize
