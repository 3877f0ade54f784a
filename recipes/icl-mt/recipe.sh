#!/usr/bin/env bash
# In-context MT with a decoder-only LLM trained here (issue 11): 0-shot vs K-shot chrF++ of
# `xling translate --model LLM --examples POOL --k K` on held-out catalog bitext (en -> LANG).
# No multilingual LLM can be downloaded here, so the recipe trains one: a ~5M-parameter
# Qwen2-shaped model from scratch (`xling finetune --task causal-lm --init-from-config`) on the
# catalogs' train split, formatted as few-shot prompts whose examples `xling select-examples`
# picks from the same pool (leave-one-out), with K drawn per row from 0..4 so that one model
# translates with and without examples. Test pairs come from the catalogs' test split (their
# English strings are in no training row). Stage 1: 2 epochs from scratch; stage 2: 4 more
# epochs on rows with K drawn again. About 1 h on 2 cores; results in README.md here.
#   WORK=build/icl-mt LANG_CODE=de EPOCHS=2 EPOCHS2=4 XLING=build/bin/xling PY=.venv/bin/python
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=${WORK:-build/icl-mt}
LANG_CODE=${LANG_CODE:-de}
EPOCHS=${EPOCHS:-2}
EPOCHS2=${EPOCHS2:-4}
XLING=${XLING:-build/bin/xling}
PY=${PY:-.venv/bin/python}
R=recipes/icl-mt
D=$WORK/data
mkdir -p "$WORK"
TGT=$("$PY" -c "print({'de':'German','fr':'French','es':'Spanish','it':'Italian','pt':'Portuguese','nl':'Dutch','sv':'Swedish','pl':'Polish','ru':'Russian','uk':'Ukrainian'}.get('$LANG_CODE','$LANG_CODE'))")

# 1. Data: the machine's gettext catalogs (English -> LANG), train = the example pool.
[ -f "$WORK/catalogs/train.jsonl" ] || "$XLING" data catalogs --output "$WORK/catalogs"
python3 "$R/prepare.py" --data "$WORK/catalogs" --lang "$LANG_CODE" --out "$D"

# 2. Tokenizer (byte-level BPE, 8k) and config.
"$PY" "$R/make_model.py" --pool "$D/pool.jsonl" --out "$WORK/init"

# 3. Training rows: few-shot prompts with leave-one-out examples from the pool.
"$XLING" select-examples --pool "$D/pool.jsonl" --inputs "$D/pool_sources.txt" --k 4 --exclude-identical \
  --src-label English --tgt-label "$TGT" -o "$D/sel_pool.jsonl"
"$XLING" select-examples --pool "$D/pool.jsonl" --inputs "$D/dev_sources.txt" --k 4 \
  --src-label English --tgt-label "$TGT" -o "$D/sel_dev.jsonl"
python3 "$R/make_rows.py" --selected "$D/sel_pool.jsonl" --pairs "$D/pool.jsonl" --out "$D/train_rows.jsonl" --tgt-label "$TGT"
python3 "$R/make_rows.py" --selected "$D/sel_pool.jsonl" --pairs "$D/pool.jsonl" --out "$D/train_rows2.jsonl" --tgt-label "$TGT" --seed 8
python3 "$R/make_rows.py" --selected "$D/sel_dev.jsonl" --pairs "$D/dev.jsonl" --out "$D/dev_rows.jsonl" --shots 0,4 --tgt-label "$TGT"

# 4. Training from scratch (bf16 autocast; loss on the completions), then continued.
"$XLING" finetune --task causal-lm --init-from-config -m "$WORK/init" --train "$D/train_rows.jsonl" \
  --eval "$D/dev_rows.jsonl" --eval-steps 500 -o "$WORK/model1" --epochs "$EPOCHS" --batch-size 32 --lr 2e-3 \
  --warmup-steps 100 --scheduler cosine --max-length 512 --bf16 --log "$WORK/train_log.jsonl"
"$XLING" finetune --task causal-lm -m "$WORK/model1" --train "$D/train_rows2.jsonl" \
  --eval "$D/dev_rows.jsonl" --eval-steps 1000 -o "$WORK/model" --epochs "$EPOCHS2" --batch-size 32 --lr 1.5e-3 \
  --warmup-steps 50 --scheduler cosine --max-length 512 --bf16 --log "$WORK/train_log2.jsonl"

# 5. Evaluation on the held-out test pairs: 0-shot, K random examples, K similar examples.
XLING=$XLING PY=$PY bash "$R/evaluate.sh" "$WORK/model" "$D" "$WORK/eval" "$LANG_CODE" "$TGT"
