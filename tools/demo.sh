#!/usr/bin/env bash
# `make demo`: what xling does today, on the bundled HF fixtures. (Issue 6 replaces this
# with cross-lingual search on xling's own embedded model.)
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
