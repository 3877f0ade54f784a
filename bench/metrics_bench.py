#!/usr/bin/env python3
"""MT metric speed: `xling score` (whole CLI process: start, read, score) against sacrebleu
2.6.0 (Python API, files already in memory) on the same 100,000 multilingual sentence pairs,
in one run. Checks that the scores are identical first.

Usage: .venv/bin/python bench/metrics_bench.py [--pairs 100000] [--xling build/bin/xling]
"""
import argparse
import json
import os
import random
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=100000)
    ap.add_argument("--xling", default=os.path.join(HERE, "..", "build", "bin", "xling"))
    args = ap.parse_args()
    import sacrebleu
    g = json.load(open(os.path.join(HERE, "..", "tests", "fixtures", "hf", "metrics", "sacrebleu.json")))
    base = list(zip(g["hyps"], g["refs"]))
    rng = random.Random(7)
    pairs = [base[rng.randrange(len(base))] for _ in range(args.pairs)]
    hyps = [h for h, _ in pairs]
    refs = [r for _, r in pairs]
    hp, rp = "/tmp/xling_bench_hyp.txt", "/tmp/xling_bench_ref.txt"
    open(hp, "w").write("\n".join(hyps) + "\n")
    open(rp, "w").write("\n".join(refs) + "\n")
    print(f"{args.pairs} sentence pairs ({sum(len(h) + len(r) for h, r in pairs) / 1e6:.1f} MB) from the sacrebleu fixture, "
          f"sacrebleu {sacrebleu.__version__}")
    print(f"{'metric':<8} {'xling CLI (s)':>14} {'sacrebleu (s)':>14} {'speedup':>8}  same score")
    for metric in ("bleu", "chrf++"):
        t0 = time.perf_counter()
        out = subprocess.run([args.xling, "score", "--metric", metric, "--hyp", hp, "--ref", rp, "--json"],
                             capture_output=True, text=True, check=True).stdout
        tx = time.perf_counter() - t0
        xs = json.loads(out)["score"]
        t0 = time.perf_counter()
        if metric == "bleu":
            ref_score = sacrebleu.corpus_bleu(hyps, [refs]).score
        else:
            ref_score = sacrebleu.corpus_chrf(hyps, [refs], word_order=2).score
        ts = time.perf_counter() - t0
        same = abs(xs - ref_score) <= 1e-9 * max(1.0, abs(ref_score))
        print(f"{metric:<8} {tx:>14.2f} {ts:>14.2f} {ts / tx:>7.1f}x  {'yes' if same else f'NO {xs} vs {ref_score}'}")


if __name__ == "__main__":
    main()
