// Checkpoint diff: tolerances, masks, NaN/inf, shape mismatches, one-sided tensors.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "io/safetensors_writer.hpp"
#include "io/tensor_diff.hpp"
#include "test_util.hpp"
#include "xling/errors.hpp"

using namespace xling;
using namespace xling::io;

namespace {

const TensorDiff& find(const DiffReport& r, const std::string& name) {
  for (const auto& t : r.tensors) {
    if (t.name == name) return t;
  }
  throw std::runtime_error("missing " + name);
}

}  // namespace

TEST(Diff, ReportsErrorsAndVerdicts) {
  xling::testing::ScratchDir dir;
  float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> a1 = {1, 2, 3, 4}, b1 = {1, 2, 3.5f, 4};
  std::vector<float> a2 = {0, nan}, b2 = {0, nan};
  std::vector<float> a3 = {1, 2}, b3 = {1, 2, 3};
  std::vector<float> only = {1};
  std::vector<float> z_a = {1e-9f}, z_b = {0};
  write_safetensors(dir.file("a"), {{"x", DType::kF32, {4}, a1.data(), 16},
                                    {"n", DType::kF32, {2}, a2.data(), 8},
                                    {"s", DType::kF32, {2}, a3.data(), 8},
                                    {"z", DType::kF32, {1}, z_a.data(), 4},
                                    {"onlya", DType::kF32, {1}, only.data(), 4}});
  write_safetensors(dir.file("b"), {{"x", DType::kF32, {4}, b1.data(), 16},
                                    {"n", DType::kF32, {2}, b2.data(), 8},
                                    {"s", DType::kF32, {3}, b3.data(), 12},
                                    {"z", DType::kF32, {1}, z_b.data(), 4},
                                    {"onlyb", DType::kF32, {1}, only.data(), 4}});
  auto a = Checkpoint::open(dir.file("a")), b = Checkpoint::open(dir.file("b"));
  auto r = diff_checkpoints(a, b, DiffOptions{});
  EXPECT_FALSE(r.all_close());
  const auto& x = find(r, "x");
  EXPECT_EQ(x.status, DiffStatus::kDifferent);
  EXPECT_DOUBLE_EQ(x.max_abs, 0.5);
  EXPECT_DOUBLE_EQ(x.max_rel, 0.5 / 3.5);
  EXPECT_EQ(x.worst_index, 2u);
  EXPECT_EQ(x.mismatched, 1u);
  EXPECT_EQ(find(r, "n").status, DiffStatus::kClose);  // NaN where both are NaN
  EXPECT_EQ(find(r, "s").status, DiffStatus::kShapeMismatch);
  EXPECT_EQ(find(r, "onlya").status, DiffStatus::kOnlyInA);
  EXPECT_EQ(find(r, "onlyb").status, DiffStatus::kOnlyInB);
  EXPECT_TRUE(std::isinf(find(r, "z").max_rel));
  // Loose tolerances make x close: 0.5 <= 0.1 + 0.2 * 3.5.
  auto loose = diff_checkpoints(a, b, DiffOptions{0.1, 0.2, ""});
  EXPECT_EQ(find(loose, "x").status, DiffStatus::kClose);
  EXPECT_EQ(find(loose, "z").status, DiffStatus::kClose);
}

TEST(Diff, MaskRestrictsBatchTimeTensors) {
  xling::testing::ScratchDir dir;
  // (B=2, T=3, D=2): position (1, 2) is padding and differs wildly.
  std::vector<int64_t> mask = {1, 1, 1, 1, 1, 0};
  std::vector<float> ha(12, 1.0f), hb(12, 1.0f);
  hb[1 * 6 + 2 * 2 + 1] = 100.0f;
  write_safetensors(dir.file("a"), {{"attention_mask", DType::kI64, {2, 3}, mask.data(), 48},
                                    {"hidden", DType::kF32, {2, 3, 2}, ha.data(), 48}});
  write_safetensors(dir.file("b"), {{"attention_mask", DType::kI64, {2, 3}, mask.data(), 48},
                                    {"hidden", DType::kF32, {2, 3, 2}, hb.data(), 48}});
  auto a = Checkpoint::open(dir.file("a")), b = Checkpoint::open(dir.file("b"));
  EXPECT_FALSE(diff_checkpoints(a, b, DiffOptions{}).all_close());
  auto masked = diff_checkpoints(a, b, DiffOptions{1e-8, 1e-5, "attention_mask"});
  EXPECT_TRUE(masked.all_close());
  EXPECT_EQ(find(masked, "hidden").compared, 10u);
  EXPECT_TRUE(find(masked, "hidden").masked);
  EXPECT_THROW(diff_checkpoints(a, b, DiffOptions{1e-8, 1e-5, "no_such_mask"}), IoError);
  EXPECT_THROW(diff_checkpoints(a, b, DiffOptions{1e-8, 1e-5, "hidden"}), IoError);  // not 2-D
}

TEST(Diff, ComparesAcrossDtypes) {
  xling::testing::ScratchDir dir;
  std::vector<float> f = {0.5f, -2.0f};
  std::vector<uint16_t> h = {0x3800, 0xc000};  // 0.5, -2 in F16
  write_safetensors(dir.file("a"), {{"w", DType::kF32, {2}, f.data(), 8}});
  write_safetensors(dir.file("b"), {{"w", DType::kF16, {2}, h.data(), 4}});
  auto r = diff_checkpoints(Checkpoint::open(dir.file("a")), Checkpoint::open(dir.file("b")), DiffOptions{0, 0, ""});
  EXPECT_TRUE(r.all_close());
  EXPECT_EQ(r.tensors[0].dtype_a, "F32");
  EXPECT_EQ(r.tensors[0].dtype_b, "F16");
}
