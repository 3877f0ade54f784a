#!/usr/bin/env bash
# Builds the xling CLI against the libtorch of this machine's torch (with CUDA) into
# build-cuda/. Headers and .so files the machine lacks come from .gpu-deps/ (made by
# tools/gpu/pack_deps.sh on a Debian machine). Tests and benches are not built here.
set -euo pipefail
cd "$(dirname "$0")/../.."
deps="$PWD/.gpu-deps/usr"
arch=x86_64-linux-gnu
py=${PYTHON:-python3}
# xling compiles no CUDA code: a fixed arch list skips the GPU-detecting try_run of torch's
# CMake files (which fails with older CMake under C++20).
export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}
torch_prefix=$($py -c 'import torch; print(torch.utils.cmake_prefix_path)')
gen=()
if command -v ninja >/dev/null; then gen=(-G Ninja); fi
cmake -S . -B build-cuda "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DXLING_TORCH_CUDA=ON \
  -DXLING_BUILD_TESTS=OFF -DXLING_BUILD_BENCH=OFF \
  -DCMAKE_PREFIX_PATH="$torch_prefix;$deps" -DCMAKE_LIBRARY_PATH="$deps/lib/$arch" \
  -DCMAKE_CXX_FLAGS="-isystem $deps/include" -DCMAKE_BUILD_RPATH="$deps/lib/$arch"
cmake --build build-cuda -j"$(nproc)" --target xling_cli
build-cuda/bin/xling --version
