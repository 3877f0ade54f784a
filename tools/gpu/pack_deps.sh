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
# Corpus indexes: FAISS (static; its CMake targets name /usr's BLAS and LAPACK, rewritten to this
# prefix; the small reference BLAS/LAPACK suffice to link and run: the GPU checks use no index)
# and SQLite.
cp -rL /usr/include/faiss /usr/include/sqlite3.h /usr/include/sqlite3ext.h "$out/include/"
cp -L /usr/lib/$arch/libfaiss.a /usr/lib/$arch/libsqlite3.so.0 "$out/lib/$arch/"
cp -L /usr/lib/$arch/libsqlite3.so.0 "$out/lib/$arch/libsqlite3.so"
cp -L /usr/lib/$arch/blas/libblas.so.3 "$out/lib/$arch/libblas.so.3"
cp -L /usr/lib/$arch/lapack/liblapack.so.3 "$out/lib/$arch/liblapack.so.3"
for l in libblas liblapack; do ln -sf $l.so.3 "$out/lib/$arch/$l.so"; done
cp -L /usr/lib/$arch/libgfortran.so.5 /usr/lib/$arch/libquadmath.so.0 "$out/lib/$arch/"
cp -rL /usr/lib/$arch/cmake/faiss "$out/lib/$arch/cmake/"
sed -i "s#/usr/lib/$arch/#\${_IMPORT_PREFIX}/lib/$arch/#g" "$out/lib/$arch/cmake/faiss/faiss-targets.cmake"
# fmt's exported target names the versioned file; keep that name too.
cp -L /usr/lib/$arch/libfmt.so.9 "$out/lib/$arch/libfmt.so.9.1.0"
du -sh .gpu-deps
