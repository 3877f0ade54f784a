"""`xling finetune --task causal-lm` against transformers and peft: random-weight Qwen2, Llama
and BLOOM models (made by transformers, seeded per run) with the byte-level BPE fixture
tokenizer and the real Qwen2 chat template, fine-tuned by xling on multilingual chat rows.

- The LoRA output is a PEFT adapter: peft.PeftModel.from_pretrained loads it onto the
  transformers base model, and its logits equal `xling forward --adapter` (and the adapter does
  change them).
- The full fine-tuned directory loads in transformers with no missing or unexpected keys and its
  logits equal `xling forward`.
- The training loss xling reports for its first update equals the loss transformers computes
  on the same rows with the labels xling documents (assistant turns only: from the content to
  the end of the rendered turn, located by rendering the conversation turn by turn).
"""
import json
import os
import random
import re
import shutil

from harness import check

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TOKENIZER = os.path.join(ROOT, "tests", "fixtures", "hf", "tokenizers", "byte_level_bpe")
TEMPLATE = os.path.join(ROOT, "tests", "data", "chat_templates", "qwen2-instruct.jinja")

PAIRS = [("Open file", "Ouvrir le fichier"), ("Save as", "Guardar como"), ("Close window", "Fenster schließen"),
         ("Print", "Печать"), ("Help", "帮助"), ("New folder", "Nieuwe map"), ("Delete", "Sil"),
         ("Copy", "Kopiraj"), ("Paste", "Incolla"), ("Quit", "終了")]


def make_model(ctx, family, seed):
    import torch
    from transformers import BloomConfig, BloomForCausalLM, LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM
    torch.manual_seed(seed)
    common = dict(vocab_size=6016, eos_token_id=2, pad_token_id=0, bos_token_id=None)
    if family == "qwen2":
        m = Qwen2ForCausalLM(Qwen2Config(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                                         num_key_value_heads=2, max_position_embeddings=256, tie_word_embeddings=True,
                                         **common))
    elif family == "llama":
        m = LlamaForCausalLM(LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                                         num_key_value_heads=1, max_position_embeddings=256, tie_word_embeddings=False,
                                         **common))
    else:
        m = BloomForCausalLM(BloomConfig(hidden_size=32, n_layer=2, n_head=4, **common))
    d = ctx.path(f"clm_{family}")
    m.save_pretrained(d)
    shutil.copy(os.path.join(TOKENIZER, "tokenizer.json"), d)
    with open(os.path.join(TOKENIZER, "tokenizer_config.json"), encoding="utf-8") as f:
        tc = json.load(f)
    with open(TEMPLATE, encoding="utf-8", newline="") as f:
        tc["chat_template"] = f.read()
    with open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(tc, f, ensure_ascii=False)
    return d


def rows(rng, n):
    out = []
    for _ in range(n):
        en, x = rng.choice(PAIRS)
        msgs = []
        if rng.random() < 0.5:
            msgs.append({"role": "system", "content": "Translate."})
        msgs += [{"role": "user", "content": en}, {"role": "assistant", "content": x}]
        if rng.random() < 0.3:
            en2, x2 = rng.choice(PAIRS)
            msgs += [{"role": "user", "content": en2}, {"role": "assistant", "content": x2}]
        out.append({"messages": msgs})
    return out


def labelled(tok, messages):
    """input_ids and labels as xling documents them: assistant turns by turn-by-turn rendering."""
    full = tok.apply_chat_template(messages, tokenize=False)
    spans = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        prefix = tok.apply_chat_template(messages[:i], tokenize=False, add_generation_prompt=True)
        turn = tok.apply_chat_template(messages[:i + 1], tokenize=False)
        spans.append((len(prefix.encode()), len(turn.encode())))
    enc = tok(full, add_special_tokens=False, return_offsets_mapping=True)
    # offsets are in characters; convert span bytes -> characters of `full`
    byte_to_char = {}
    pos = 0
    for ci, ch in enumerate(full):
        byte_to_char[pos] = ci
        pos += len(ch.encode())
    byte_to_char[pos] = len(full)
    cspans = [(byte_to_char[b], byte_to_char[e]) for b, e in spans]
    labels = [t if any(b <= s < e for b, e in cspans) else -100 for t, (s, _) in zip(enc["input_ids"], enc["offset_mapping"])]
    return enc["input_ids"], labels


