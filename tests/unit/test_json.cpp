// Hardened JSON parsing and typed field access.
#include <gtest/gtest.h>

#include "core/json.hpp"
#include "xling/errors.hpp"

using xling::core::JsonFields;
using xling::core::parse_json;

TEST(Json, ParsesValidDocument) {
  auto j = parse_json(R"({"a": [1, 2, {"b": "c"}]})", "mem");
  EXPECT_EQ(j["a"][2]["b"], "c");
}

TEST(Json, RejectsDeepNestingBeforeParsing) {
  std::string deep(100000, '[');
  try {
    parse_json(deep, "deep.json");
    FAIL() << "no error";
  } catch (const xling::IoError& e) {
    EXPECT_NE(std::string(e.what()).find("deep.json"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("nested deeper"), std::string::npos);
  }
  // Brackets inside strings do not count.
  EXPECT_NO_THROW(parse_json("{\"k\": \"" + std::string(1000, '[') + "\"}", "s", {/*max_depth=*/4}));
}

TEST(Json, RejectsDuplicateKeysAtAnyLevel) {
  EXPECT_THROW(parse_json(R"({"a": 1, "a": 2})", "dup"), xling::IoError);
  EXPECT_THROW(parse_json(R"({"x": {"a": 1, "a": 2}})", "dup"), xling::IoError);
  EXPECT_NO_THROW(parse_json(R"({"x": {"a": 1}, "y": {"a": 2}})", "ok"));
}

TEST(Json, InvalidJsonNamesSource) {
  for (const char* bad : {"{", "{\"a\": }", "nul", "{\"a\": \"\xff\"}", ""}) {
    try {
      parse_json(bad, "cfg/config.json");
      FAIL() << "accepted: " << bad;
    } catch (const xling::IoError& e) {
      EXPECT_NE(std::string(e.what()).find("cfg/config.json"), std::string::npos) << e.what();
    }
  }
}

TEST(JsonFields, ErrorsNameKeyAndValue) {
  auto j = parse_json(R"({"n": "twelve", "p": -3, "f": 2.5, "b": 1, "list": [1, "x"], "nul": null})", "c.json");
  JsonFields f(j, "c.json");
  auto expect_msg = [](auto fn, const std::vector<std::string>& parts) {
    try {
      fn();
      FAIL() << "no error";
    } catch (const xling::InvalidArgument& e) {
      for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    }
  };
  expect_msg([&] { f.integer("n"); }, {"c.json", "'n'", "\"twelve\""});
  expect_msg([&] { f.positive("p"); }, {"'p'", "-3", "positive"});
  expect_msg([&] { f.integer("f"); }, {"'f'", "2.5"});
  expect_msg([&] { f.boolean_or("b", false); }, {"'b'", "1"});
  expect_msg([&] { f.integer_list("list"); }, {"'list'"});
  expect_msg([&] { f.integer("missing"); }, {"'missing'", "missing"});
  EXPECT_FALSE(f.has("nul"));
  EXPECT_EQ(f.integer_or("nul", 7), 7);
}

TEST(JsonFields, AcceptsIntegralFloatsAndLists) {
  auto j = parse_json(R"({"a": 12.0, "eos": [2, 3], "one": 5})", "c");
  JsonFields f(j, "c");
  EXPECT_EQ(f.integer("a"), 12);
  EXPECT_EQ(f.integer_list("eos"), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(f.integer_list("one"), (std::vector<int64_t>{5}));
  EXPECT_TRUE(f.integer_list("none").empty());
}
