// Darts-clone double-array lookups over a sentencepiece precompiled_charsmap (see charsmap.hpp).
#include "tokenize/charsmap.hpp"

#include <cstring>

#include <fmt/format.h>

#include "xling/errors.hpp"

namespace xling::tokenize {

namespace {

// Darts-clone unit layout (darts.h, DoubleArrayUnit).
inline bool unit_has_leaf(uint32_t unit) { return ((unit >> 8) & 1) == 1; }
inline uint32_t unit_value(uint32_t unit) { return unit & ((1U << 31) - 1); }
inline uint32_t unit_label(uint32_t unit) { return unit & ((1U << 31) | 0xFF); }
inline std::size_t unit_offset(uint32_t unit) {
  return static_cast<std::size_t>(unit >> 10) << ((unit & (1U << 9)) >> 6);
}

uint32_t read_u32_le(const char* p) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint32_t>(b[0]) | (static_cast<uint32_t>(b[1]) << 8) | (static_cast<uint32_t>(b[2]) << 16) |
         (static_cast<uint32_t>(b[3]) << 24);
}

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw IoError(fmt::format("{}: invalid precompiled_charsmap: {}", source, what));
}

}  // namespace

CharsMap CharsMap::parse(std::string_view blob, const std::string& source) {
  CharsMap out;
  out.source_ = source;
  if (blob.empty()) return out;
  if (blob.size() < 4) {
    fail(source, fmt::format("{} bytes is too short for the 4-byte trie size", blob.size()));
  }
  const uint32_t trie_bytes = read_u32_le(blob.data());
  const std::size_t rest = blob.size() - 4;
  if (trie_bytes > rest) {
    fail(source, fmt::format("trie size {} runs past the end of the blob ({} bytes after the size): truncated?",
                             trie_bytes, rest));
  }
  if (trie_bytes == 0 || trie_bytes % 4 != 0) {
    fail(source, fmt::format("trie size {} is not a positive multiple of the 4-byte unit", trie_bytes));
  }
  const std::size_t num_units = trie_bytes / 4;
  out.units_.resize(num_units);
  for (std::size_t i = 0; i < num_units; ++i) out.units_[i] = read_u32_le(blob.data() + 4 + 4 * i);
  out.pool_.assign(blob.substr(4 + trie_bytes));
  return out;
}

template <typename OnLeaf>
void CharsMap::walk(std::string_view key, bool stop_at_nul, OnLeaf&& on_leaf) const {
  if (units_.empty()) return;
  const std::size_t n = units_.size();
  std::size_t node_pos = unit_offset(units_[0]);
  for (std::size_t i = 0; i < key.size(); ++i) {
    const auto c = static_cast<unsigned char>(key[i]);
    if (stop_at_nul && c == 0) return;
    node_pos ^= c;
    // A unit outside the array cannot carry the label: no such child.
    if (node_pos >= n) return;
    const uint32_t unit = units_[node_pos];
    if (unit_label(unit) != c) return;
    node_pos ^= unit_offset(unit);
    if (unit_has_leaf(unit)) {
      if (node_pos >= n) {
        throw IoError(
            fmt::format("{}: invalid precompiled_charsmap: a trie leaf lies at unit {} of {}", source_, node_pos, n));
      }
      if (!on_leaf(i + 1, unit_value(units_[node_pos]))) return;
    }
  }
}

std::string_view CharsMap::replacement_at(uint32_t value) const {
  if (value >= pool_.size()) {
    throw IoError(
        fmt::format("{}: invalid precompiled_charsmap: a trie value points at byte {} of a {}-byte string pool",
                    source_, value, pool_.size()));
  }
  const char* begin = pool_.data() + value;
  const std::size_t left = pool_.size() - value;
  const void* nul = std::memchr(begin, '\0', left);
  return std::string_view(begin, nul ? static_cast<const char*>(nul) - begin : left);
}

std::optional<std::string_view> CharsMap::hf_transform(std::string_view chunk) const {
  std::optional<uint32_t> first;
  walk(chunk, /*stop_at_nul=*/true, [&](std::size_t, uint32_t value) {
    first = value;
    return false;
  });
  if (!first) return std::nullopt;
  return replacement_at(*first);
}

std::size_t CharsMap::longest_match(std::string_view text, std::string_view* replacement) const {
  std::size_t longest = 0;
  uint32_t value = 0;
  walk(text, /*stop_at_nul=*/false, [&](std::size_t length, uint32_t v) {
    longest = length;
    value = v;
    return true;
  });
  if (longest == 0) return 0;
  std::string_view r = replacement_at(value);
  if (replacement) *replacement = r;
  return longest;
}

}  // namespace xling::tokenize