@check
def causal_lm_finetune_matches_transformers_and_peft(ctx):
    """LoRA adapters load in peft with equal logits; full fine-tunes load in transformers; the first loss = HF's."""
    import torch
    from peft import PeftModel
    from safetensors.torch import load_file, save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer
    rng = random.Random(ctx.seed * 31 + 7)
    report = []
    for family in ("qwen2", "llama", "bloom"):
        base_dir = make_model(ctx, family, ctx.seed + len(report))
        train = rows(rng, 12)
        tpath = ctx.path(f"clm_{family}_train.jsonl")
        with open(tpath, "w", encoding="utf-8") as f:
            for r in train:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        ids = torch.tensor([[1, 85, 2465, 201, 59, 1334, 289, 879, 1497, 688, 16, 2, 201, 1, 5047, 201]])
        save_file({"input_ids": ids}, ctx.path(f"clm_{family}_in.safetensors"))
        # (1) first-update loss = HF's loss on the same rows (one batch holding every row, no shuffling)
        log = ctx.path(f"clm_{family}_log.jsonl")
        out_full = ctx.path(f"clm_{family}_full")
        ctx.run("finetune", "--task", "causal-lm", "--model", base_dir, "--train", tpath, "--output", out_full,
                "--epochs", "1", "--batch-size", str(len(train)), "--lr", "1e-3", "--no-shuffle", "--log", log)
        with open(log) as f:
            first = next(json.loads(x) for x in f if '"loss"' in x and '"step"' in x)
        tok = AutoTokenizer.from_pretrained(base_dir)
        hf = AutoModelForCausalLM.from_pretrained(base_dir).eval()
        seqs = [labelled(tok, r["messages"]) for r in train]
        t = max(len(s[0]) for s in seqs)
        input_ids = torch.tensor([s[0] + [0] * (t - len(s[0])) for s in seqs])
        mask = torch.tensor([[1] * len(s[0]) + [0] * (t - len(s[0])) for s in seqs])
        labels = torch.tensor([s[1] + [-100] * (t - len(s[1])) for s in seqs])
        with torch.no_grad():
            hf_loss = hf(input_ids=input_ids, attention_mask=mask, labels=labels).loss.item()
        assert abs(first["loss"] - hf_loss) < 1e-4, (family, first["loss"], hf_loss)
        # (2) the full fine-tune loads in transformers, logits equal xling's
        ft = AutoModelForCausalLM.from_pretrained(out_full, output_loading_info=True)
        model, info = ft
        assert not info["missing_keys"] and not info["unexpected_keys"], (family, info)
        ctx.run("forward", "--model", out_full, "--inputs", ctx.path(f"clm_{family}_in.safetensors"), "--output",
                ctx.path(f"clm_{family}_full_out.safetensors"))
        with torch.no_grad():
            want = model.eval()(input_ids=ids).logits
        full_err = (load_file(ctx.path(f"clm_{family}_full_out.safetensors"))["logits"] - want).abs().max().item()
        assert full_err < 1e-4, (family, full_err)
        # (3) LoRA: a PEFT adapter
        out_lora = ctx.path(f"clm_{family}_lora")
        ctx.run("finetune", "--task", "causal-lm", "--model", base_dir, "--train", tpath, "--output", out_lora,
                "--epochs", "2", "--batch-size", "4", "--lr", "1e-2", "--peft", "lora")
        base = AutoModelForCausalLM.from_pretrained(base_dir).eval()
        with torch.no_grad():
            plain = base(input_ids=ids).logits.clone()
        pm = PeftModel.from_pretrained(base, out_lora).eval()
        with torch.no_grad():
            want = pm(input_ids=ids).logits
        ctx.run("forward", "--model", base_dir, "--adapter", out_lora, "--inputs", ctx.path(f"clm_{family}_in.safetensors"),
                "--output", ctx.path(f"clm_{family}_lora_out.safetensors"))
        lora_err = (load_file(ctx.path(f"clm_{family}_lora_out.safetensors"))["logits"] - want).abs().max().item()
        effect = (want - plain).abs().max().item()
        assert lora_err < 1e-4 and effect > 1e-3, (family, lora_err, effect)
        report.append(f"{family}: first loss {first['loss']:.5f} vs HF {hf_loss:.5f}, full ft logits {full_err:.1e}, "
                      f"LoRA logits {lora_err:.1e} (adapter effect {effect:.2f})")
    return "; ".join(report)
