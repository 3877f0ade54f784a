"""Embedding and reranking fine-tuning parity: `xling finetune --task bi-encoder` against the
same steps with sentence-transformers' model and loss (MultipleNegativesRankingLoss, CoSENT) in
a plain PyTorch loop, and `--task cross-encoder` against transformers' sequence classifier with
BCE-with-logits; then sentence-transformers loads xling's directories (SentenceTransformer,
CrossEncoder) and gives the embeddings / scores of the Python-trained models.
"""
import json
import os
import shutil

from harness import check

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "hf")

WORDS = ["Deutschland", "Frankreich", "日本", "Россия", "España", "مصر", "Ελλάδα", "भारत", "中国", "Türkiye", "Brasil",
         "Polska", "Sverige", "Suomi", "Magyarország", "한국", "Norge", "ישראל", "ประเทศไทย", "Kenya", "Perú", "Việt Nam"]


def no_dropout_copy(ctx, src, name):
    """The fixture directory with dropout off (so that losses compare step by step)."""
    dst = ctx.path(name)
    shutil.copytree(src, dst)
    cfg_path = os.path.join(dst, "config.json")
    cfg = json.load(open(cfg_path))
    cfg["hidden_dropout_prob"] = 0.0
    cfg["attention_probs_dropout_prob"] = 0.0
    cfg["classifier_dropout"] = 0.0
    json.dump(cfg, open(cfg_path, "w"), indent=2)
    return dst


def text(ctx):
    return " ".join(ctx.rng.choice(WORDS) for _ in range(ctx.rng.randint(1, 6)))


def hf_optimizer(named, lr, wd, steps, warmup):
    import torch
    import transformers
    named = [(n, p) for n, p in named if p.requires_grad]
    decay = [p for n, p in named if not n.endswith("bias") and "LayerNorm" not in n]
    rest = [p for n, p in named if n.endswith("bias") or "LayerNorm" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": wd}, {"params": rest, "weight_decay": 0.0}], lr=lr)
    return opt, transformers.get_linear_schedule_with_warmup(opt, warmup, steps)


def hf_step(model, opt, sched, loss, step):
    """One reference optimizer step as HF's Trainer takes it (backward, clip to 1.0, AdamW and
    scheduler step, zero grads); returns the log record xling writes for it."""
    import torch
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0).item()
    opt.step()
    sched.step()
    opt.zero_grad()
    return {"step": step + 1, "loss": loss.item(), "grad_norm": norm}


def compare_logs(ours, ref, what):
    worst = 0.0
    assert len(ours) == len(ref), f"{what}: xling logged {len(ours)} steps, reference {len(ref)}"
    for a, b in zip(ours, ref):
        for k in ("loss", "grad_norm"):
            rel = abs(a[k] - b[k]) / max(abs(b[k]), 1e-12)
            worst = max(worst, rel)
            assert rel <= 1e-4, f"{what} step {a['step']} {k}: xling {a[k]} vs reference {b[k]}"
    return worst


