#!/usr/bin/env bash
# In-context MT comparison on held-out pairs (prepare.py's test split): chrF++ and BLEU of
#   zero      `xling translate --model LLM` without examples
#   random4   4 random pool pairs in the prompt (random_prompts.py + `xling generate --stop`)
#   similarK  `xling translate --examples POOL --k K` (the K most similar pool pairs)
#   copy1     the most similar pool pair's own translation, copied (retrieval without the LLM)
# Usage: evaluate.sh MODEL DATA_DIR OUT_DIR [LANG_CODE de] [TGT_LABEL German]
set -euo pipefail
cd "$(dirname "$0")/../.."
M=$1 D=$2 E=$3 LANG_CODE=${4:-de} TGT=${5:-German}
XLING=${XLING:-build/bin/xling}
R=recipes/icl-mt
mkdir -p "$E"
T=(-m "$M" --src-lang en --tgt-lang "$LANG_CODE" --tgt-label "$TGT" -i "$D/test_sources.txt" -q --batch-size 16 --max-new-tokens 96)
t0=$(date +%s)
"$XLING" translate "${T[@]}" -o "$E/zero.txt" --prompts-out "$E/zero.jsonl"
echo "zero-shot: $(( $(date +%s) - t0 )) s"
for k in 1 4; do
  t0=$(date +%s)
  "$XLING" translate "${T[@]}" --examples "$D/pool.jsonl" --k "$k" -o "$E/similar$k.txt" --prompts-out "$E/similar$k.jsonl"
  echo "similar $k: $(( $(date +%s) - t0 )) s"
done
python3 "$R/random_prompts.py" --pool "$D/pool.jsonl" --inputs "$D/test_sources.txt" --k 4 --tgt-label "$TGT" \
  --out "$E/random4_prompts.jsonl"
"$XLING" generate -m "$M" --input "$E/random4_prompts.jsonl" --stop $'\n' --max-new-tokens 96 --batch-size 16 \
  -o "$E/random4.jsonl" 2>/dev/null
python3 - "$E" <<'PY'
import json, sys
e = sys.argv[1]
with open(f"{e}/random4.txt", "w") as f:
    for l in open(f"{e}/random4.jsonl"):
        f.write(json.loads(l)["text"].split("\n")[0].strip() + "\n")
with open(f"{e}/copy1.txt", "w") as f:
    for l in open(f"{e}/similar1.jsonl"):
        f.write(json.loads(l)["examples"][0]["target"] + "\n")
PY
{
  echo "| prompt | chrF++ | BLEU | mean prompt tokens |"
  echo "|---|---|---|---|"
  for sys in zero random4 similar1 similar4 copy1; do
    c=$("$XLING" score -m chrf++ --hyp "$E/$sys.txt" --ref "$D/test_refs.txt" --json | python3 -c "import json,sys; print(round(json.load(sys.stdin)['score'], 2))")
    b=$("$XLING" score -m bleu --hyp "$E/$sys.txt" --ref "$D/test_refs.txt" --json | python3 -c "import json,sys; print(round(json.load(sys.stdin)['score'], 2))")
    p=$([ -f "$E/$sys.jsonl" ] && [ "$sys" != random4 ] && python3 -c "
import json,sys; r=[json.loads(l) for l in open('$E/$sys.jsonl')]; print(round(sum(x['prompt_tokens'] for x in r)/len(r),1))" || echo "-")
    echo "| $sys | $c | $b | $p |"
  done
} | tee "$E/results.md"
