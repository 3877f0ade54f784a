// Every malformed safetensors file is a clear IoError naming the file and the fault.
#include <gtest/gtest.h>

#include "io/safetensors.hpp"
#include "test_util.hpp"
#include "xling/errors.hpp"

using xling::io::SafeTensorsFile;
using xling::testing::raw_safetensors;

namespace {

struct Case {
  const char* name;
  std::string bytes;
  const char* expected;  // substring of the message
};

std::string f32_entry(const std::string& name, const std::string& shape, uint64_t b, uint64_t e) {
  return "\"" + name + "\":{\"dtype\":\"F32\",\"shape\":" + shape + ",\"data_offsets\":[" + std::to_string(b) + "," +
         std::to_string(e) + "]}";
}

std::vector<Case> cases() {
  std::string data8(8, '\0');
  return {
      {"empty file", "", "too short"},
      {"truncated length", std::string(5, '\0'), "too short"},
      {"header past end", raw_safetensors("{}", "", 1000), "runs past the end"},
      {"huge header length", raw_safetensors("{}", "", 1ull << 60), "exceeds the limit"},
      {"non-JSON header", raw_safetensors("{not json}", ""), "invalid JSON"},
      {"header not object", raw_safetensors("[1,2]", ""), "does not start with '{'"},
      {"binary header", raw_safetensors(std::string("{\"a\xff\":1}"), ""), "invalid JSON"},
      {"wrong dtype", raw_safetensors("{\"x\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", data8),
       "unknown dtype \"F33\""},
      {"dtype not string", raw_safetensors("{\"x\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", data8),
       "dtype"},
      {"negative dim", raw_safetensors("{" + f32_entry("x", "[-2]", 0, 8) + "}", data8), "non-negative"},
      {"float dim", raw_safetensors("{" + f32_entry("x", "[2.5]", 0, 8) + "}", data8), "non-negative"},
      {"shape/size mismatch", raw_safetensors("{" + f32_entry("x", "[3]", 0, 8) + "}", data8), "needs 12 bytes"},
      {"shape overflow",
       raw_safetensors("{" + f32_entry("x", "[4294967296,4294967296,4294967296]", 0, 8) + "}", data8), "overflows"},
      {"offsets reversed", raw_safetensors("{" + f32_entry("x", "[0]", 8, 0) + "}", data8), "end before"},
      {"offsets missing", raw_safetensors("{\"x\":{\"dtype\":\"F32\",\"shape\":[2]}}", data8), "data_offsets"},
      {"out of range", raw_safetensors("{" + f32_entry("x", "[2]", 0, 8) + "}", "abcd"), "run past the end"},
      {"overlap",
       raw_safetensors("{" + f32_entry("a", "[2]", 0, 8) + "," + f32_entry("b", "[2]", 4, 12) + "}", data8 + "1234"),
       "overlap"},
      {"gap", raw_safetensors("{" + f32_entry("a", "[1]", 0, 4) + "," + f32_entry("b", "[1]", 8, 12) + "}",
                              data8 + "1234"),
       "unused bytes"},
      {"trailing bytes", raw_safetensors("{" + f32_entry("a", "[1]", 0, 4) + "}", data8), "after the last tensor"},
      {"duplicate key",
       raw_safetensors("{" + f32_entry("a", "[1]", 0, 4) + "," + f32_entry("a", "[1]", 4, 8) + "}", data8),
       "duplicate"},
      {"metadata not strings", raw_safetensors("{\"__metadata__\":{\"a\":1}}", ""), "not a string"},
      {"entry not object", raw_safetensors("{\"x\":[1]}", ""), "not an object"},
      {"deep nesting", raw_safetensors("{\"x\":" + std::string(500, '[') + std::string(500, ']') + "}", ""),
       "nested deeper"},
  };
}

}  // namespace

TEST(MalformedSafeTensors, EachIsAClearErrorNamingTheFile) {
  xling::testing::ScratchDir dir;
  const auto all = cases();
  for (std::size_t i = 0; i < all.size(); ++i) {
    const Case& c = all[i];
    std::string path = dir.file("bad-" + std::to_string(i) + ".safetensors");
    xling::testing::write_bytes(path, c.bytes);
    try {
      SafeTensorsFile::open(path);
      ADD_FAILURE() << c.name << ": accepted";
    } catch (const xling::IoError& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find(path), std::string::npos) << c.name << ": " << msg;
      EXPECT_NE(msg.find(c.expected), std::string::npos) << c.name << ": " << msg;
    }
  }
}

TEST(MalformedSafeTensors, EveryTruncationOfAValidFileIsRejected) {
  std::string data(24, '\x01');
  std::string good = raw_safetensors("{\"__metadata__\":{\"format\":\"pt\"}," + std::string("\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},") +
                                     "\"b\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[8,24]}}",
                                     data);
  EXPECT_NO_THROW(SafeTensorsFile::parse(nullptr, reinterpret_cast<const std::byte*>(good.data()), good.size(), "g"));
  for (std::size_t n = 0; n < good.size(); ++n) {
    EXPECT_THROW(SafeTensorsFile::parse(nullptr, reinterpret_cast<const std::byte*>(good.data()), n, "t"),
                 xling::IoError)
        << "prefix " << n;
  }
}