@check
def finetune_bi_encoder_matches_sentence_transformers(ctx):
    """bi-encoder MNRL (with hard negatives) and CoSENT steps == sentence-transformers; its dir loads back."""
    import torch
    from sentence_transformers import SentenceTransformer, losses
    base = no_dropout_copy(ctx, os.path.join(FIXTURES, "sentence_transformers", "e5_like_mean"), "bi-base")
    steps, bs, lr, wd, warmup = 8, 6, 2e-3, 0.01, 2
    report = []
    for kind in ("mnrl", "cosent"):
        rows = []
        for i in range(bs * steps):
            if kind == "mnrl":
                rows.append({"anchor": text(ctx), "positive": text(ctx), "negative": text(ctx)})
            else:
                rows.append({"sentence1": text(ctx), "sentence2": text(ctx), "score": round(ctx.rng.random(), 3)})
        train = ctx.path(f"bi-{kind}.jsonl")
        with open(train, "w") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        out = ctx.path(f"bi-{kind}-out")
        log = ctx.path(f"bi-{kind}-log.jsonl")
        ctx.run("finetune", "--task", "bi-encoder", "--model", base, "--train", train, "--output", out, "--max-steps",
                str(steps), "--batch-size", str(bs), "--lr", str(lr), "--weight-decay", str(wd), "--warmup-steps",
                str(warmup), "--no-shuffle", "--log", log, "-q")
        ours = [json.loads(l) for l in open(log) if '"eval"' not in l]
        model = SentenceTransformer(base, device="cpu")
        model.train()
        loss_fn = losses.MultipleNegativesRankingLoss(model) if kind == "mnrl" else losses.CoSENTLoss(model)
        opt, sched = hf_optimizer(list(model.named_parameters()), lr, wd, steps, warmup)
        ref = []
        cols = ["anchor", "positive", "negative"] if kind == "mnrl" else ["sentence1", "sentence2"]
        for step in range(steps):
            batch = rows[step * bs:(step + 1) * bs]
            features = [model.tokenize([r[c] for r in batch]) for c in cols]
            labels = torch.tensor([r.get("score", 0.0) for r in batch])
            ref.append(hf_step(model, opt, sched, loss_fn(features, labels), step))
        worst = compare_logs(ours, ref, kind)
        # sentence-transformers loads xling's directory and embeds as the Python-trained model.
        model.eval()
        probe = [text(ctx) for _ in range(5)]
        theirs = model.encode(probe, convert_to_tensor=True)
        back = SentenceTransformer(out, device="cpu").encode(probe, convert_to_tensor=True)
        diff = (back - theirs).abs().max().item()
        assert diff <= 1e-4, f"{kind}: embeddings of xling's output vs the ST-trained model differ by {diff}"
        report.append(f"{kind}: {steps} steps max rel diff {worst:.1e}, ST reload embeddings diff {diff:.1e}")
    return "; ".join(report)


@check
def finetune_cross_encoder_matches_transformers(ctx):
    """cross-encoder BCE steps == transformers + BCEWithLogits; CrossEncoder loads xling's dir."""
    import torch
    from sentence_transformers import CrossEncoder
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    base = no_dropout_copy(ctx, os.path.join(FIXTURES, "sentence_transformers", "cross_encoder_xlmr"), "ce-base")
    steps, bs, lr, wd, warmup = 8, 6, 2e-3, 0.01, 2
    rows = [{"query": text(ctx), "passage": text(ctx), "label": ctx.rng.choice([0, 1, 0.5])} for _ in range(bs * steps)]
    train = ctx.path("ce.jsonl")
    with open(train, "w") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    out, log = ctx.path("ce-out"), ctx.path("ce-log.jsonl")
    ctx.run("finetune", "--task", "cross-encoder", "--model", base, "--train", train, "--output", out, "--max-steps",
            str(steps), "--batch-size", str(bs), "--lr", str(lr), "--weight-decay", str(wd), "--warmup-steps",
            str(warmup), "--no-shuffle", "--log", log, "-q")
    ours = [json.loads(l) for l in open(log) if '"eval"' not in l]
    tok = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(base).train()
    opt, sched = hf_optimizer(list(model.named_parameters()), lr, wd, steps, warmup)
    ref = []
    for step in range(steps):
        batch = rows[step * bs:(step + 1) * bs]
        enc = tok([r["query"] for r in batch], [r["passage"] for r in batch], padding=True, return_tensors="pt")
        logits = model(**enc).logits.view(-1)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.tensor([float(r["label"]) for r in batch]))
        ref.append(hf_step(model, opt, sched, loss, step))
    worst = compare_logs(ours, ref, "cross-encoder")
    model.eval()
    pairs = [(text(ctx), text(ctx)) for _ in range(5)]
    with torch.no_grad():
        enc = tok([a for a, _ in pairs], [b for _, b in pairs], padding=True, return_tensors="pt")
        want = torch.sigmoid(model(**enc).logits.view(-1))
    got = torch.tensor(CrossEncoder(out, device="cpu").predict(pairs))
    diff = (got - want).abs().max().item()
    assert diff <= 1e-4, f"CrossEncoder on xling's output vs the transformers-trained model: {diff}"
    return f"{steps} steps max rel diff {worst:.1e}; CrossEncoder.predict on xling's dir diff {diff:.1e}"
