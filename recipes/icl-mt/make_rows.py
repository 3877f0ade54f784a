#!/usr/bin/env python3
"""In-context MT recipe, step 3: causal-LM training rows {"prompt","completion"} in the prompt
format of `xling select-examples` / `xling translate --model LLM --examples`:

    English: <example source>\nGerman: <example target>\n\n   (K times, most similar last)
    English: <input>\nGerman:                                    -> completion " <target>"

Each row's examples come from `xling select-examples --k K+1` run on the pool itself, with the
row's own pair (and any pair with the same English string) left out; K is drawn per row from
--shots, so one model learns to translate with and without examples. The script checks that
it rebuilds `select-examples`' own prompt text for rows where nothing was left out."""
import argparse
import json
import random


def block(examples, text, src, tgt):
    p = "".join(f"{src}: {e['source']}\n{tgt}: {e['target']}\n\n" for e in reversed(examples))
    return p + f"{src}: {text}\n{tgt}:"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--selected", required=True, help="select-examples output for the pairs")
    ap.add_argument("--pairs", required=True, help="the pairs (pool.jsonl or dev.jsonl)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--shots", default="0,0,1,2,3,4,4", help="K drawn uniformly from this list per row")
    ap.add_argument("--src-label", default="English")
    ap.add_argument("--tgt-label", default="German")
    ap.add_argument("--max-chars", type=int, default=900,
                    help="least similar examples are dropped until prompt + completion fit in this many characters")
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    shots = [int(s) for s in a.shots.split(",")]
    pairs = [json.loads(l) for l in open(a.pairs, encoding="utf-8")]
    checked = n = 0
    with open(a.out, "w", encoding="utf-8") as out:
        for i, line in enumerate(open(a.selected, encoding="utf-8")):
            sel = json.loads(line)
            pair = pairs[i]
            assert sel["input"] == pair["source"], (i, sel["input"], pair["source"])
            ex = sel["examples"]
            if len(ex) and block(ex, sel["input"], a.src_label, a.tgt_label) == sel["prompt"]:
                checked += 1
            ex = [e for e in ex if e["source"] != pair["source"]]
            k = rng.choice(shots)
            while k > 0 and len(block(ex[:k], pair["source"], a.src_label, a.tgt_label)) + len(pair["target"]) > a.max_chars:
                k -= 1
            out.write(json.dumps({"prompt": block(ex[:k], pair["source"], a.src_label, a.tgt_label),
                                  "completion": " " + pair["target"]}, ensure_ascii=False) + "\n")
            n += 1
    if checked == 0:
        raise SystemExit("no row's prompt matched select-examples' prompt text: the formats differ")
    print(f"{n} rows -> {a.out} ({checked} prompts rebuilt identically to select-examples')")


if __name__ == "__main__":
    main()
