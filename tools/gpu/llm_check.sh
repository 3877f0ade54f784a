#!/usr/bin/env bash
# One visit to a GPU machine for the decoder LLMs (issue 11): build the CUDA CLI, check every
# decoder golden on the GPU (`xling forward --device cuda` + `xling diff`; greedy ids of
# `xling generate --device cuda`, one prompt at a time and as the left-padded batch; the
# peft/llama_lora logits with the adapter kept separate and merged), causal-LM fine-tuning on
# the device against the CPU (logged losses), then bench/llm_bench.py on the GPU (xling vs HF
# transformers, fp32 and bf16). Needs .gpu-deps/ carried along (tools/gpu/pack_deps.sh).
# Logs go to $OUT. Dry run here: DEVICE=cpu X=build/bin/xling SKIP_BUILD=1 SKIP_BENCH=1 PYTHON=.venv/bin/python
set -uo pipefail
cd "$(dirname "$0")/../.."
. tools/gpu/visit_setup.sh
PY=${PYTHON:-python3}
fail=0
for d in tests/fixtures/hf/models/*ForCausalLM/; do
  name=$(basename "$d")
  read -r atol rtol < <($PY -c "import json; g=json.load(open('$d/golden.json')); print(g.get('atol',1e-4), g.get('rtol',1e-4))")
  if $X forward -m "$d" -i "$d/golden.safetensors" -o "$OUT/$name.safetensors" --device "$DEVICE" 2>>"$OUT/forward.log" &&
     $X diff "$OUT/$name.safetensors" "$d/golden.safetensors" --ignore-missing \
        --atol "$atol" --rtol "$rtol" --only-failures >"$OUT/$name.diff.txt"; then
    echo "$DEVICE forward golden ok: $name (atol $atol rtol $rtol)"
  else
    echo "$DEVICE forward golden FAILED: $name"; cat "$OUT/$name.diff.txt"; fail=1
  fi
  rm -f "$OUT/$name.safetensors"
  # Greedy continuations: each prompt alone (batch size 1) and the left-padded batch (its
  # pads stripped from the prompt, as `xling generate` pads itself), EOS suppressed.
  $PY - "$d/golden.json" "$OUT/$name" <<'PY'
import ast, json, sys
g = json.load(open(sys.argv[1]))
gen = g["generation"] if isinstance(g["generation"], dict) else ast.literal_eval(g["generation"])
for case, v in gen.items():
    prompts = v["prompt_ids"] if isinstance(v["prompt_ids"][0], list) else [v["prompt_ids"]]
    outs = v["output_ids"] if isinstance(v["output_ids"][0], list) else [v["output_ids"]]
    masks = v.get("attention_mask") or [[1] * len(p) for p in prompts]
    with open(f"{sys.argv[2]}.{case}.in.jsonl", "w") as f, open(f"{sys.argv[2]}.{case}.want.jsonl", "w") as w:
        for p, o, m in zip(prompts, outs, masks):
            pads = len(m) - sum(m)
            f.write(json.dumps({"input_ids": p[pads:]}) + "\n")
            w.write(json.dumps({"output_ids": o[pads:], "new": len(o) - len(p)}) + "\n")
PY
  for inp in "$OUT/$name".*.in.jsonl; do
    case=${inp#"$OUT/$name."}; case=${case%.in.jsonl}
    want="$OUT/$name.$case.want.jsonl"
    n=$($PY -c "import json; print(json.loads(open('$want').readline())['new'])")
    rows=$(wc -l <"$inp")
    if $X generate -m "$d" --input-ids "$inp" --output-ids "$OUT/$name.$case.got.jsonl" --num-beams 1 \
         --max-new-tokens "$n" --min-new-tokens "$n" --batch-size "$rows" --device "$DEVICE" 2>>"$OUT/generate.log" &&
       $PY - "$want" "$OUT/$name.$case.got.jsonl" <<'PY'
import json, sys
w = [json.loads(l)["output_ids"] for l in open(sys.argv[1])]
g = [json.loads(l)["output_ids"] for l in open(sys.argv[2])]
sys.exit(0 if w == g else 1)
PY
    then echo "$DEVICE greedy golden ok: $name $case ($rows prompt(s), $n new tokens)"
    else echo "$DEVICE greedy golden FAILED: $name $case"; tail -3 "$OUT/generate.log"; fail=1; fi
  done
  rm -f "$OUT/$name".*.jsonl
done
# LoRA at inference: the adapter kept separate and merged.
L=tests/fixtures/hf/peft/llama_lora
for mode in with_adapter merged; do
  extra=(); [ "$mode" = merged ] && extra=(--merge)
  if $X forward -m "$L/base" --adapter "$L/adapter" "${extra[@]}" -i "$L/golden.safetensors" -o "$OUT/lora.safetensors" \
       --device "$DEVICE" 2>>"$OUT/forward.log" &&
     $PY - "$OUT/lora.safetensors" "$L/golden.safetensors" "logits_$mode" <<'PY'
import sys
from safetensors.numpy import load_file
got = load_file(sys.argv[1])["logits"]; want = load_file(sys.argv[2])[sys.argv[3]]
err = float(abs(got - want).max())
print(f"  peft/llama_lora {sys.argv[3]}: max abs error {err:.1e}")
sys.exit(0 if err <= 1e-4 else 1)
PY
  then echo "$DEVICE LoRA golden ok: $mode"; else echo "$DEVICE LoRA golden FAILED: $mode"; fail=1; fi
done
rm -f "$OUT/lora.safetensors"
# Causal-LM fine-tuning on the device vs the same binary on the CPU: a random Qwen2-shaped model
# with the byte-level BPE fixture tokenizer and the real Qwen2 chat template, 6 logged losses
# of full fine-tuning and of LoRA agree.
M="$OUT/tiny_qwen2"
if $PY - "$M" <<'PY'
import json, os, shutil, sys
import torch, transformers as T
out = sys.argv[1]
tok = "tests/fixtures/hf/tokenizers/byte_level_bpe"
shutil.rmtree(out, ignore_errors=True)
vocab = len(json.load(open(f"{tok}/tokenizer.json"))["model"]["vocab"]) + 64
torch.manual_seed(0)
cfg = T.Qwen2Config(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, max_position_embeddings=512, tie_word_embeddings=True, attention_dropout=0.0)
added = {t["content"]: t["id"] for t in json.load(open(f"{tok}/tokenizer.json"))["added_tokens"]}
cfg.eos_token_id, cfg.pad_token_id = added["<|im_end|>"], added["<|endoftext|>"]
T.Qwen2ForCausalLM(cfg).save_pretrained(out)
for f in os.listdir(tok):
    if f.startswith("tokenizer"):
        shutil.copy(f"{tok}/{f}", out)
tc = json.load(open(f"{out}/tokenizer_config.json"))
tc["chat_template"] = open("tests/data/chat_templates/qwen2-instruct.jinja").read()
json.dump(tc, open(f"{out}/tokenizer_config.json", "w"))
rows = [{"messages": [{"role": "user", "content": f"Translate to German: line {i} of the test"},
                      {"role": "assistant", "content": f"Übersetze Zeile {i} des Tests, bitte {'ä' * (i % 5)}"}]}
        for i in range(48)]
with open(f"{out}.train.jsonl", "w") as f:
    for r in rows:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
PY
then
  for spec in "full:" "lora:--peft lora --lora-r 4"; do
    kind=${spec%%:*}; args=${spec#*:}
    ok=1
    for dev in "$DEVICE" cpu; do
      # shellcheck disable=SC2086
      $X finetune -m "$M" --task causal-lm --train "$M.train.jsonl" -o "$OUT/clm_${kind}_$dev" --max-steps 6 --batch-size 8 \
        --lr 2e-3 --no-shuffle --log "$OUT/clm_${kind}_$dev.jsonl" -q --device "$dev" $args 2>>"$OUT/finetune.log" || ok=0
    done
    if [ $ok = 1 ] && $PY - "$OUT/clm_${kind}_$DEVICE.jsonl" "$OUT/clm_${kind}_cpu.jsonl" "$kind" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1]) if '"eval"' not in l]
b = [json.loads(l) for l in open(sys.argv[2]) if '"eval"' not in l]
worst = max(abs(x["loss"] - y["loss"]) / max(abs(y["loss"]), 1e-9) for x, y in zip(a, b))
print(f"  causal-lm {sys.argv[3]}: {len(a)} steps, device vs cpu loss max rel diff {worst:.1e}, losses "
      + " ".join(f"{x['loss']:.4f}" for x in a))
sys.exit(0 if len(a) == len(b) == 6 and worst <= 1e-3 else 1)
PY
    then echo "$DEVICE causal-lm finetune ok: $kind"; else echo "$DEVICE causal-lm finetune FAILED: $kind"; tail -3 "$OUT/finetune.log"; fail=1; fi
    rm -rf "$OUT/clm_${kind}_$DEVICE" "$OUT/clm_${kind}_cpu"
  done
else
  echo "could not build the tiny Qwen2 model"; fail=1
fi
echo "checks: $(( $(date +%s) - start )) s"
if [ -z "${SKIP_BENCH:-}" ]; then
  $PY bench/llm_bench.py --xling "$X" --device "$DEVICE" --engines xling,xling-bf16,hf,hf-bf16 \
    --batches "${BATCHES:-1,8,32}" --repeats 3 --out "$OUT/llm_gpu.json" 2>&1 | grep -v -i warn | tee "$OUT/bench.txt"
fi
exit $fail
