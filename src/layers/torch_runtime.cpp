// libtorch thread setup and build facts (see torch_runtime.hpp).
#include "layers/torch_runtime.hpp"

#include <cstdlib>
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
  // Chunks above 32 MiB (a beam step's logits at a 256k vocabulary) are fresh mmaps every
  // time: c10's transparent-huge-page option (2 MiB-aligned, madvise(MADV_HUGEPAGE)) makes
  // their first touch 512x fewer page faults (NLLB-600M-shaped decoding +5 %). c10 reads the
  // variable once, at its first allocation, which comes after this; a user's value wins.
  setenv("THP_MEM_ALLOC_ENABLE", "1", /*overwrite=*/0);
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
