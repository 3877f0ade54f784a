#!/usr/bin/env bash
# Packs the Debian headers and shared libraries a CUDA build of xling needs into .gpu-deps/
# (git-ignored), for a GPU machine that has libtorch (the torch wheel) but no apt: carry
# .gpu-deps with the working tree and run tools/gpu/build_cuda.sh there. Files are copied
# (links resolved); the layout mirrors /usr so that the CMake package files find their
# headers relative to themselves.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.gpu-deps/usr
arch=x86_64-linux-gnu
rm -rf .gpu-deps
mkdir -p "$out/include" "$out/lib/$arch/cmake" "$out/share/cmake"
for h in nlohmann CLI fmt utf8proc.h oniguruma.h; do cp -rL "/usr/include/$h" "$out/include/"; done
cp -rL /usr/lib/$arch/cmake/fmt "$out/lib/$arch/cmake/"
if [ -d /usr/share/cmake/nlohmann_json ]; then cp -rL /usr/share/cmake/nlohmann_json "$out/share/cmake/"; fi
if [ -d /usr/lib/$arch/cmake/nlohmann_json ]; then cp -rL /usr/lib/$arch/cmake/nlohmann_json "$out/lib/$arch/cmake/"; fi
for l in libfmt.so libfmt.so.9 libonig.so libonig.so.5 libutf8proc.so libutf8proc.so.2; do
  cp -L "/usr/lib/$arch/$l" "$out/lib/$arch/$l"
done
# fmt's exported target names the versioned file; keep that name too.
cp -L /usr/lib/$arch/libfmt.so.9 "$out/lib/$arch/libfmt.so.9.1.0"
du -sh .gpu-deps
