#!/usr/bin/env python3
"""Control condition of the in-context MT comparison: K RANDOM pool pairs per input (same prompt
format as `xling translate --examples`), as {"prompt"} rows for `xling generate --input`.
Separates "examples in the prompt" from "similar examples in the prompt"."""
import argparse
import json
import random

from make_rows import block


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pool", required=True)
    ap.add_argument("--inputs", required=True, help="one source per line")
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--src-label", default="English")
    ap.add_argument("--tgt-label", default="German")
    ap.add_argument("--max-chars", type=int, default=900)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    pool = [json.loads(l) for l in open(a.pool, encoding="utf-8")]
    with open(a.out, "w", encoding="utf-8") as out:
        for line in open(a.inputs, encoding="utf-8"):
            text = line.rstrip("\n")
            ex = rng.sample(pool, a.k)
            while ex and len(block(ex, text, a.src_label, a.tgt_label)) > a.max_chars:
                ex.pop()
            out.write(json.dumps({"prompt": block(ex, text, a.src_label, a.tgt_label)}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
