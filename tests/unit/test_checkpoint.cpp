// Checkpoint discovery: single file, shards with an index, aliases, hostile indexes,
// pickle-only directories.
#include <gtest/gtest.h>

#include "core/atomic_file.hpp"
#include "io/checkpoint.hpp"
#include "io/safetensors_writer.hpp"
#include "test_util.hpp"
#include "xling/errors.hpp"

using namespace xling;
using namespace xling::io;
using xling::testing::ScratchDir;

namespace {

void write_f32(const std::string& path, const std::vector<std::pair<std::string, std::vector<float>>>& tensors) {
  std::vector<TensorToWrite> specs;
  for (const auto& [name, values] : tensors) {
    specs.push_back({name, DType::kF32, {static_cast<int64_t>(values.size())}, values.data(), values.size() * 4});
  }
  write_safetensors(path, specs, {{"format", "pt"}});
}

std::string message_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const xling::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Checkpoint, ShardedIndexLoadsEveryTensorFromItsShard) {
  ScratchDir dir;
  write_f32(dir.file("model-00001-of-00002.safetensors"), {{"a", {1, 2}}, {"b", {3}}});
  write_f32(dir.file("model-00002-of-00002.safetensors"), {{"c", {4, 5, 6}}, {"stray", {0}}});
  core::write_file_atomic(dir.file("model.safetensors.index.json"),
                          R"({"metadata": {"total_size": 24}, "weight_map": {"a": "model-00001-of-00002.safetensors",
                          "b": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"}})");
  auto ckpt = Checkpoint::open(dir.path().string());
  EXPECT_EQ(ckpt.files().size(), 2u);
  EXPECT_EQ(ckpt.names(), (std::vector<std::string>{"a", "b", "c"}));  // "stray" is not in the index
  EXPECT_EQ(ckpt.num_elements(), 6u);
  EXPECT_FLOAT_EQ(reinterpret_cast<const float*>(ckpt.at("c").data)[2], 6.0f);
  EXPECT_EQ(ckpt.metadata().at("total_size"), "24");
  EXPECT_NE(message_of([&] { ckpt.at("zzz"); }).find("zzz"), std::string::npos);
}

TEST(Checkpoint, HostileOrBrokenIndexesAreClearErrors) {
  ScratchDir dir;
  write_f32(dir.file("s1.safetensors"), {{"a", {1}}});
  auto index = [&](const std::string& json) {
    core::write_file_atomic(dir.file("model.safetensors.index.json"), json);
    return message_of([&] { Checkpoint::open(dir.path().string()); });
  };
  EXPECT_NE(index(R"({"weight_map": {"a": "../s1.safetensors"}})").find("not a plain file name"), std::string::npos);
  EXPECT_NE(index(R"({"weight_map": {"a": "/etc/passwd"}})").find("not a plain file name"), std::string::npos);
  EXPECT_NE(index(R"({"weight_map": {"a": "missing.safetensors"}})").find("missing.safetensors"), std::string::npos);
  EXPECT_NE(index(R"({"weight_map": {"b": "s1.safetensors"}})").find("does not hold it"), std::string::npos);
  EXPECT_NE(index(R"({"weight_map": {"a": 3}})").find("not a file name"), std::string::npos);
  EXPECT_NE(index(R"({"weight_map": {}})").find("empty"), std::string::npos);
  EXPECT_NE(index(R"({"nothing": 1})").find("weight_map"), std::string::npos);
  EXPECT_NE(index(R"({"weight_map": )").find("invalid JSON"), std::string::npos);
}

TEST(Checkpoint, TensorStoredInTwoShardsIsAnError) {
  ScratchDir dir;
  write_f32(dir.file("s1.safetensors"), {{"a", {1}}});
  write_f32(dir.file("s2.safetensors"), {{"a", {2}}, {"b", {3}}});
  core::write_file_atomic(dir.file("model.safetensors.index.json"),
                          R"({"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}})");
  EXPECT_NE(message_of([&] { Checkpoint::open(dir.path().string()); }).find("two shards"), std::string::npos);
}

TEST(Checkpoint, TiedWeightsResolveInBothLayouts) {
  ScratchDir dir;
  // transformers >= 5: one name per tied group.
  write_f32(dir.file("new.safetensors"), {{"model.shared.weight", {1, 2, 3}}});
  // Older checkpoints: every alias stored.
  write_f32(dir.file("old.safetensors"), {{"model.shared.weight", {1, 2, 3}},
                                          {"model.encoder.embed_tokens.weight", {1, 2, 3}},
                                          {"lm_head.weight", {1, 2, 3}}});
  const std::vector<std::string> lm_head = {"lm_head.weight", "model.shared.weight"};
  const std::vector<std::string> enc = {"model.encoder.embed_tokens.weight", "model.shared.weight"};
  for (const char* f : {"new.safetensors", "old.safetensors"}) {
    auto ckpt = Checkpoint::open(dir.file(f));
    for (const auto* group : {&lm_head, &enc}) {
      const TensorView& t = ckpt.resolve(*group);
      ASSERT_EQ(t.numel(), 3);
      EXPECT_FLOAT_EQ(reinterpret_cast<const float*>(t.data)[2], 3.0f);
    }
  }
  auto ckpt = Checkpoint::open(dir.file("new.safetensors"));
  std::string msg = message_of([&] { ckpt.resolve({"x.weight", "y.weight"}); });
  EXPECT_NE(msg.find("x.weight"), std::string::npos);
  EXPECT_NE(msg.find("y.weight"), std::string::npos);
}

TEST(Checkpoint, PickleOnlyDirectoryPointsToTheConverter) {
  ScratchDir dir;
  xling::testing::write_bytes(dir.file("pytorch_model.bin"), "PK\x03\x04 not really");
  try {
    Checkpoint::open(dir.path().string());
    FAIL();
  } catch (const UnsupportedModel& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("tools/convert_bin_to_safetensors.py"), std::string::npos) << msg;
    EXPECT_NE(msg.find("pytorch_model.bin"), std::string::npos) << msg;
  }
}

TEST(Checkpoint, EmptyDirectoryAndStems) {
  ScratchDir dir;
  EXPECT_NE(message_of([&] { Checkpoint::open(dir.path().string()); }).find("no model.safetensors"),
            std::string::npos);
  write_f32(dir.file("adapter_model.safetensors"), {{"lora_A", {1}}});
  EXPECT_EQ(Checkpoint::open(dir.path().string(), "adapter_model").size(), 1u);
  EXPECT_THROW(Checkpoint::open(dir.file("nope")), IoError);
}
