#!/usr/bin/env bash
# `make demo`: what xling does today, on the bundled HF fixtures and an evaluation suite built
# from Debian's translation catalogs. (Issue 6 replaces this with cross-lingual search on
# xling's own embedded model.)
set -euo pipefail
X=${1:-build/bin/xling}
F=tests/fixtures/hf
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }

step "Describe a checkpoint (XLM-R sequence classifier)" \
  "$X" info --model "$F/models/xlm_roberta__XLMRobertaForSequenceClassification"
step "A translation model: family not runnable yet, still described" \
  "$X" info --model "$F/models/m2m100__M2M100ForConditionalGeneration"
step "Cast every float tensor to bf16 (atomic write, deterministic layout)" \
  "$X" convert --model "$F/models/m2m100__M2M100ForConditionalGeneration" --output "$TMP/m2m100.bf16.safetensors" --dtype bf16
step "How far is bf16 from the original at atol=rtol=1e-3? (first rows; exit 3 = some tensors differ)" \
  bash -c "'$X' diff '$TMP/m2m100.bf16.safetensors' '$F/models/m2m100__M2M100ForConditionalGeneration/model.safetensors' --atol 1e-3 --rtol 1e-3 --only-failures > '$TMP/d.txt'; rc=\$?; head -6 '$TMP/d.txt'; echo ...; tail -1 '$TMP/d.txt'; echo \"exit code \$rc\""
step "Compare model outputs with a golden, only where attention_mask == 1" \
  "$X" diff "$F/models/bert__BertModel/golden.safetensors" "$F/models/bert__BertModel/golden.safetensors" --mask-key attention_mask
step "Bad input is one clear line and exit code 1" \
  bash -c "head -c 100 '$F/models/bert__BertModel/model.safetensors' > '$TMP/truncated.safetensors'; '$X' info --model '$TMP/truncated.safetensors'; echo \"exit code \$?\""
step "Tokenize like HF, with character offsets (XLM-R's sentencepiece Unigram)" \
  "$X" tokenize --tokenizer "$F/tokenizers/xlm_roberta" --text "Grüße aus Köln 🇩🇪" --text "東京は晴れ"
step "Score translations exactly as sacrebleu 2.6.0" \
  bash -c "python3 -c \"import json;d=json.load(open('$F/metrics/sacrebleu.json'));open('$TMP/h','w').write('\\\\n'.join(d['hyps'])+'\\\\n');open('$TMP/r','w').write('\\\\n'.join(d['refs'])+'\\\\n')\"; '$X' score --hyp '$TMP/h' --ref '$TMP/r'; '$X' score --metric chrf++ --hyp '$TMP/h' --ref '$TMP/r'"
step "A multilingual evaluation suite -> results.json, results.md, report.html" \
  "$X" eval --config examples/eval/suite.json --predictions examples/eval/predictions --output-dir "$TMP/eval"
step "Sentence embeddings as sentence-transformers computes them (random fixture weights)" \
  bash -c "printf 'Hello world\\nHallo Welt\\n' | '$X' embed --model '$F/sentence_transformers/e5_like_mean' --output - | cut -c1-90"
step "Fine-tune it on real text in 11 languages (country or language?), per-language table on held-out rows" \
  bash -c "for f in examples/eval/data/classification/*.jsonl; do head -45 \"\$f\"; done > '$TMP/train.jsonl'; mkdir -p '$TMP/dev'; for l in ar de ja ru; do tail -15 examples/eval/data/classification/\$l.jsonl > '$TMP/dev/'\$l.jsonl; done; '$X' finetune -m '$F/sentence_transformers/e5_like_mean' --train '$TMP/train.jsonl' --eval-dir '$TMP/dev' -o '$TMP/ft' --epochs 6 --batch-size 16 --lr 2e-3 -q 2>&1 | tail -8"
printf '\nThe HTML report of the suite above: ./eval-report.html\n'
cp "$TMP/eval/report.html" ./eval-report.html
