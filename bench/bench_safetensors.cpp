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

  // touch = false: time until every tensor is usable; touch = true: plus one full pass
  // over the weights (a first forward pass reads them all; mmap pays its page faults here).
  double checksum = 0;
  auto xling_load = [&](bool touch) {
    auto ckpt = io::Checkpoint::open(path);
    for (const auto& name : ckpt.names()) {
      torch::Tensor t = layers::tensor_from_view(ckpt.at(name), ckpt.owner(name));
      checksum += touch ? t.sum().item<double>() : t.data_ptr<float>()[0];
    }
  };
  auto copy_load = [&](bool touch) {
    // One large read() of the whole file: the fastest way to get it into memory without mmap.
    FILE* f = std::fopen(path.c_str(), "rb");
    std::fseek(f, 0, SEEK_END);
    std::vector<char> buf(static_cast<std::size_t>(std::ftell(f)));
    std::fseek(f, 0, SEEK_SET);
    if (std::fread(buf.data(), 1, buf.size(), f) != buf.size()) throw std::runtime_error("short read");
    std::fclose(f);
    auto ckpt = io::SafeTensorsFile::parse(nullptr, reinterpret_cast<const std::byte*>(buf.data()), buf.size(), path);
    for (const auto& v : ckpt.tensors()) {
      torch::Tensor t = torch::empty(v.shape, torch::kFloat32);
      std::memcpy(t.data_ptr(), v.data, v.nbytes);
      checksum += touch ? t.sum().item<double>() : t.data_ptr<float>()[0];
    }
  };
  auto time_ms = [&](auto&& fn, bool touch) {
    std::vector<double> v;
    for (int r = 0; r < repeats; ++r) {
      auto t0 = Clock::now();
      fn(touch);
      v.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    return median(v);
  };
  double a = time_ms(xling_load, false), b = time_ms(copy_load, false);
  double c = time_ms(xling_load, true), d = time_ms(copy_load, true);
  std::remove(path.c_str());
  fmt::print("checkpoint: {} MB in {} F32 tensors; threads {}; median of {} runs (file in page cache)\n", mb, count,
             layers::num_threads(), repeats);
  fmt::print("{:<42} {:>14} {:>22}\n", "loader", "load (ms)", "load + 1 pass (ms)");
  fmt::print("{:<42} {:>14.2f} {:>22.2f}\n", "xling: mmap + zero-copy tensors", a, c);
  fmt::print("{:<42} {:>14.2f} {:>22.2f}\n", "baseline: fread whole file + copy per tensor", b, d);
  fmt::print("speedup vs baseline: {:.1f}x load, {:.2f}x load + pass   (checksum {:.1f})\n", b / a, d / c, checksum);
  return 0;
}
