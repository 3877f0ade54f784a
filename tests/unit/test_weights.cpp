// Zero-copy torch tensors from checkpoints; thread setup.
#include <cstring>
#include <filesystem>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "io/checkpoint.hpp"
#include "io/safetensors_writer.hpp"
#include "io/tensor_values.hpp"
#include "layers/torch_runtime.hpp"
#include "layers/weights.hpp"
#include "test_util.hpp"
#include "xling/errors.hpp"

namespace fs = std::filesystem;
using namespace xling;

TEST(Weights, FixtureTensorsAreZeroCopyAndExact) {
  int checked = 0;
  for (const auto& e : fs::recursive_directory_iterator(XLING_FIXTURES)) {
    if (!e.is_regular_file() || e.path().extension() != ".safetensors") continue;
    auto ckpt = io::Checkpoint::open(e.path().string());
    for (const auto& name : ckpt.names()) {
      const auto& view = ckpt.at(name);
      bool copied = true;
      torch::Tensor t = layers::tensor_from_view(view, ckpt.owner(name), &copied);
      EXPECT_FALSE(copied) << name;
      ASSERT_EQ(t.sizes().vec(), view.shape) << name;
      if (view.nbytes == 0) continue;
      EXPECT_EQ(t.data_ptr(), static_cast<const void*>(view.data)) << name;
      // Independent decode of a few elements.
      auto flat = t.reshape({-1}).to(torch::kFloat64);
      for (int64_t i : {int64_t{0}, view.numel() / 2, view.numel() - 1}) {
        EXPECT_EQ(flat[i].item<double>(), io::value_at(view, static_cast<std::size_t>(i))) << name;
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 100);
}

TEST(Weights, TensorOutlivesCheckpointAndWritesStayPrivate) {
  xling::testing::ScratchDir dir;
  std::vector<float> values = {1, 2, 3, 4, 5, 6};
  io::write_safetensors(dir.file("w.safetensors"), {{"w", DType::kF32, {2, 3}, values.data(), 24}});
  torch::Tensor t;
  {
    auto ckpt = io::Checkpoint::open(dir.file("w.safetensors"));
    t = layers::load_tensor(ckpt, {"w"}, {2, 3});
  }  // checkpoint gone; the tensor keeps the mapping alive
  EXPECT_FLOAT_EQ(t.sum().item<float>(), 21.0f);
  t.mul_(2);  // copy-on-write: the file on disk is untouched
  EXPECT_FLOAT_EQ(t.sum().item<float>(), 42.0f);
  auto again = io::Checkpoint::open(dir.file("w.safetensors"));
  EXPECT_FLOAT_EQ(layers::load_tensor(again, {"w"}).sum().item<float>(), 21.0f);
}

TEST(Weights, ShapeMismatchNamesTensorAndShapes) {
  xling::testing::ScratchDir dir;
  std::vector<float> values(6, 0.f);
  io::write_safetensors(dir.file("w.safetensors"), {{"enc.w", DType::kF32, {2, 3}, values.data(), 24}});
  auto ckpt = io::Checkpoint::open(dir.file("w.safetensors"));
  try {
    layers::load_tensor(ckpt, {"enc.w"}, {3, 2});
    FAIL();
  } catch (const IoError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("enc.w"), std::string::npos);
    EXPECT_NE(msg.find("[2, 3]"), std::string::npos);
    EXPECT_NE(msg.find("[3, 2]"), std::string::npos);
  }
}

TEST(Weights, MisalignedDataIsCopiedOnce) {
  // Hand-made file: a 1-byte U8 tensor first puts the F32 tensor at an odd address.
  std::string header =
      R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"F32","shape":[2],"data_offsets":[1,9]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  float f[2] = {3.5f, -1.0f};
  std::string data(1, '\x07');
  data.append(reinterpret_cast<const char*>(f), 8);
  xling::testing::ScratchDir dir;
  xling::testing::write_bytes(dir.file("m.safetensors"), xling::testing::raw_safetensors(header, data));
  auto ckpt = io::Checkpoint::open(dir.file("m.safetensors"));
  bool copied = false;
  torch::Tensor b = layers::tensor_from_view(ckpt.at("b"), ckpt.owner("b"), &copied);
  EXPECT_TRUE(copied);
  EXPECT_FLOAT_EQ(b[0].item<float>(), 3.5f);
  EXPECT_FLOAT_EQ(b[1].item<float>(), -1.0f);
}

TEST(TorchRuntime, ThreadsAreSetExplicitly) {
  layers::set_threads(2);
  EXPECT_EQ(layers::num_threads(), 2);
  layers::set_threads(1);
  EXPECT_EQ(layers::num_threads(), 1);
  layers::set_threads(0);  // all cores
  EXPECT_GE(layers::num_threads(), 1);
  EXPECT_FALSE(layers::torch_version().empty());
}
