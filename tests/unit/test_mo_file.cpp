// .mo parsing: files written by the test in both byte orders parse back (contexts, plurals,
// header charset); truncated and hostile files raise IoError naming the file.
#include <gtest/gtest.h>

#include <string>

#include "core/sha256.hpp"
#include "data/mo_file.hpp"
#include "mo_writer.hpp"
#include "xling/errors.hpp"

using xling::data::parse_mo;
using xling::test::mo_bytes;

namespace {

std::string sample(bool big_endian) {
  return mo_bytes({{"", xling::test::kUtf8Header},
                   {"Open", "Öffnen"},
                   {std::string("menu\x04") + "Quit", "Beenden"},
                   {std::string("%d file") + '\0' + "%d files", std::string("%d Datei") + '\0' + "%d Dateien"}},
                  big_endian);
}

void expect_sample(const xling::data::MoCatalog& c) {
  ASSERT_EQ(c.entries.size(), 4u);
  EXPECT_EQ(c.charset, "utf-8");
  EXPECT_EQ(c.header, xling::test::kUtf8Header);
  EXPECT_EQ(c.entries[1].msgid, "Open");
  EXPECT_FALSE(c.entries[1].has_context);
  EXPECT_EQ(c.entries[1].translations, std::vector<std::string>{"Öffnen"});
  EXPECT_TRUE(c.entries[2].has_context);
  EXPECT_EQ(c.entries[2].context, "menu");
  EXPECT_EQ(c.entries[2].msgid, "Quit");
  EXPECT_EQ(c.entries[2].translations.front(), "Beenden");
  EXPECT_TRUE(c.entries[3].is_plural);
  EXPECT_EQ(c.entries[3].msgid, "%d file");
  EXPECT_EQ(c.entries[3].msgid_plural, "%d files");
  EXPECT_EQ(c.entries[3].translations, (std::vector<std::string>{"%d Datei", "%d Dateien"}));
}

void expect_io_error(const std::string& bytes, const std::string& needle) {
  try {
    parse_mo(bytes, "bad.mo");
    FAIL() << "no IoError for " << needle;
  } catch (const xling::IoError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("bad.mo"), std::string::npos) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
  }
}

}  // namespace

TEST(MoFile, LittleEndianParsesBack) {
  auto c = parse_mo(sample(false), "le.mo");
  EXPECT_FALSE(c.big_endian);
  expect_sample(c);
}

TEST(MoFile, BigEndianParsesBack) {
  auto c = parse_mo(sample(true), "be.mo");
  EXPECT_TRUE(c.big_endian);
  expect_sample(c);
}

TEST(MoFile, HeaderCharset) {
  EXPECT_EQ(xling::data::header_charset("Content-Type: text/plain; charset=ISO-8859-1\n"), "iso-8859-1");
  EXPECT_EQ(xling::data::header_charset("X: y\ncontent-type: text/plain; charset=utf-8\nZ: w"), "utf-8");
  EXPECT_EQ(xling::data::header_charset("Project-Id-Version: x\n"), "");
  auto c = parse_mo(mo_bytes({{"", "Content-Type: text/plain; charset=EUC-JP\n"}, {"a", "b"}}), "x.mo");
  EXPECT_EQ(c.charset, "euc-jp");
  EXPECT_FALSE(xling::data::charset_supported(c.charset));
}

TEST(MoFile, CharsetConversion) {
  std::string out;
  ASSERT_TRUE(xling::data::to_utf8("\xD6" "ffnen", "iso-8859-1", out));
  EXPECT_EQ(out, "Öffnen");
  ASSERT_TRUE(xling::data::to_utf8("\xA4", "iso-8859-15", out));
  EXPECT_EQ(out, "€");
  EXPECT_FALSE(xling::data::to_utf8("\xD6", "utf-8", out));
  EXPECT_FALSE(xling::data::to_utf8("\xD6", "ascii", out));
  EXPECT_FALSE(xling::data::to_utf8("x", "euc-kr", out));
}

TEST(MoFile, RevisionOneAcceptedTwoRejected) {
  EXPECT_NO_THROW(parse_mo(mo_bytes({{"a", "b"}}, false, 1), "r1.mo"));
  expect_io_error(mo_bytes({{"a", "b"}}, false, 2u << 16), "revision");
}

TEST(MoFile, BadMagic) {
  std::string b = sample(false);
  b[0] = 'X';
  expect_io_error(b, "magic");
  expect_io_error("", "shorter than the 28-byte header");
}

TEST(MoFile, EveryTruncationIsAnIoError) {
  std::string b = sample(false);
  for (std::size_t n = 0; n < b.size(); ++n) {
    EXPECT_THROW(parse_mo(b.substr(0, n), "t.mo"), xling::IoError) << "length " << n;
  }
}

TEST(MoFile, AbsurdCountAndOffsets) {
  std::string b = sample(false);
  std::string huge = b;
  huge[8] = huge[9] = huge[10] = huge[11] = '\xFF';  // N = 2^32 - 1
  expect_io_error(huge, "past the end");
  std::string off = b;
  off[12] = off[13] = off[14] = '\xFF';  // original table offset far past the end
  expect_io_error(off, "past the end");
  std::string str = b;
  str[28 + 8 + 4] = '\xF0';  // offset of entry 1's msgid
  str[28 + 8 + 5] = '\xFF';
  str[28 + 8 + 6] = '\xFF';
  expect_io_error(str, "runs past the end");
}

TEST(MoFile, RandomCorruptionNeverCrashes) {
  std::string b = sample(true);
  uint64_t state = 42;
  for (int trial = 0; trial < 2000; ++trial) {
    std::string c = b;
    for (int k = 0; k < 4; ++k) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      c[(state >> 33) % c.size()] = static_cast<char>(state >> 17);
    }
    try {
      parse_mo(c, "r.mo");
    } catch (const xling::IoError&) {
    }
  }
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(xling::core::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(xling::core::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(xling::core::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(xling::core::sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
