#!/usr/bin/env python3
"""Turn `xling data catalogs` output into the xling-mini training inputs.

Reads DATA/train.jsonl, DATA/dev.jsonl, DATA/test/<lang>.jsonl (rows {"lang","en","text","domain"})
and writes into OUT/:
  spm_corpus.txt       text for spm_train: every language capped at --spm-cap distinct lines
                       (English at --spm-english-cap), so large locales do not own the vocabulary
  train.jsonl          {"anchor": en, "positive": text} rows, already in batch order for
                       `xling finetune --no-shuffle --batch-size B`: languages drawn with
                       temperature sampling (p_lang ~ n_lang^alpha), rows of similar length
                       grouped (less padding), and no text twice in one batch (an English string
                       translated into two languages in one batch would be a false negative for
                       the in-batch softmax)
  dev.jsonl            --dev-size random dev pairs (all languages mixed) to watch training
  test/<lang>.jsonl    in-domain bitext test per language (the committed split, unchanged rows)
  ood/<lang>.jsonl     out-of-domain test: pairs of the --ood-domains programs; every English
                       string of those programs is removed from training (whatever program it
                       came from), so neither side was seen in training
  prepare.json         what was done (counts per language, options)

Deterministic for a given --seed. Standard library only.
"""
import argparse
import collections
import json
import os
import random


