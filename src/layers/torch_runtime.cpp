// libtorch thread setup and build facts (see torch_runtime.hpp).
#include "layers/torch_runtime.hpp"

#include <thread>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <torch/version.h>

namespace xling::layers {

void tune_allocator() {
#if defined(__GLIBC__)
  static bool done = false;
  if (done) return;
  done = true;
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest allowed value: chunks below it come from the heap
  mallopt(M_TRIM_THRESHOLD, 1 << 30);   // keep up to 1 GiB of freed heap for the next batch
#endif
}

void set_threads(int n) {
  tune_allocator();
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(n);
  static bool interop_set = false;
  if (!interop_set) {
    interop_set = true;
    try {
      at::set_num_interop_threads(std::max(1, n / 2));
    } catch (const c10::Error&) {
      // Already fixed by an earlier parallel op; intra-op threads are what matter.
    }
  }
}

int num_threads() { return at::get_num_threads(); }

std::string torch_version() { return TORCH_VERSION; }

bool cuda_built() {
#ifdef XLING_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

bool cuda_available() {
#ifdef XLING_HAVE_CUDA
  return torch::cuda::is_available();
#else
  return false;
#endif
}

}  // namespace xling::layers
