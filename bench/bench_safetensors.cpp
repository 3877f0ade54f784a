// Checkpoint loading: xling's mmap + validate + zero-copy torch tensors, against a
// copying loader (read the whole file into memory, then one torch tensor per entry, which
// is what a loader without mmap does), measured in the same run on the same file.
// Usage: bench_safetensors [MB=512] [tensors=200] [repeats=5]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>

#include "io/checkpoint.hpp"
#include "io/safetensors_writer.hpp"
#include "layers/torch_runtime.hpp"
#include "layers/weights.hpp"

using Clock = std::chrono::steady_clock;
using namespace xling;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int64_t mb = argc > 1 ? std::atoll(argv[1]) : 512;
  int64_t count = argc > 2 ? std::atoll(argv[2]) : 200;
  int repeats = argc > 3 ? std::atoi(argv[3]) : 5;
  layers::set_threads(0);
  std::string path = "/tmp/xling-bench-" + std::to_string(::getpid()) + ".safetensors";
  int64_t per = (mb << 20) / 4 / count;
  std::vector<float> values(static_cast<std::size_t>(per), 0.25f);
  std::vector<io::TensorToWrite> specs;
  for (int64_t i = 0; i < count; ++i) {
    specs.push_back({fmt::format("layer.{}.weight", i), DType::kF32, {per}, values.data(), values.size() * 4});
  }
  io::write_safetensors(path, specs);

  std::vector<double> t_xling, t_copy;
  double checksum = 0;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = Clock::now();
    {
      auto ckpt = io::Checkpoint::open(path);
      for (const auto& name : ckpt.names()) {
        torch::Tensor t = layers::tensor_from_view(ckpt.at(name), ckpt.owner(name));
        checksum += t.data_ptr<float>()[0];
      }
    }
    auto t1 = Clock::now();
    {
      std::ifstream in(path, std::ios::binary);
      std::vector<char> buf((std::istreambuf_iterator<char>(in)), {});
      auto ckpt = io::SafeTensorsFile::parse(nullptr, reinterpret_cast<const std::byte*>(buf.data()), buf.size(), path);
      for (const auto& v : ckpt.tensors()) {
        torch::Tensor t = torch::empty(v.shape, torch::kFloat32);
        std::memcpy(t.data_ptr(), v.data, v.nbytes);
        checksum += t.data_ptr<float>()[0];
      }
    }
    auto t2 = Clock::now();
    t_xling.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    t_copy.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
  }
  std::remove(path.c_str());
  double a = median(t_xling), b = median(t_copy);
  fmt::print("checkpoint: {} MB in {} F32 tensors; threads {}; median of {} runs (file in page cache)\n", mb, count,
             layers::num_threads(), repeats);
  fmt::print("{:<40} {:>12}\n", "loader", "ms");
  fmt::print("{:<40} {:>12.2f}\n", "xling mmap + zero-copy tensors", a);
  fmt::print("{:<40} {:>12.2f}\n", "baseline: read file + copy per tensor", b);
  fmt::print("speedup vs baseline: {:.1f}x   (checksum {})\n", b / a, checksum);
  return 0;
}
