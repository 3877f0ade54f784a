// CharsMap: lookups in hand-made Darts-clone blobs (HF shortest-prefix and sentencepiece
// longest-prefix semantics) and rejection of malformed blobs with IoError.
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tokenize/charsmap.hpp"
#include "tokenize/sentencepiece_model.hpp"
#include "xling/errors.hpp"

namespace {

using xling::IoError;
using xling::tokenize::CharsMap;

// Darts-clone unit encoding (darts.h DoubleArrayBuilderUnit).
constexpr uint32_t kHasLeaf = 1u << 8;
constexpr uint32_t kIsLeaf = 1u << 31;
uint32_t with_offset(uint32_t unit, uint32_t offset) {
  EXPECT_LT(offset, 1u << 21) << "test blobs keep offsets small";
  return unit | (offset << 10);
}

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

// A precompiled_charsmap blob mapping each key to its replacement. Node k's children live in
// block k + 1 (units 256 (k+1) .. 256 (k+1) + 255), its leaf value in the block's unit 0.
std::string make_blob(const std::map<std::string, std::string>& rules) {
  struct Node {
    std::map<unsigned char, int> kids;
    int value = -1;
  };
  std::vector<Node> nodes(1);
  std::string pool;
  for (const auto& [key, replacement] : rules) {
    int n = 0;
    for (unsigned char c : key) {
      auto it = nodes[n].kids.find(c);
      if (it == nodes[n].kids.end()) {
        nodes.emplace_back();
        it = nodes[n].kids.emplace(c, static_cast<int>(nodes.size()) - 1).first;
      }
      n = it->second;
    }
    nodes[n].value = static_cast<int>(pool.size());
    pool += replacement;
    pool.push_back('\0');
  }
  std::vector<uint32_t> units(256 * (nodes.size() + 1), 0);
  std::vector<uint32_t> position(nodes.size(), 0);
  for (std::size_t k = 0; k < nodes.size(); ++k) {  // parents come before children
    const uint32_t base = static_cast<uint32_t>(256 * (k + 1));
    const uint32_t p = position[k];
    units[p] = with_offset(units[p], p ^ base);
    if (nodes[k].value >= 0) {
      units[p] |= kHasLeaf;
      units[base] = kIsLeaf | static_cast<uint32_t>(nodes[k].value);
    }
    for (const auto& [c, child] : nodes[k].kids) {
      units[base + c] = c;
      position[child] = base + c;
    }
  }
  std::string blob;
  put_u32(blob, static_cast<uint32_t>(units.size() * 4));
  for (uint32_t u : units) put_u32(blob, u);
  return blob + pool;
}

const std::map<std::string, std::string> kRules = {
    {"a", "A"},
    {"ab", "X"},
    {"abc", "Y"},
    {"\xEF\xAC\x81", "fi"},  // U+FB01 LATIN SMALL LIGATURE FI
    {"\xEF\xBC\xA1", "A"},   // U+FF21 FULLWIDTH A
    {"\x01", ""},            // deleted
    {"\xE3\x80\x80", " "},   // U+3000 IDEOGRAPHIC SPACE
};

TEST(CharsMap, LongestMatchIsSentencePieceSemantics) {
  const CharsMap map = CharsMap::parse(make_blob(kRules), "test");
  std::string_view r;
  EXPECT_EQ(map.longest_match("abcd", &r), 3u);
  EXPECT_EQ(r, "Y");
  EXPECT_EQ(map.longest_match("abz", &r), 2u);
  EXPECT_EQ(r, "X");
  EXPECT_EQ(map.longest_match("a", &r), 1u);
  EXPECT_EQ(r, "A");
  EXPECT_EQ(map.longest_match("\xEF\xAC\x81x", &r), 3u);
  EXPECT_EQ(r, "fi");
  EXPECT_EQ(map.longest_match("\x01z", &r), 1u);
  EXPECT_EQ(r, "");
  r = "untouched";
  EXPECT_EQ(map.longest_match("zab", &r), 0u);
  EXPECT_EQ(r, "untouched");
  EXPECT_EQ(map.longest_match("", &r), 0u);
  EXPECT_EQ(map.longest_match("\xEF\xAC", &r), 0u);  // a prefix of a key is no match
  EXPECT_EQ(map.longest_match("abc", nullptr), 3u);
}

TEST(CharsMap, HfTransformTakesTheShortestMatch) {
  const CharsMap map = CharsMap::parse(make_blob(kRules), "test");
  EXPECT_EQ(map.hf_transform("abc"), std::optional<std::string_view>("A"));
  EXPECT_EQ(map.hf_transform("\xEF\xBC\xA1"), std::optional<std::string_view>("A"));
  EXPECT_EQ(map.hf_transform("\xE3\x80\x80"), std::optional<std::string_view>(" "));
  EXPECT_EQ(map.hf_transform("\x01"), std::optional<std::string_view>(""));
  EXPECT_EQ(map.hf_transform("b"), std::nullopt);
  EXPECT_EQ(map.hf_transform(""), std::nullopt);
  // spm_precompiled stops at a NUL byte; the sentencepiece lookup does not care.
  EXPECT_EQ(map.hf_transform(std::string_view("\0a", 2)), std::nullopt);
}

TEST(CharsMap, EmptyBlobMatchesNothing) {
  const CharsMap map = CharsMap::parse("", "test");
  EXPECT_TRUE(map.empty());
  std::string_view r;
  EXPECT_EQ(map.longest_match("abc", &r), 0u);
  EXPECT_EQ(map.hf_transform("abc"), std::nullopt);
  EXPECT_TRUE(CharsMap().empty());
}

TEST(CharsMap, MalformedBlobsAreIoErrors) {
  const std::string good = make_blob(kRules);
  auto with_size = [&](uint32_t trie_bytes) {
    std::string b = good;
    for (int i = 0; i < 4; ++i) b[i] = static_cast<char>((trie_bytes >> (8 * i)) & 0xFF);
    return b;
  };
  EXPECT_THROW(CharsMap::parse("abc", "test"), IoError);                         // no room for the size
  EXPECT_THROW(CharsMap::parse(std::string("\x08\0\0\0", 4), "test"), IoError);  // trie past the end
  EXPECT_THROW(CharsMap::parse(with_size(0), "test"), IoError);                  // no root unit
  EXPECT_THROW(CharsMap::parse(with_size(6), "test"), IoError);                  // not whole units
  EXPECT_THROW(CharsMap::parse(with_size(0xFFFFFFFCu), "test"), IoError);        // huge
  EXPECT_THROW(CharsMap::parse(good.substr(0, 1000), "test"), IoError);          // truncated trie
  try {
    CharsMap::parse(good.substr(0, 3), "model.bin (normalizer_spec)");
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("model.bin (normalizer_spec)"), std::string::npos) << e.what();
  }
}

