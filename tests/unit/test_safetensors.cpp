// safetensors writer -> reader round trips, determinism, atomicity.
#include <cstring>
#include <random>

#include <gtest/gtest.h>

#include "io/safetensors.hpp"
#include "io/safetensors_writer.hpp"
#include "test_util.hpp"
#include "xling/errors.hpp"

using namespace xling;
using namespace xling::io;
using xling::testing::ScratchDir;

namespace {

struct Owned {
  TensorToWrite spec;
  std::vector<std::byte> bytes;
};

std::vector<Owned> random_tensors(std::mt19937& rng) {
  const DType all[] = {DType::kF64, DType::kF32, DType::kF16, DType::kBF16, DType::kI64, DType::kI32,
                       DType::kI16, DType::kI8,  DType::kU8,  DType::kBool, DType::kF8E4M3};
  std::vector<Owned> out;
  int i = 0;
  for (DType dt : all) {
    std::vector<int64_t> shape;
    int rank = static_cast<int>(rng() % 4);  // includes scalars
    for (int r = 0; r < rank; ++r) shape.push_back(static_cast<int64_t>(rng() % 5));  // includes zero dims
    int64_t n = 1;
    for (auto d : shape) n *= d;
    Owned o;
    o.bytes.resize(static_cast<std::size_t>(n) * dtype_size(dt));
    for (auto& b : o.bytes) b = static_cast<std::byte>(dt == DType::kBool ? rng() % 2 : rng() % 256);
    o.spec = TensorToWrite{"t" + std::to_string(i++) + "." + std::string(dtype_name(dt)), dt, shape, nullptr, 0};
    out.push_back(std::move(o));
  }
  for (auto& o : out) {
    o.spec.data = o.bytes.data();
    o.spec.nbytes = o.bytes.size();
  }
  return out;
}

std::vector<TensorToWrite> specs(const std::vector<Owned>& owned) {
  std::vector<TensorToWrite> s;
  for (const auto& o : owned) s.push_back(o.spec);
  return s;
}

}  // namespace

TEST(SafeTensors, RoundTripEveryDtypeShapeAndMetadata) {
  ScratchDir dir;
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 20; ++trial) {
    auto tensors = random_tensors(rng);
    std::map<std::string, std::string> meta = {{"format", "pt"}, {"trial", std::to_string(trial)}};
    std::string path = dir.file("t.safetensors");
    write_safetensors(path, specs(tensors), meta);
    auto file = SafeTensorsFile::open(path);
    EXPECT_EQ(file.metadata(), meta);
    EXPECT_EQ(file.header_size() % 8, 0u);
    ASSERT_EQ(file.tensors().size(), tensors.size());
    for (const auto& o : tensors) {
      const TensorView& v = file.at(o.spec.name);
      EXPECT_EQ(v.dtype, o.spec.dtype);
      EXPECT_EQ(v.shape, o.spec.shape);
      ASSERT_EQ(v.nbytes, o.bytes.size());
      if (v.nbytes) {
        EXPECT_EQ(std::memcmp(v.data, o.bytes.data(), v.nbytes), 0) << v.name;
        // Writer orders by element size, so every tensor is aligned to its element size.
        EXPECT_EQ(reinterpret_cast<std::uintptr_t>(v.data) % dtype_size(v.dtype), 0u) << v.name;
      }
    }
  }
}

TEST(SafeTensors, WriterIsDeterministicWhateverTheInputOrder) {
  ScratchDir dir;
  std::mt19937 rng(7);
  auto tensors = random_tensors(rng);
  auto a = specs(tensors);
  auto b = a;
  std::reverse(b.begin(), b.end());
  write_safetensors(dir.file("a.safetensors"), a, {{"k", "v"}});
  write_safetensors(dir.file("b.safetensors"), b, {{"k", "v"}});
  EXPECT_EQ(xling::testing::read_bytes(dir.file("a.safetensors")), xling::testing::read_bytes(dir.file("b.safetensors")));
}

TEST(SafeTensors, WriterReplacesAtomicallyAndLeavesNoTempFiles) {
  ScratchDir dir;
  float x = 1.5f;
  std::string path = dir.file("m.safetensors");
  xling::testing::write_bytes(path, "old contents");
  write_safetensors(path, {{"x", DType::kF32, {1}, &x, 4}});
  EXPECT_FLOAT_EQ(*reinterpret_cast<const float*>(SafeTensorsFile::open(path).at("x").data), 1.5f);
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
  // A failing write (bad tensor) leaves the previous file intact.
  std::string before = xling::testing::read_bytes(path);
  EXPECT_THROW(write_safetensors(path, {{"y", DType::kF32, {2}, &x, 4}}), InvalidArgument);
  EXPECT_EQ(xling::testing::read_bytes(path), before);
}

TEST(SafeTensors, WriterRejectsBadInput) {
  ScratchDir dir;
  float x[2] = {1, 2};
  EXPECT_THROW(write_safetensors(dir.file("a"), {{"x", DType::kF32, {1}, x, 4}, {"x", DType::kF32, {1}, x, 4}}),
               InvalidArgument);
  EXPECT_THROW(write_safetensors(dir.file("a"), {{"__metadata__", DType::kF32, {1}, x, 4}}), InvalidArgument);
  EXPECT_THROW(write_safetensors(dir.file("a"), {{"x", DType::kF32, {-1}, x, 4}}), InvalidArgument);
  EXPECT_THROW(write_safetensors(dir.file("no/such/dir/a.safetensors"), {{"x", DType::kF32, {2}, x, 8}}), IoError);
}

TEST(SafeTensors, EmptyFileWithOnlyMetadataIsValid) {
  ScratchDir dir;
  write_safetensors(dir.file("e.safetensors"), {}, {{"a", "b"}});
  auto f = SafeTensorsFile::open(dir.file("e.safetensors"));
  EXPECT_TRUE(f.tensors().empty());
  EXPECT_EQ(f.metadata().at("a"), "b");
}

TEST(SafeTensors, MissingFileNamesPath) {
  try {
    SafeTensorsFile::open("/nonexistent/x.safetensors");
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/x.safetensors"), std::string::npos);
  }
}
