// The real `xling` binary: --help everywhere, exit codes (0 ok, 1 input error with one
// clear line, 2 usage, 3 diff found differences), info/diff/convert on fixtures and on
// broken inputs.
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/json.hpp"
#include "io/checkpoint.hpp"
#include "../unit/test_util.hpp"

namespace fs = std::filesystem;

namespace {

struct Result {
  int code = -1;
  std::string out, err;
};

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

Result run(const std::vector<std::string>& args, const std::string& stdin_file = "/dev/null") {
  static xling::testing::ScratchDir scratch;
  static int n = 0;
  std::string err_path = scratch.file("stderr" + std::to_string(n++));
  std::string cmd = quote(XLING_BIN);
  for (const auto& a : args) cmd += " " + quote(a);
  cmd += " <" + quote(stdin_file) + " 2>" + quote(err_path);
  Result r;
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[4096];
  std::size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, got);
  int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.err = xling::testing::read_bytes(err_path);
  return r;
}

const std::string kFixtures = XLING_FIXTURES;
const std::string kBert = kFixtures + "/models/bert__BertForSequenceClassification";

bool one_line(const std::string& s) { return !s.empty() && s.find('\n') == s.size() - 1; }

}  // namespace

TEST(Cli, HelpForEveryCommand) {
  auto top = run({"--help"});
  EXPECT_EQ(top.code, 0);
  for (const char* cmd : {"info", "diff", "convert"}) {
    EXPECT_NE(top.out.find(cmd), std::string::npos);
    auto r = run({cmd, "--help"});
    EXPECT_EQ(r.code, 0) << cmd;
    EXPECT_NE(r.out.find("--"), std::string::npos) << cmd;
  }
  EXPECT_EQ(run({"--version"}).code, 0);
}

TEST(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(run({}).code, 2);
  EXPECT_EQ(run({"frobnicate"}).code, 2);
  auto r = run({"info"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--model"), std::string::npos);
  EXPECT_EQ(run({"diff", "only-one"}).code, 2);
  EXPECT_EQ(run({"info", "--model", kBert, "--bogus"}).code, 2);
  EXPECT_EQ(run({"convert", "--model", kBert, "--output", "x", "--dtype", "f13"}).code, 2);
}

TEST(Cli, InfoDescribesFixtureFromItsOwnFiles) {
  auto config = xling::core::read_json_file(kBert + "/config.json");
  auto r = run({"info", "--model", kBert});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find(config["architectures"][0].get<std::string>()), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(std::to_string(config["hidden_size"].get<int>())), std::string::npos);

  auto j = run({"info", "--model", kBert, "--json", "--tensors"});
  ASSERT_EQ(j.code, 0) << j.err;
  auto info = nlohmann::json::parse(j.out);
  auto ckpt = xling::io::Checkpoint::open(kBert);
  EXPECT_EQ(info["weights"]["parameters"].get<uint64_t>(), ckpt.num_elements());
  EXPECT_EQ(info["tensor_list"].size(), ckpt.size());
  EXPECT_EQ(info["config"]["sizes"]["vocab_size"], std::to_string(config["vocab_size"].get<int>()));
  EXPECT_EQ(info["config"]["family"], "bert");
}

TEST(Cli, InfoOnEveryFixtureDirectoryAndFile) {
  int dirs = 0, with_weights = 0;
  for (const auto& e : fs::recursive_directory_iterator(kFixtures)) {
    bool st = e.is_regular_file() && e.path().extension() == ".safetensors";
    if (!e.is_directory() && !st) continue;
    auto r = run({"info", "--model", e.path().string(), "--json"});
    ASSERT_EQ(r.code, 0) << e.path() << ": " << r.err;
    auto info = nlohmann::json::parse(r.out);
    if (!info["weights"].is_null()) {
      ++with_weights;
      EXPECT_GT(info["weights"]["parameters"].get<uint64_t>(), 0u) << e.path();
    }
    ++dirs;
  }
  EXPECT_GT(dirs, 40);
  EXPECT_GT(with_weights, 30);
}

TEST(Cli, EveryMalformedFileIsExitOneWithOneLine) {
  using xling::testing::raw_safetensors;
  xling::testing::ScratchDir dir;
  std::string model = xling::testing::read_bytes(kBert + "/model.safetensors");
  const std::string e = R"("x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  std::vector<std::pair<std::string, std::string>> files = {
      {"empty", ""},
      {"truncated-header", model.substr(0, 100)},
      {"truncated-data", model.substr(0, model.size() - 3)},
      {"huge-header-length", raw_safetensors("{}", "", 1ull << 62)},
      {"non-json", raw_safetensors("{\"x\": nope}", "")},
      {"wrong-dtype", raw_safetensors(R"({"x":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", std::string(8, 'a'))},
      {"shape-mismatch", raw_safetensors(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, 'a'))},
      {"overlap", raw_safetensors("{" + e + R"(,"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", std::string(8, 'a'))},
      {"out-of-range", raw_safetensors("{" + e + "}", "abc")},
      {"garbage", std::string(4096, '\xee')},
  };
  for (const auto& [name, bytes] : files) {
    std::string path = dir.file(name + ".safetensors");
    xling::testing::write_bytes(path, bytes);
    for (const auto& args : std::vector<std::vector<std::string>>{{"info", "--model", path}, {"diff", path, path}}) {
      auto r = run(args);
      EXPECT_EQ(r.code, 1) << name << ": " << r.err;
      EXPECT_TRUE(one_line(r.err)) << name << ": " << r.err;
      EXPECT_NE(r.err.find(path), std::string::npos) << name << ": " << r.err;
    }
  }
  // A malformed config.json or shard index is the same kind of error.
  fs::create_directories(dir.file("m"));
  fs::copy_file(kBert + "/model.safetensors", dir.file("m/model.safetensors"));
  xling::testing::write_bytes(dir.file("m/config.json"), "{\"model_type\": \"bert\", ");
  auto r = run({"info", "--model", dir.file("m")});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("config.json"), std::string::npos) << r.err;
}

TEST(Cli, InputErrorsExitOneWithOneLineNamingTheFile) {
  xling::testing::ScratchDir dir;
  std::string bad = dir.file("broken.safetensors");
  xling::testing::write_bytes(bad, xling::testing::raw_safetensors("{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", "short"));
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"info", "--model", bad},
           {"info", "--model", dir.file("missing")},
           {"diff", bad, bad},
           {"convert", "--model", bad, "--output", dir.file("out.safetensors")}}) {
    auto r = run(args);
    EXPECT_EQ(r.code, 1) << args[0] << " " << r.err;
    EXPECT_TRUE(one_line(r.err)) << r.err;
    EXPECT_NE(r.err.find(args[1] == "--model" ? args[2] : args[1]), std::string::npos) << r.err;
  }
  EXPECT_FALSE(fs::exists(dir.file("out.safetensors")));
  // A pickle-only model directory points to the converter.
  fs::create_directories(dir.file("opus"));
  xling::testing::write_bytes(dir.file("opus/pytorch_model.bin"), "pickle");
  auto r = run({"info", "--model", dir.file("opus")});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("convert_bin_to_safetensors.py"), std::string::npos) << r.err;
  // Malformed config.json names key or file.
  fs::create_directories(dir.file("cfg"));
  fs::copy_file(kBert + "/model.safetensors", dir.file("cfg/model.safetensors"));
  auto config = xling::core::read_json_file(kBert + "/config.json");
  config["hidden_size"] = config["num_attention_heads"].get<int>() * 3 + 1;
  std::ofstream(dir.file("cfg/config.json")) << config.dump();
  r = run({"info", "--model", dir.file("cfg")});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("hidden_size"), std::string::npos) << r.err;
}

