#!/usr/bin/env bash
# The xling-mini recipe, end to end (`make default-model`): data -> tokenizer -> training ->
# models/xling-mini (weights, tokenizer, evaluation, model card). About 1 h on 2 cores.
#   WORK=build/xling-mini  STEPS=4500  OUT=models/xling-mini  XLING=build/bin/xling  PY=.venv/bin/python
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=${WORK:-build/xling-mini}
STEPS=${STEPS:-4500}     # stage 1: from scratch
STEPS2=${STEPS2:-1500}   # stage 2: continues stage 1 on freshly drawn batches at a lower learning rate
BATCH=${BATCH:-256}
OUT=${OUT:-models/xling-mini}
XLING=${XLING:-build/bin/xling}
PY=${PY:-.venv/bin/python}
RECIPE=recipes/xling-mini
mkdir -p "$WORK"

command -v spm_train >/dev/null || { echo "recipe: installing Debian's sentencepiece (spm_train)"; apt-get install -y -q sentencepiece >/dev/null; }
"$PY" -c 'import google.protobuf, transformers' 2>/dev/null || "$PY" -m pip install -q -r tools/parity/requirements.txt

# 1. Data: the machine's gettext catalogs, split by English string (manifest.json records every file).
"$XLING" data catalogs --output "$WORK/data"
python3 "$RECIPE/prepare.py" --data "$WORK/data" --out "$WORK/prep" --steps "$STEPS" --batch-size "$BATCH"
python3 "$RECIPE/prepare.py" --data "$WORK/data" --out "$WORK/prep2" --steps "$STEPS2" --batch-size "$BATCH" --batch-seed 14

# 2. Tokenizer: a 32k Unigram vocabulary (sentencepiece), exported as an XLM-R tokenizer.json.
mkdir -p "$WORK/tok" "$WORK/init"
spm_train --input="$WORK/prep/spm_corpus.txt" --model_prefix="$WORK/tok/spm" --vocab_size=31998 --model_type=unigram \
  --character_coverage=0.99995 --num_threads=2 --input_sentence_size=2000000 --shuffle_input_sentence=true \
  --max_sentence_length=4192 --minloglevel=1
"$PY" "$RECIPE/make_tokenizer.py" "$WORK/tok/spm.model" "$WORK/init"
cp "$RECIPE/config.json" "$WORK/init/config.json"

# 3. Training: stage 1 from scratch, stage 2 continuing it. LaBSE-style translation ranking
# (in-batch negatives both ways, additive margin), bf16 autocast, evaluation on the dev mix.
train_stage() {  # RUN_DIR STEPS xling-finetune-args...
  local run=$1 steps=$2; shift 2
  mkdir -p "$run"
  rm -f "$run/clock.txt"
  ( while sleep 30; do echo "$(date +%s) $(wc -l < "$run/train_log.jsonl" 2>/dev/null || echo 0)" >> "$run/clock.txt"; done ) &
  local clock=$!
  local start; start=$(date +%s)
  "$XLING" finetune --task bi-encoder --output "$run/model" --no-shuffle --batch-size "$BATCH" --epochs 1 \
    --eval "$WORK/prep/dev.jsonl" --weight-decay 0.01 --loss mnrl-symmetric --margin 0.2 --scale 20 --max-length 64 \
    --bf16 --eval-steps 250 --save-steps 500 --save-total-limit 2 --log "$run/train_log.jsonl" --seed 42 \
    ${RESUME:+--resume} "$@"
  kill $clock 2>/dev/null || true
  python3 - "$run/run.json" "$steps" "$BATCH" "$start" "$(date +%s)" <<'PYEOF'
import json, os, platform, sys
path, steps, batch, start, end = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
json.dump({"steps": steps, "batch_size": batch, "seconds": end - start, "minutes": round((end - start) / 60, 1),
           "hardware": f"{os.cpu_count()} cores of {cpu} (CPU, bf16 autocast)", "margin": 0.2, "scale": 20},
          open(path, "w"), indent=1)
PYEOF
}
train_stage "$WORK/run" "$STEPS" --model "$WORK/init" --init-from-config --train "$WORK/prep/train.jsonl" \
  --lr 5e-4 --warmup-steps 300 --pooling mean --normalize
train_stage "$WORK/run2" "$STEPS2" --model "$WORK/run/model" --train "$WORK/prep2/train.jsonl" \
  --lr 2e-4 --warmup-steps 100

# 4. Package: fp16 weights, evaluation (committed test split + out-of-domain), fertility, model card.
"$PY" "$RECIPE/package.py" --xling "$XLING" --run "$WORK/run" --run "$WORK/run2" --prep "$WORK/prep" --data "$WORK/data" --out "$OUT"
