# Sourced by the GPU visit scripts (device_check.sh, llm_check.sh) from the repository root:
# $OUT for logs, the GPU's name, DEVICE (cuda) and X (the CLI), then the CUDA build unless
# SKIP_BUILD is set (its log in $OUT/build.log; the script exits when it fails), and the
# library path of .gpu-deps. Dry run on a CPU machine:
#   DEVICE=cpu X=build/bin/xling SKIP_BUILD=1 SKIP_BENCH=1 bash tools/gpu/<script>.sh
OUT=${OUT:-/tmp/xling-gpu}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null
DEVICE=${DEVICE:-cuda}
X=${X:-build-cuda/bin/xling}
start=$(date +%s)
if [ -z "${SKIP_BUILD:-}" ]; then
  if ! tools/gpu/build_cuda.sh >"$OUT/build.log" 2>&1; then
    tail -40 "$OUT/build.log"
    exit 1
  fi
  echo "build: $(( $(date +%s) - start )) s"
fi
export LD_LIBRARY_PATH="$PWD/.gpu-deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