TEST(CharsMap, LeafOutsideThePoolIsAnIoErrorAtLookup) {
  // Cut the string pool: the trie still parses, but the value of "abc" now points past its end.
  const std::string good = make_blob(kRules);
  const std::string cut = good.substr(0, good.size() - 6);
  const CharsMap map = CharsMap::parse(cut, "test");
  std::string_view r;
  EXPECT_EQ(map.longest_match("a", &r), 1u);  // early values still resolve
  bool threw = false;
  for (const char* text : {"abc", "\xEF\xAC\x81", "\xEF\xBC\xA1", "\x01", "\xE3\x80\x80"}) {
    try {
      map.longest_match(text, &r);
    } catch (const IoError&) {
      threw = true;
    }
  }
  EXPECT_TRUE(threw);
}

TEST(CharsMap, RandomBlobsNeverReadOutOfBounds) {
  std::mt19937 rng(1234);
  const std::string good = make_blob(kRules);
  const std::vector<std::string> probes = {"abc",  "\xEF\xAC\x81",          "\x01\x02\x03",
                                           "zzzz", std::string(64, '\xFF'), std::string("\0\0\0", 3)};
  int parsed = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string blob;
    if (round % 2 == 0) {  // mutated good blob
      blob = good;
      for (int k = 0; k < 1 + static_cast<int>(rng() % 8); ++k) blob[rng() % blob.size()] = static_cast<char>(rng());
      if (rng() % 4 == 0) blob.resize(rng() % blob.size());
    } else {  // small random blob with a plausible size field
      const uint32_t units = 1 + rng() % 64;
      put_u32(blob, units * 4);
      for (uint32_t i = 0; i < units; ++i) put_u32(blob, static_cast<uint32_t>(rng()));
      for (uint32_t i = rng() % 16; i > 0; --i) blob.push_back(static_cast<char>(rng()));
    }
    try {
      const CharsMap map = CharsMap::parse(blob, "fuzz");
      ++parsed;
      for (const auto& p : probes) {
        std::string_view r;
        try {
          const std::size_t n = map.longest_match(p, &r);
          EXPECT_LE(n, p.size());
          (void)map.hf_transform(p);
        } catch (const IoError&) {
        }
      }
    } catch (const IoError&) {
    }
  }
  EXPECT_GT(parsed, 100);
}

TEST(CharsMap, SentencePieceNmtNfkcBlob) {
  // The Unigram fixture ships sentencepiece's nmt_nfkc rules: NFKC plus whitespace folding.
  const auto model =
      xling::tokenize::SpmModelProto::load(std::string(XLING_FIXTURES) + "/tokenizers/sentencepiece_raw/unigram.model");
  ASSERT_FALSE(model.normalizer_spec.precompiled_charsmap.empty());
  const CharsMap map = CharsMap::parse(model.normalizer_spec.precompiled_charsmap, "unigram.model");
  std::string_view r;
  EXPECT_EQ(map.longest_match("\xEF\xAC\x81", &r), 3u);  // U+FB01 -> "fi"
  EXPECT_EQ(r, "fi");
  EXPECT_EQ(map.longest_match("\xEF\xBC\xA1", &r), 3u);  // U+FF21 -> "A"
  EXPECT_EQ(r, "A");
  EXPECT_EQ(map.longest_match("abc", &r), 0u);  // plain ASCII is left alone
}

}  // namespace
