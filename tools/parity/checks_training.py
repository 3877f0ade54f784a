"""Fine-tuning parity with HF: the same 20 AdamW steps in a plain PyTorch loop over transformers'
model (same init, data order, hyperparameters, dropout 0, HF Trainer's weight-decay groups and
linear warmup schedule) against `xling finetune`; and the fine-tuned directory loaded back by
transformers gives xling's logits.
"""
import json
import os

from harness import check


@check
def finetune_matches_hf_training_loop(ctx):
    """xling finetune loss curve == a transformers training loop for 20 steps; HF loads the output."""
    import numpy as np
    import torch
    import transformers
    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification
    cfg = XLMRobertaConfig(vocab_size=300, hidden_size=36, num_hidden_layers=2, num_attention_heads=3,
                           intermediate_size=64, max_position_embeddings=64, pad_token_id=1, bos_token_id=0,
                           eos_token_id=2, type_vocab_size=1, num_labels=3, hidden_dropout_prob=0.0,
                           attention_probs_dropout_prob=0.0)
    torch.manual_seed(ctx.seed)
    init = ctx.path("train-init")
    XLMRobertaForSequenceClassification(cfg).save_pretrained(init)
    # Pre-tokenized rows of random lengths: exact inputs on both sides.
    rows = []
    for i in range(80):
        n = ctx.rng.randint(3, 40)
        rows.append({"input_ids": [0] + [ctx.rng.randint(3, 299) for _ in range(n - 2)] + [2],
                     "label": ctx.rng.randint(0, 2)})
    with open(ctx.path("train.jsonl"), "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    steps, bs, lr, wd, warmup = 20, 8, 5e-4, 0.01, 5
    out = ctx.path("train-out")
    ctx.run("finetune", "--model", init, "--train", ctx.path("train.jsonl"), "--output", out, "--max-steps", str(steps),
            "--batch-size", str(bs), "--lr", str(lr), "--weight-decay", str(wd), "--warmup-steps", str(warmup),
            "--scheduler", "linear", "--max-grad-norm", "1.0", "--no-shuffle", "--log", ctx.path("log.jsonl"), "-q")
    ours = [json.loads(l) for l in open(ctx.path("log.jsonl")) if '"eval"' not in l]
    # The HF side: the loop HF's Trainer runs, written out (no shuffling, right padding).
    model = XLMRobertaForSequenceClassification.from_pretrained(init).train()
    decay = [n for n, _ in model.named_parameters() if not n.endswith("bias") and "LayerNorm" not in n]
    groups = [{"params": [p for n, p in model.named_parameters() if n in decay], "weight_decay": wd},
              {"params": [p for n, p in model.named_parameters() if n not in decay], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=lr)
    sched = transformers.get_linear_schedule_with_warmup(opt, warmup, steps)
    ref = []
    batches = [rows[i:i + bs] for i in range(0, len(rows), bs)]
    for step in range(steps):
        batch = batches[step % len(batches)]
        t = max(len(r["input_ids"]) for r in batch)
        ids = torch.full((len(batch), t), 1, dtype=torch.long)
        mask = torch.zeros((len(batch), t), dtype=torch.long)
        for i, r in enumerate(batch):
            ids[i, :len(r["input_ids"])] = torch.tensor(r["input_ids"])
            mask[i, :len(r["input_ids"])] = 1
        loss = model(input_ids=ids, attention_mask=mask, labels=torch.tensor([r["label"] for r in batch])).loss
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0).item()
        used_lr = sched.get_last_lr()[0]
        opt.step()
        sched.step()
        opt.zero_grad()
        ref.append({"step": step + 1, "loss": loss.item(), "grad_norm": norm, "lr": used_lr})
    assert len(ours) == steps, f"xling logged {len(ours)} steps"
    worst = 0.0
    for a, b in zip(ours, ref):
        for k in ("loss", "grad_norm", "lr"):
            rel = abs(a[k] - b[k]) / max(abs(b[k]), 1e-12)
            worst = max(worst, rel) if k != "lr" or b[k] else worst
            assert rel <= 1e-4 or abs(a[k] - b[k]) <= 1e-9, f"step {b['step']} {k}: xling {a[k]} vs HF {b[k]}"
    # transformers loads xling's output as its own and gives xling's logits.
    back = XLMRobertaForSequenceClassification.from_pretrained(out).eval()
    ids = torch.tensor([rows[0]["input_ids"]])
    from safetensors.torch import load_file, save_file
    save_file({"input_ids": ids}, ctx.path("fin.safetensors"))
    ctx.run("forward", "--model", out, "--inputs", ctx.path("fin.safetensors"), "--output", ctx.path("fout.safetensors"))
    with torch.no_grad():
        hf_logits = back(input_ids=ids).logits
    diff = (load_file(ctx.path("fout.safetensors"))["logits"] - hf_logits).abs().max().item()
    assert diff <= 1e-4, f"logits of the fine-tuned model: xling vs transformers max abs diff {diff}"
    # ... and the trained weights equal HF's after the same 20 steps.
    theirs = {n: p.detach() for n, p in model.named_parameters()}
    mine = load_file(os.path.join(out, "model.safetensors"))
    wdiff = max((mine[n] - theirs[n]).abs().max().item() for n in theirs if "key.bias" not in n)
    assert wdiff <= 1e-4, f"weights after {steps} steps differ by {wdiff}"
    return (f"{steps} steps: loss/grad-norm/lr max rel diff {worst:.1e}; weights max abs diff {wdiff:.1e}; "
            f"HF reload logits diff {diff:.1e}")


def _adapter_logits_vs_peft(ctx, name, seed_offset, num_labels, peft_args):
    """Fine-tunes a random XLM-R classifier with `xling finetune <peft_args>` on random pre-tokenized
    rows, runs `xling forward --adapter` and peft.PeftModel on the same padded batch, and asserts
    their logits agree. Returns (xling logits, init dir, ids, mask, max abs diff)."""
    import torch
    from peft import PeftModel
    from safetensors.torch import load_file, save_file
    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification
    cfg = XLMRobertaConfig(vocab_size=200, hidden_size=24, num_hidden_layers=2, num_attention_heads=3,
                           intermediate_size=48, max_position_embeddings=64, pad_token_id=1, bos_token_id=0,
                           eos_token_id=2, type_vocab_size=1, num_labels=num_labels, hidden_dropout_prob=0.0,
                           attention_probs_dropout_prob=0.0)
    torch.manual_seed(ctx.seed + seed_offset)
    init = ctx.path(f"{name}-init")
    XLMRobertaForSequenceClassification(cfg).save_pretrained(init)
    with open(ctx.path(f"{name}-train.jsonl"), "w") as f:
        for i in range(24):
            n = ctx.rng.randint(3, 20)
            f.write(json.dumps({"input_ids": [0] + [ctx.rng.randint(3, 199) for _ in range(n - 2)] + [2],
                                "label": ctx.rng.randint(0, num_labels - 1)}) + "\n")
    out = ctx.path(f"{name}-out")
    ctx.run("finetune", "--model", init, "--train", ctx.path(f"{name}-train.jsonl"), "--output", out, *peft_args,
            "--max-steps", "10", "--batch-size", "4", "--lr", "1e-2", "-q")
    ids = torch.tensor([[0, 5, 17, 42, 2, 1, 1], [0, 9, 8, 7, 6, 5, 2]])
    mask = (ids != 1).long()
    save_file({"input_ids": ids, "attention_mask": mask}, ctx.path(f"{name}-in.safetensors"))
    ctx.run("forward", "--model", init, "--adapter", out, "--inputs", ctx.path(f"{name}-in.safetensors"),
            "--output", ctx.path(f"{name}-fout.safetensors"))
    ours = load_file(ctx.path(f"{name}-fout.safetensors"))["logits"]
    model = PeftModel.from_pretrained(XLMRobertaForSequenceClassification.from_pretrained(init), out).eval()
    with torch.no_grad():
        theirs = model(input_ids=ids, attention_mask=mask).logits
    diff = (ours - theirs).abs().max().item()
    assert diff <= 1e-4, f"xling vs peft logits differ by {diff}"
    return ours, init, ids, mask, diff


@check
def finetune_lora_adapter_loads_in_peft(ctx):
    """xling finetune --peft lora writes an adapter that peft.PeftModel loads with xling's logits."""
    from transformers import XLMRobertaForSequenceClassification
    ours, init, ids, mask, diff = _adapter_logits_vs_peft(
        ctx, "lora", 1, 3, ["--peft", "lora", "--lora-r", "4", "--lora-alpha", "8", "--lora-targets", "query,value,dense"])
    moved = (ours - XLMRobertaForSequenceClassification.from_pretrained(init).eval()(input_ids=ids, attention_mask=mask)
             .logits.detach()).abs().max().item()
    assert moved > 1e-3, "the adapter changed nothing"
    return f"peft {__import__('peft').__version__} loads xling's adapter: logits max abs diff {diff:.1e}"


@check
def finetune_prompt_tuning_adapter_loads_in_peft(ctx):
    """xling finetune --peft prompt writes a PEFT prompt-tuning adapter that peft loads with xling's logits."""
    _, _, _, _, diff = _adapter_logits_vs_peft(ctx, "prompt", 2, 2, ["--peft", "prompt", "--num-virtual-tokens", "5"])
    return f"peft loads xling's trained prompt-tuning adapter: logits max abs diff {diff:.1e}"
