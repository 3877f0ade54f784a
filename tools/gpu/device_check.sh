#!/usr/bin/env bash
# One visit to a GPU machine (see docs/build.md, "CUDA"): build the CUDA CLI, check every
# encoder golden on the GPU with `xling forward --device cuda` + `xling diff`, then run the GPU
# encoder benchmark. Needs .gpu-deps/ carried along (tools/gpu/pack_deps.sh). Logs go to $OUT.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tools/gpu/visit_setup.sh
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
# Every objective and PEFT method on the device against the same binary on the CPU (dropout off,
# file order): the logged losses of 6 steps agree.
M="$OUT/nodrop"; rm -rf "$M"; cp -r tests/fixtures/hf/sentence_transformers/e5_like_mean "$M"
python3 - "$M/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["hidden_dropout_prob"] = c["attention_probs_dropout_prob"] = 0.0
json.dump(c, open(sys.argv[1], "w"))
PY
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
src = [json.loads(l) for l in open("examples/eval/data/mining/de.jsonl")][:48]
with open(out + "/pairs.jsonl", "w") as f, open(out + "/lists.jsonl", "w") as g:
    for i, r in enumerate(src):
        f.write(json.dumps({"anchor": r["source"], "positive": r["target"], "negative": src[(i + 5) % len(src)]["target"]}) + "\n")
        g.write(json.dumps({"query": r["source"], "positive": r["target"],
                            "negatives": [src[(i + 3) % len(src)]["target"], src[(i + 7) % len(src)]["target"]]}) + "\n")
with open(out + "/mt.json", "w") as f:
    json.dump({"tasks": [{"name": "cls", "task": "seq-cls", "train": "ct_train.jsonl"},
                         {"name": "bi", "task": "bi-encoder", "train": "pairs.jsonl"}]}, f)
PY
objective_run() {  # name, device, args...
  local name=$1 dev=$2; shift 2
  $X finetune -m "$M" -o "$OUT/obj_${name}_$dev" --max-steps 6 --batch-size 8 --lr 2e-3 --no-shuffle \
    --log "$OUT/obj_${name}_$dev.jsonl" -q --device "$dev" "$@" 2>>"$OUT/objectives.log"
}
for spec in "bi:--task bi-encoder --train $OUT/pairs.jsonl" "ce:--task cross-encoder --train $OUT/lists.jsonl" \
            "mlm:--task mlm --train $OUT/ct_train.jsonl --whole-word-mask" \
            "houlsby:--train $OUT/ct_train.jsonl --peft adapter --adapter-kind houlsby" \
            "prompt:--train $OUT/ct_train.jsonl --peft prompt" "mt:--multitask $OUT/mt.json" \
            "bf16:--train $OUT/ct_train.jsonl --bf16"; do
  name=${spec%%:*}; args=${spec#*:}
  # shellcheck disable=SC2086
  if objective_run "$name" "$DEVICE" $args && objective_run "$name" cpu $args &&
     python3 - "$OUT/obj_${name}_$DEVICE.jsonl" "$OUT/obj_${name}_cpu.jsonl" "$name" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1]) if '"eval"' not in l]
b = [json.loads(l) for l in open(sys.argv[2]) if '"eval"' not in l]
tol = 2e-2 if sys.argv[3] == "bf16" else 1e-3
worst = max(abs(x["loss"] - y["loss"]) / max(abs(y["loss"]), 1e-9) for x, y in zip(a, b))
print(f"{sys.argv[3]}: {len(a)} steps, device vs cpu loss max rel diff {worst:.1e} (tolerance {tol})")
sys.exit(0 if len(a) == len(b) == 6 and worst <= tol else 1)
PY
  then :; else echo "objective $name on $DEVICE FAILED"; tail -3 "$OUT/objectives.log"; fail=1; fi
  rm -rf "$OUT/obj_${name}_$DEVICE" "$OUT/obj_${name}_cpu"
done

if [ -z "${SKIP_BENCH:-}" ]; then
  python3 bench/encoder_bench_gpu.py --xling "$X" --sentences "${SENTENCES:-10000}" 2>&1 | grep -v -i warn | tee "$OUT/bench.txt"
fi
exit $fail
