// Added-token matching (see added_vocabulary.hpp), with HF tokenizers' find_matches rules.
#include "tokenize/added_vocabulary.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/json.hpp"
#include "tokenize/normalizers.hpp"
#include "xling/errors.hpp"

namespace xling::tokenize {

AddedToken parse_added_token(const nlohmann::json& j, const std::string& source) {
  core::JsonFields f(j, source + ": added_tokens");
  AddedToken t;
  int64_t id = f.integer("id");
  if (id < 0 || id > INT32_MAX) f.fail("id", "expected a non-negative token id");
  t.id = static_cast<int>(id);
  t.content = f.string("content");
  if (t.content.empty()) f.fail("content", "an added token cannot be empty");
  t.special = f.boolean_or("special", false);
  t.lstrip = f.boolean_or("lstrip", false);
  t.rstrip = f.boolean_or("rstrip", false);
  t.single_word = f.boolean_or("single_word", false);
  t.normalized = f.boolean_or("normalized", !t.special);
  return t;
}

void AddedVocabulary::Trie::insert(std::string_view s, int token) {
  int node = 0;
  for (unsigned char c : s) {
    auto& next = nodes[static_cast<std::size_t>(node)].next;
    auto it = std::find_if(next.begin(), next.end(), [c](const auto& p) { return p.first == c; });
    if (it != next.end()) {
      node = it->second;
    } else {
      nodes.push_back(Node{});
      int created = static_cast<int>(nodes.size()) - 1;
      nodes[static_cast<std::size_t>(node)].next.emplace_back(c, created);
      node = created;
    }
  }
  // The first token registered with a content wins (HF keeps the first id for a content).
  if (nodes[static_cast<std::size_t>(node)].token < 0) nodes[static_cast<std::size_t>(node)].token = token;
}

std::pair<int, std::size_t> AddedVocabulary::Trie::longest(std::string_view s, std::size_t pos) const {
  int node = 0;
  std::pair<int, std::size_t> best{-1, 0};
  for (std::size_t i = pos; i < s.size(); ++i) {
    const auto& next = nodes[static_cast<std::size_t>(node)].next;
    unsigned char c = static_cast<unsigned char>(s[i]);
    auto it = std::find_if(next.begin(), next.end(), [c](const auto& p) { return p.first == c; });
    if (it == next.end()) break;
    node = it->second;
    if (nodes[static_cast<std::size_t>(node)].token >= 0) best = {nodes[static_cast<std::size_t>(node)].token, i + 1 - pos};
  }
  return best;
}

AddedVocabulary::AddedVocabulary(std::vector<AddedToken> tokens, const Normalizer* normalizer) : tokens_(std::move(tokens)) {
  for (std::size_t i = 0; i < tokens_.size(); ++i) {
    const AddedToken& t = tokens_[i];
    if (!t.normalized) {
      raw_.insert(t.content, static_cast<int>(i));
      has_raw_ = true;
    } else {
      NormalizedString content(t.content, 0);
      if (normalizer) normalizer->normalize(content);
      if (content.empty()) continue;
      normalized_.insert(content.get(), static_cast<int>(i));
      has_normalized_ = true;
    }
  }
}

namespace {

char32_t last_char(std::string_view s) {
  if (s.empty()) return 0;
  std::size_t i = s.size() - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  char32_t c;
  decode_utf8(s, i, c);
  return c;
}

bool is_word_char(char32_t c) { return is_regex_word_char(c); }

}  // namespace

void AddedVocabulary::split(const NormalizedString& piece, const Trie& trie, std::vector<AddedSplit>& out) const {
  const std::string& s = piece.get();
  if (s.empty()) {
    out.push_back({piece, std::nullopt});
    return;
  }
  std::size_t start_offset = 0;
  std::size_t pos = 0;
  while (pos < s.size()) {
    auto [token, len] = trie.longest(s, pos);
    if (token < 0) {
      ++pos;
      continue;
    }
    const AddedToken& t = tokens_[static_cast<std::size_t>(token)];
    std::size_t start = pos, stop = pos + len;
    pos = stop;  // non-overlapping, like the Aho-Corasick iterator
    if (t.single_word) {
      bool start_ok = start == 0 || !is_word_char(last_char(std::string_view(s).substr(0, start)));
      char32_t next = 0;
      if (stop < s.size()) decode_utf8(s, stop, next);
      bool stop_ok = stop == s.size() || !is_word_char(next);
      if (!start_ok || !stop_ok) continue;
    }
    if (t.lstrip) {
      std::size_t k = start;
      while (k > 0) {
        std::size_t b = k - 1;
        while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
        char32_t c;
        decode_utf8(s, b, c);
        if (!is_whitespace(c)) break;
        k = b;
      }
      start = std::max(k, start_offset);
    }
    if (t.rstrip) {
      while (stop < s.size()) {
        char32_t c;
        int n = decode_utf8(s, stop, c);
        if (!is_whitespace(c)) break;
        stop += static_cast<std::size_t>(n);
      }
    }
    if (start_offset < start) out.push_back({piece.slice(start_offset, start), std::nullopt});
    out.push_back({piece.slice(start, stop), t.id});
    start_offset = stop;
  }
  if (start_offset < s.size()) out.push_back({piece.slice(start_offset, s.size()), std::nullopt});
}

std::vector<AddedSplit> AddedVocabulary::extract_and_normalize(std::string_view text, const Normalizer* normalizer) const {
  std::vector<AddedSplit> first;
  NormalizedString whole(text, 0);
  if (has_raw_) split(whole, raw_, first);
  else first.push_back({std::move(whole), std::nullopt});
  std::vector<AddedSplit> out;
  for (auto& part : first) {
    if (part.id) {
      out.push_back(std::move(part));
      continue;
    }
    if (normalizer) normalizer->normalize(part.text);
    if (has_normalized_) split(part.text, normalized_, out);
    else out.push_back(std::move(part));
  }
  return out;
}

const AddedToken* AddedVocabulary::find_id(int id) const {
  for (const auto& t : tokens_) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

std::optional<int> AddedVocabulary::find_content(std::string_view content) const {
  for (const auto& t : tokens_) {
    if (t.content == content) return t.id;
  }
  return std::nullopt;
}

bool AddedVocabulary::is_special(int id) const {
  const AddedToken* t = find_id(id);
  return t && t->special;
}

}  // namespace xling::tokenize
