#!/usr/bin/env python3
"""In-context MT recipe, step 1: English->TARGET pairs from `xling data catalogs` output.

Writes to --out:
  pool.jsonl         {"source","target"}: the train split (the example pool, and the training pairs)
  pool_sources.txt   the pool's English strings, one per line (inputs for leave-one-out selection)
  dev.jsonl, test.jsonl  {"source","target"}: held-out pairs (the catalogs' dev and test splits)
  dev_sources.txt, test_sources.txt, test_refs.txt
Pairs with a side longer than --max-chars or with a line break are left out (UI strings of a few
words to a sentence: the prompt format is one pair per line).
"""
import argparse
import json
import os
import random


def keep(en, text, max_chars):
    return 0 < len(en) <= max_chars and 0 < len(text) <= max_chars and "\n" not in en + text and "\r" not in en + text


def rows(path, lang, max_chars):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r["lang"] == lang and keep(r["en"], r["text"], max_chars):
                out.append({"source": r["en"], "target": r["text"]})
    return out


def write(path, items):
    with open(path, "w", encoding="utf-8") as f:
        for r in items:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="`xling data catalogs --output` directory")
    ap.add_argument("--lang", default="de")
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-chars", type=int, default=160)
    ap.add_argument("--dev", type=int, default=400, help="dev pairs kept")
    ap.add_argument("--test", type=int, default=500, help="test pairs kept")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    pool = rows(os.path.join(a.data, "train.jsonl"), a.lang, a.max_chars)
    dev = rows(os.path.join(a.data, "dev.jsonl"), a.lang, a.max_chars)
    test = [r for r in rows(os.path.join(a.data, "test", f"{a.lang}.jsonl"), a.lang, a.max_chars)]
    rng = random.Random(a.seed)
    rng.shuffle(dev)
    rng.shuffle(test)
    dev, test = dev[:a.dev], test[:a.test]
    write(os.path.join(a.out, "pool.jsonl"), pool)
    write(os.path.join(a.out, "dev.jsonl"), dev)
    write(os.path.join(a.out, "test.jsonl"), test)
    for name, items in (("pool", pool), ("dev", dev), ("test", test)):
        with open(os.path.join(a.out, f"{name}_sources.txt"), "w", encoding="utf-8") as f:
            f.writelines(r["source"] + "\n" for r in items)
    with open(os.path.join(a.out, "test_refs.txt"), "w", encoding="utf-8") as f:
        f.writelines(r["target"] + "\n" for r in test)
    print(f"en->{a.lang}: pool {len(pool)}, dev {len(dev)}, test {len(test)} pairs -> {a.out}")


if __name__ == "__main__":
    main()