def read_rows(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="output directory of `xling data catalogs`")
    ap.add_argument("--out", required=True)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--steps", type=int, required=True, help="number of training batches to write")
    ap.add_argument("--alpha", type=float, default=0.5, help="language sampling temperature exponent")
    ap.add_argument("--bucket", type=int, default=64, help="batches per length-sorting window")
    ap.add_argument("--dev-size", type=int, default=4000)
    ap.add_argument("--spm-cap", type=int, default=6000, help="spm corpus lines per language")
    ap.add_argument("--spm-english-cap", type=int, default=100000,
                    help="spm corpus English lines (English is one side of every pair)")
    ap.add_argument("--ood-domains", default="wget,tar,grep,sed,findutils")
    ap.add_argument("--ood-cap", type=int, default=1000)
    ap.add_argument("--max-chars", type=int, default=400, help="drop pairs with a side longer than this")
    ap.add_argument("--seed", type=int, default=13, help="test/dev/spm sampling")
    ap.add_argument("--batch-seed", type=int, help="training batches (default: --seed); a second training stage "
                    "uses another one to draw fresh batches while every test set stays the same")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    rng_batches = rng if a.batch_seed is None else random.Random(a.batch_seed)
    os.makedirs(os.path.join(a.out, "test"), exist_ok=True)
    os.makedirs(os.path.join(a.out, "ood"), exist_ok=True)
    ood_domains = set(d for d in a.ood_domains.split(",") if d)

    train = [r for r in read_rows(os.path.join(a.data, "train.jsonl"))
             if len(r["en"]) <= a.max_chars and len(r["text"]) <= a.max_chars]
    ood_en = set(r["en"] for r in train if r["domain"] in ood_domains)
    ood_rows = collections.defaultdict(list)
    by_lang = collections.defaultdict(list)
    for r in train:
        if r["en"] in ood_en:
            if r["domain"] in ood_domains:
                ood_rows[r["lang"]].append(r)
        else:
            by_lang[r["lang"]].append((r["en"], r["text"]))

    # Out-of-domain test: one row per (lang, en), capped per language.
    ood_counts = {}
    for lang, rows in sorted(ood_rows.items()):
        seen, keep = set(), []
        for r in rows:
            if r["en"] not in seen:
                seen.add(r["en"])
                keep.append(r)
        rng.shuffle(keep)
        keep = sorted(keep[: a.ood_cap], key=lambda r: r["en"])
        with open(os.path.join(a.out, "ood", lang + ".jsonl"), "w", encoding="utf-8") as f:
            for r in keep:
                f.write(json.dumps({"lang": lang, "en": r["en"], "text": r["text"], "domain": r["domain"]},
                                   ensure_ascii=False) + "\n")
        ood_counts[lang] = len(keep)

    # spm corpus: capped distinct lines per language, English as one more language.
    spm_lines = []
    english = sorted(set(e for rows in by_lang.values() for e, _ in rows))
    rng.shuffle(english)
    spm_lines += english[: a.spm_english_cap]
    for lang in sorted(by_lang):
        texts = sorted(set(t for _, t in by_lang[lang]))
        rng.shuffle(texts)
        spm_lines += texts[: a.spm_cap]
    with open(os.path.join(a.out, "spm_corpus.txt"), "w", encoding="utf-8") as f:
        for t in spm_lines:
            f.write(t.replace("\n", " ") + "\n")

    # Temperature sampling of languages; each language's pairs are drawn without replacement,
    # reshuffled when used up.
    langs = sorted(by_lang)
    weights = [len(by_lang[l]) ** a.alpha for l in langs]
    total = sum(weights)
    probs = [w / total for w in weights]
    pools = {l: [] for l in langs}

    def draw(lang):
        if not pools[lang]:
            pools[lang] = list(by_lang[lang])
            rng_batches.shuffle(pools[lang])
        return pools[lang].pop()

    needed = a.steps * a.batch_size
    drawn_per_lang = collections.Counter()
    batches = []
    window = a.bucket * a.batch_size
    while sum(len(b) for b in batches) < needed:
        chosen = rng_batches.choices(langs, weights=probs, k=window)
        rows = []
        for lang in chosen:
            rows.append((lang,) + draw(lang))
        rows.sort(key=lambda r: max(len(r[1]), len(r[2])))
        pending = rows
        # Greedy no-duplicate batching over the length-sorted window.
        while pending:
            batch, used, rest = [], set(), []
            for r in pending:
                if len(batch) < a.batch_size and r[1] not in used and r[2] not in used:
                    batch.append(r)
                    used.add(r[1])
                    used.add(r[2])
                else:
                    rest.append(r)
            if len(batch) < a.batch_size:
                break  # the window's tail: dropped, the next window draws fresh rows
            batches.append(batch)
            pending = rest
    batches = batches[: a.steps]
    rng_batches.shuffle(batches)
    with open(os.path.join(a.out, "train.jsonl"), "w", encoding="utf-8") as f:
        for b in batches:
            for lang, en, text in b:
                drawn_per_lang[lang] += 1
                f.write(json.dumps({"anchor": en, "positive": text}, ensure_ascii=False) + "\n")

    dev = [r for r in read_rows(os.path.join(a.data, "dev.jsonl")) if r["en"] not in ood_en]
    rng.shuffle(dev)
    seen, dev_rows = set(), []
    for r in dev:
        if r["en"] in seen or r["text"] in seen:
            continue
        seen.add(r["en"])
        seen.add(r["text"])
        dev_rows.append(r)
        if len(dev_rows) == a.dev_size:
            break
    with open(os.path.join(a.out, "dev.jsonl"), "w", encoding="utf-8") as f:
        for r in dev_rows:
            f.write(json.dumps({"anchor": r["en"], "positive": r["text"]}, ensure_ascii=False) + "\n")

    test_counts = {}
    for name in sorted(os.listdir(os.path.join(a.data, "test"))):
        rows = list(read_rows(os.path.join(a.data, "test", name)))
        if not rows:
            continue
        with open(os.path.join(a.out, "test", name), "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        test_counts[name[:-6]] = len(rows)

    summary = {
        "options": vars(a),
        "train_rows": sum(drawn_per_lang.values()),
        "train_batches": len(batches),
        "train_pairs_available": {l: len(by_lang[l]) for l in langs},
        "train_rows_drawn": dict(sorted(drawn_per_lang.items())),
        "ood_english_strings_removed": len(ood_en),
        "ood_rows": ood_counts,
        "test_rows": test_counts,
        "spm_corpus_lines": len(spm_lines),
        "dev_rows": len(dev_rows),
    }
    with open(os.path.join(a.out, "prepare.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, ensure_ascii=False, indent=1)
    print(f"train {len(batches)} batches x {a.batch_size}; dev {len(dev_rows)}; "
          f"ood {sum(ood_counts.values())} rows in {len(ood_counts)} languages; spm corpus {len(spm_lines)} lines")


if __name__ == "__main__":
    main()
