// Test helper: writes GNU .mo bytes (either byte order) from (msgid, msgstr) pairs, where
// msgid already holds any "ctx\x04" prefix and "\0"-joined plural forms.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace xling::test {

inline std::string mo_bytes(std::vector<std::pair<std::string, std::string>> entries, bool big_endian = false,
                            uint32_t revision = 0) {
  std::string out;
  auto put = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) {
      int shift = big_endian ? 24 - 8 * i : 8 * i;
      out += static_cast<char>((v >> shift) & 0xFF);
    }
  };
  const uint32_t n = static_cast<uint32_t>(entries.size());
  const uint32_t orig = 28, trans = orig + 8 * n, strings = trans + 8 * n;
  put(0x950412deu);
  put(revision);
  put(n);
  put(orig);
  put(trans);
  put(0);  // hash table size
  put(0);  // hash table offset
  std::string blob;
  std::vector<std::pair<uint32_t, uint32_t>> ids, strs;
  for (const auto& [id, str] : entries) {
    ids.emplace_back(static_cast<uint32_t>(id.size()), strings + static_cast<uint32_t>(blob.size()));
    blob += id;
    blob += '\0';
  }
  for (const auto& [id, str] : entries) {
    strs.emplace_back(static_cast<uint32_t>(str.size()), strings + static_cast<uint32_t>(blob.size()));
    blob += str;
    blob += '\0';
  }
  for (auto [len, off] : ids) { put(len); put(off); }
  for (auto [len, off] : strs) { put(len); put(off); }
  return out + blob;
}

inline const char* kUtf8Header = "Project-Id-Version: test\nContent-Type: text/plain; charset=UTF-8\n";

}  // namespace xling::test
