// Process-wide libtorch settings. libtorch may start with ONE intra-op thread on small
// VMs, so every entry point calls set_threads() explicitly (default: all cores).
#pragma once

#include <string>

namespace xling::layers {

// n <= 0 means all hardware threads. Intra-op threads can change at any time; inter-op
// threads only before the first parallel op (later calls keep the first value). The first
// call also tunes glibc's allocator for tensor work (see tune_allocator).
void set_threads(int n);
// Keeps freed heap memory for reuse instead of returning it to the kernel after every
// batch: each (tokens x intermediate) activation is megabytes, and fresh pages cost a page
// fault each (measured ~10 % of an encoder forward on 2 cores). Peak RSS is unchanged.
void tune_allocator();
int num_threads();
std::string torch_version();     // e.g. "2.11.0"
bool cuda_available();  // built with CUDA and a device is visible
bool cuda_built();      // built with -DXLING_TORCH_CUDA=ON

}  // namespace xling::layers
