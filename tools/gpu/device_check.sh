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
# Training on the device: the 5-step AdamW golden through the CLI, and a LoRA run on real text.
F=tests/fixtures/hf/training/xlm_roberta_seqcls
python3 - "$F" "$OUT/train5.jsonl" <<'PY'
import json, sys
from safetensors.numpy import load_file
g = load_file(sys.argv[1] + "/golden.safetensors")
with open(sys.argv[2], "w") as f:
    for i in range(g["input_ids"].shape[0]):
        f.write(json.dumps({"input_ids": g["input_ids"][i].tolist(), "attention_mask": g["attention_mask"][i].tolist(),
                            "label": int(g["labels"][i])}) + "\n")
PY
if $X finetune -m "$F/init" --train "$OUT/train5.jsonl" -o "$OUT/ft5" --batch-size 4 --max-steps 5 --lr 1e-3 \
     --weight-decay 0.01 --decay-all-params --scheduler constant --no-shuffle --log "$OUT/ft5.jsonl" -q \
     --device "$DEVICE" 2>>"$OUT/finetune.log" &&
   python3 - "$F/golden.json" "$OUT/ft5.jsonl" <<'PY'
import json, sys
g = json.load(open(sys.argv[1])); log = [json.loads(l) for l in open(sys.argv[2])]
worst = max(max(abs(a["loss"] - b) / b for a, b in zip(log, g["losses"])),
            max(abs(a["grad_norm"] - b) / b for a, b in zip(log, g["grad_norms_before_clip"])))
print(f"training golden on the device: 5 steps, max rel diff of losses/grad norms {worst:.1e}")
sys.exit(0 if worst <= 1e-4 else 1)
PY
then :; else echo "training golden on $DEVICE FAILED"; tail -5 "$OUT/finetune.log"; fail=1; fi
rm -f "$OUT/ct_train.jsonl" "$OUT/ct_dev.jsonl"
for f in examples/eval/data/classification/*.jsonl; do head -45 "$f" >> "$OUT/ct_train.jsonl"; tail -15 "$f" >> "$OUT/ct_dev.jsonl"; done
$X finetune -m tests/fixtures/hf/sentence_transformers/e5_like_mean --train "$OUT/ct_train.jsonl" --eval "$OUT/ct_dev.jsonl" \
  -o "$OUT/ct_lora" --peft lora --lora-r 4 --epochs 4 --batch-size 16 --lr 5e-3 --eval-steps 60 -q --device "$DEVICE" 2>&1 |
  grep -E "eval|trained|error" || fail=1
rm -rf "$OUT/ft5" "$OUT/ct_lora"

if [ -z "${SKIP_BENCH:-}" ]; then
  python3 bench/encoder_bench_gpu.py --xling "$X" --sentences "${SENTENCES:-10000}" 2>&1 | grep -v -i warn | tee "$OUT/bench.txt"
fi
exit $fail