TEST(Cli, DiffExitCodesAndMask) {
  std::string golden = kFixtures + "/models/xlm_roberta__XLMRobertaModel/golden.safetensors";
  std::string other = kFixtures + "/models/bert__BertModel/golden.safetensors";
  auto same = run({"diff", golden, golden, "--atol", "0", "--rtol", "0"});
  EXPECT_EQ(same.code, 0) << same.err;
  auto diff = run({"diff", golden, other, "--json"});
  EXPECT_EQ(diff.code, 3) << diff.err;
  EXPECT_NE(diff.out.find("\"status\""), std::string::npos);
  auto masked = run({"diff", golden, golden, "--mask-key", "attention_mask"});
  EXPECT_EQ(masked.code, 0) << masked.err;
  auto bad_mask = run({"diff", golden, golden, "--mask-key", "nope"});
  EXPECT_EQ(bad_mask.code, 1);
  EXPECT_NE(bad_mask.err.find("nope"), std::string::npos);
}

TEST(Cli, ConvertCastsAndRoundTrips) {
  xling::testing::ScratchDir dir;
  std::string src = kBert + "/model.safetensors";
  std::string f16 = dir.file("m16.safetensors"), f32 = dir.file("m32.safetensors"), keep = dir.file("k.safetensors");
  ASSERT_EQ(run({"convert", "--model", kBert, "--output", keep}).code, 0);
  EXPECT_EQ(run({"diff", keep, src, "--atol", "0", "--rtol", "0"}).code, 0);
  ASSERT_EQ(run({"convert", "--model", src, "--output", f16, "--dtype", "f16", "--metadata", "note=test"}).code, 0);
  auto info = nlohmann::json::parse(run({"info", "--model", f16, "--json"}).out);
  EXPECT_EQ(info["weights"]["stored_dtypes"].count("F16"), 1u);
  EXPECT_EQ(info["weights"]["metadata"]["note"], "test");
  EXPECT_EQ(run({"diff", f16, src, "--atol", "0", "--rtol", "0"}).code, 3);        // rounding happened
  EXPECT_EQ(run({"diff", f16, src, "--atol", "1e-3", "--rtol", "1e-3"}).code, 0);  // but only rounding
  ASSERT_EQ(run({"convert", "--model", f16, "--output", f32, "--dtype", "f32"}).code, 0);
  EXPECT_EQ(run({"diff", f32, f16, "--atol", "0", "--rtol", "0"}).code, 0);  // f16 -> f32 is exact
  auto to_stdout = run({"convert", "--model", src, "--output", "-"});
  EXPECT_EQ(to_stdout.code, 0);
  EXPECT_EQ(to_stdout.out, xling::testing::read_bytes(keep));
}
