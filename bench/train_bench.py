#!/usr/bin/env python3
"""Fine-tuning speed: `xling finetune` against HF transformers on the same model, rows and
hyperparameters, in one run on this machine: a plain PyTorch training loop over transformers'
BertForSequenceClassification, and HF's Trainer.

Model: MiniLM-L12-H384-shaped BERT (random weights, 3 labels, dropout 0 so that the three
loss curves must agree), batch 32, 20 AdamW updates (HF Trainer's weight-decay groups, linear
warmup 2, clip 1.0). Rows: token ids of the fixtures' multilingual texts under the fixture
WordPiece tokenizer, sorted by length into batches (length bucketing), the same order for
everyone. Reports samples/s, tokens/s (real tokens), the max relative loss difference to the
plain loop, and peak RSS (xling's own VmHWM; the Python process' peak for HF).

Usage: .venv/bin/python bench/train_bench.py [--steps 20] [--batch 32]
"""
import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import encoder_bench as eb  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--xling", default=os.path.join(eb.HERE, "..", "build", "bin", "xling"))
    args = ap.parse_args()
    import torch
    import transformers
    torch.set_num_threads(os.cpu_count())
    lr, wd, warmup = 5e-5, 0.01, 2
    with tempfile.TemporaryDirectory() as tmp:
        tok = transformers.AutoTokenizer.from_pretrained(os.path.join(eb.FIX, "bert_wordpiece_cased"))
        cfg = transformers.BertConfig(vocab_size=len(tok), hidden_size=384, num_hidden_layers=12, num_attention_heads=12,
                                      intermediate_size=1536, max_position_embeddings=512, num_labels=3,
                                      hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
        torch.manual_seed(0)
        init = os.path.join(tmp, "init")
        transformers.BertForSequenceClassification(cfg).save_pretrained(init)
        n = args.steps * args.batch
        texts = eb.texts_from_fixtures(n)
        ids = [tok(t, truncation=True, max_length=128)["input_ids"] for t in texts]
        ids.sort(key=len, reverse=True)  # length buckets: each batch holds similar lengths
        rows = [{"input_ids": x, "label": i % 3} for i, x in enumerate(ids)]
        tokens = sum(len(x) for x in ids)
        train = os.path.join(tmp, "train.jsonl")
        with open(train, "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
        # xling
        p = subprocess.run([args.xling, "finetune", "-m", init, "--train", train, "-o", os.path.join(tmp, "out"),
                            "--max-steps", str(args.steps), "--batch-size", str(args.batch), "--lr", str(lr),
                            "--weight-decay", str(wd), "--warmup-steps", str(warmup), "--no-shuffle",
                            "--log", os.path.join(tmp, "log.jsonl"), "-q"], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        m = re.search(r"trained \d+ updates in ([\d.]+) s: .*peak RSS (\d+) MB", p.stderr)
        x_time, x_rss = float(m[1]), float(m[2])
        x_loss = [json.loads(l)["loss"] for l in open(os.path.join(tmp, "log.jsonl")) if '"eval"' not in l]

        def collate(b):
            """Right-padded tensors of a list of rows (pad id 0, BERT's), as both HF paths get them."""
            t = max(len(r["input_ids"]) for r in b)
            x = torch.zeros((len(b), t), dtype=torch.long)
            mask = torch.zeros((len(b), t), dtype=torch.long)
            for i, r in enumerate(b):
                x[i, :len(r["input_ids"])] = torch.tensor(r["input_ids"])
                mask[i, :len(r["input_ids"])] = 1
            return {"input_ids": x, "attention_mask": mask, "labels": torch.tensor([r["label"] for r in b])}

        def batches():
            for s in range(0, n, args.batch):
                yield collate(rows[s:s + args.batch])

        # plain PyTorch loop over transformers' model
        model = transformers.BertForSequenceClassification.from_pretrained(init).train()
        decay = [nm for nm, _ in model.named_parameters() if not nm.endswith("bias") and "LayerNorm" not in nm]
        opt = torch.optim.AdamW([{"params": [q for nm, q in model.named_parameters() if nm in decay], "weight_decay": wd},
                                 {"params": [q for nm, q in model.named_parameters() if nm not in decay],
                                  "weight_decay": 0.0}], lr=lr)
        sched = transformers.get_linear_schedule_with_warmup(opt, warmup, args.steps)
        loop_loss = []
        t0 = time.perf_counter()
        for b in batches():
            loss = model(**b).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            loop_loss.append(loss.item())
        loop_time = time.perf_counter() - t0
        # HF Trainer on the same batches (no shuffling: a sequential sampler over the rows)
        from torch.utils.data import Dataset

        class Rows(Dataset):
            def __len__(self):
                return n

            def __getitem__(self, i):
                return rows[i]

        class Seq(transformers.Trainer):
            def _get_train_sampler(self, *a, **k):
                return torch.utils.data.SequentialSampler(self.train_dataset)

        model = transformers.BertForSequenceClassification.from_pretrained(init)
        targs = transformers.TrainingArguments(output_dir=os.path.join(tmp, "hf"), per_device_train_batch_size=args.batch,
                                               max_steps=args.steps, learning_rate=lr, weight_decay=wd,
                                               warmup_steps=warmup, max_grad_norm=1.0, logging_steps=1, save_strategy="no",
                                               report_to=[], use_cpu=True, dataloader_num_workers=0,
                                               disable_tqdm=True, seed=0)
        trainer = Seq(model=model, args=targs, train_dataset=Rows(), data_collator=collate)
        t0 = time.perf_counter()
        trainer.train()
        trainer_time = time.perf_counter() - t0
        trainer_loss = [h["loss"] for h in trainer.state.log_history if "loss" in h]
        hf_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3

        def rel(a, b):
            return max(abs(x - y) / abs(y) for x, y in zip(a, b))

        print(f"MiniLM-L12-H384-shaped BERT, {args.steps} updates x batch {args.batch}, {n} rows, {tokens} tokens, "
              f"{os.cpu_count()} threads")
        print(f"{'engine':<28} {'time s':>8} {'samples/s':>10} {'tokens/s':>9} {'max rel loss diff':>18} {'peak RSS MB':>12} "
              f"{'xling speedup':>14}")
        for name, t, losses, rss in (("xling finetune", x_time, x_loss, x_rss),
                                     ("transformers + torch loop", loop_time, loop_loss, None),
                                     ("transformers Trainer", trainer_time, trainer_loss, None)):
            d = rel(losses, loop_loss) if len(losses) == len(loop_loss) else float("nan")
            print(f"{name:<28} {t:>8.2f} {n / t:>10.1f} {tokens / t:>9.0f} {d:>18.1e} "
                  f"{(f'{rss:.0f}' if rss else f'{hf_rss:.0f} (py)'):>12} {t / x_time:>13.2f}x")
        print("(xling's time is its update loop as it reports it; HF's the loop / trainer.train(); the Python peak RSS "
              "covers both HF runs and the data preparation)")


if __name__ == "__main__":
    sys.exit(main())
