"""Prompt-tuning parity with the real PEFT: a PEFT PromptTuningConfig model (random prompt, seeded,
with a changed classifier head saved as modules_to_save) is saved with save_pretrained, and
`xling forward --model BASE --adapter DIR` must give PEFT's logits on a right-padded batch.
For TOKEN_CLS, PEFT 0.21 returns N + T logit rows (the N virtual tokens first); xling returns the
T real-token rows, compared with PEFT's logits[:, N:].
"""
import json
import os

from harness import check

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "hf", "models")


def _peft_prompt_model(base_dir, task, n, seed):
    import torch
    from peft import PromptTuningConfig, get_peft_model
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification
    cls = AutoModelForSequenceClassification if task == "SEQ_CLS" else AutoModelForTokenClassification
    torch.manual_seed(seed)
    model = get_peft_model(cls.from_pretrained(base_dir), PromptTuningConfig(task_type=task, num_virtual_tokens=n))
    # The saved head (modules_to_save) differs from the base checkpoint's, as a trained one would.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "modules_to_save" in name:
                p.add_(torch.randn_like(p) * 0.5)
    return model.eval()


@check
def prompt_tuning_peft_adapter_in_xling(ctx):
    """PEFT prompt-tuning adapters (SEQ_CLS, TOKEN_CLS; BERT and XLM-R) give PEFT's logits in xling forward."""
    import torch
    from safetensors.torch import load_file, save_file
    cases = [("xlm_roberta__XLMRobertaForSequenceClassification", "SEQ_CLS"),
             ("xlm_roberta__XLMRobertaForTokenClassification", "TOKEN_CLS"),
             ("bert__BertForSequenceClassification", "SEQ_CLS"),
             ("bert__BertForTokenClassification", "TOKEN_CLS"),
             # a base-model checkpoint: xling builds the head class from task_type, the head comes from the adapter
             ("xlm_roberta__XLMRobertaModel", "SEQ_CLS")]
    report = []
    for i, (name, task) in enumerate(cases):
        base = os.path.join(FIXTURES, name)
        cfg = json.load(open(os.path.join(base, "config.json")))
        n = ctx.rng.randint(1, 8)
        model = _peft_prompt_model(base, task, n, ctx.seed + i)
        out = ctx.path(f"prompt-{i}")
        model.save_pretrained(out)
        # A right-padded batch of random lengths (BERT: with segment ids).
        lengths = [ctx.rng.randint(2, 20) for _ in range(4)]
        t = max(lengths)
        pad = cfg.get("pad_token_id") or 0
        ids = torch.full((len(lengths), t), pad, dtype=torch.long)
        mask = torch.zeros((len(lengths), t), dtype=torch.long)
        for r, length in enumerate(lengths):
            ids[r, :length] = torch.tensor([ctx.rng.randint(3, cfg["vocab_size"] - 1) for _ in range(length)])
            mask[r, :length] = 1
        inputs = {"input_ids": ids, "attention_mask": mask}
        if cfg.get("type_vocab_size", 1) > 1:
            inputs["token_type_ids"] = (torch.arange(t).unsqueeze(0) >= torch.tensor(lengths).unsqueeze(1) // 2).long() * mask
        save_file(inputs, ctx.path(f"prompt-in-{i}.safetensors"))
        ctx.run("forward", "--model", base, "--adapter", out, "--inputs", ctx.path(f"prompt-in-{i}.safetensors"),
                "--output", ctx.path(f"prompt-out-{i}.safetensors"))
        ours = load_file(ctx.path(f"prompt-out-{i}.safetensors"))["logits"]
        with torch.no_grad():
            theirs = model(**inputs).logits
        if task == "TOKEN_CLS":
            assert theirs.shape[1] == t + n, theirs.shape
            theirs = theirs[:, n:]
            keep = mask.bool()
            ours, theirs = ours[keep], theirs[keep]
        assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
        diff = (ours - theirs).abs().max().item()
        assert diff <= 1e-4, f"{name} {task}: xling vs peft logits differ by {diff}"
        # The prompt matters: the wrapped HF model (same head) without it gives other logits.
        # (peft 0.21's disable_adapter() fails for prompt methods on encoder models.)
        with torch.no_grad():
            plain = model.base_model(**inputs).logits
        if task == "TOKEN_CLS":
            plain = plain[keep]
        assert (plain - theirs).abs().max().item() > 1e-3, f"{name}: the prompt changed nothing"
        report.append(f"{name.split('__')[1]}/{task} N={n} {diff:.1e}")
    return f"peft {__import__('peft').__version__}: " + "; ".join(report)
