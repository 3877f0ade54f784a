#!/usr/bin/env bash
# One visit to a GPU machine (see docs/build.md, "CUDA"): build the CUDA CLI, check every
# encoder golden on the GPU with `xling forward --device cuda` + `xling diff`, then run the GPU
# encoder benchmark. Needs .gpu-deps/ carried along (tools/gpu/pack_deps.sh). Logs go to $OUT.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/xling-gpu}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
DEVICE=${DEVICE:-cuda}  # DEVICE=cpu X=build/bin/xling SKIP_BUILD=1 SKIP_BENCH=1 tries the script here
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
fail=0
for d in tests/fixtures/hf/models/*/; do
  fam=$(python3 -c "import json,sys; print(json.load(open('$d/golden.json')).get('family',''))" 2>/dev/null)
  case "$fam" in bert|xlm_roberta) ;; *) continue ;; esac
  read -r atol rtol < <(python3 -c "import json; g=json.load(open('$d/golden.json')); print(g.get('atol',1e-4), g.get('rtol',1e-4))")
  name=$(basename "$d")
  if $X forward -m "$d" -i "$d/golden.safetensors" -o "$OUT/$name.safetensors" --device "$DEVICE" 2>>"$OUT/forward.log" &&
     $X diff "$OUT/$name.safetensors" "$d/golden.safetensors" --mask-key attention_mask --ignore-missing \
        --atol "$atol" --rtol "$rtol" --only-failures >"$OUT/$name.diff.txt"; then
    echo "$DEVICE golden ok: $name (atol $atol rtol $rtol)"
  else
    echo "$DEVICE golden FAILED: $name"; cat "$OUT/$name.diff.txt"; fail=1
  fi
  rm -f "$OUT/$name.safetensors"
done
if [ -z "${SKIP_BENCH:-}" ]; then
  python3 bench/encoder_bench_gpu.py --xling "$X" --sentences "${SENTENCES:-10000}" 2>&1 | grep -v -i warn | tee "$OUT/bench.txt"
fi
exit $fail
