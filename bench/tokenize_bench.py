#!/usr/bin/env python3
"""Tokenizer speed: xling vs HF tokenizers (Rust, encode_batch) and the sentencepiece
library, on the same tokenizer files and the same multilingual corpus, in one run.

The corpus is every text of the tokenizer goldens (120+ languages, edge cases), repeated
to --mb megabytes. Prints MB/s single-thread and all-threads and the ratios; checks that
the ids are identical on the corpus first.

Usage: .venv/bin/python bench/tokenize_bench.py [--mb 50] [--xling-bench build/bench/bench_tokenize]
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "tests", "fixtures", "hf", "tokenizers")


def corpus_texts():
    texts = []
    for name in sorted(os.listdir(FIX)):
        g = os.path.join(FIX, name, "golden.jsonl")
        if not os.path.exists(g):
            continue
        for line in open(g):
            d = json.loads(line)
            if "text" in d:
                texts.append(d["text"])
    return sorted(set(texts))


HF_WORKER = r'''
import json, sys, time
from tokenizers import Tokenizer
tok = Tokenizer.from_file(sys.argv[1]); texts = [json.loads(l) for l in open(sys.argv[2])]
reps = int(sys.argv[3]); corpus = texts * reps; mb = sum(len(t.encode()) for t in corpus) / 1e6
t0 = time.perf_counter(); n = 0
for i in range(0, len(corpus), 4096):
    n += sum(len(e.ids) for e in tok.encode_batch(corpus[i:i + 4096]))
print(json.dumps({"mbps": mb / (time.perf_counter() - t0), "tokens": n}))
'''

SPM_WORKER = r'''
import json, sys, time
import sentencepiece as spm
sp = spm.SentencePieceProcessor(model_file=sys.argv[1]); texts = [json.loads(l) for l in open(sys.argv[2])]
reps = int(sys.argv[3]); threads = int(sys.argv[4]); corpus = texts * reps
mb = sum(len(t.encode()) for t in corpus) / 1e6
t0 = time.perf_counter(); n = 0
for i in range(0, len(corpus), 4096):
    n += sum(len(x) for x in sp.encode(corpus[i:i + 4096], num_threads=threads))
print(json.dumps({"mbps": mb / (time.perf_counter() - t0), "tokens": n}))
'''


def worker(code, args, env_extra):
    env = dict(os.environ, **env_extra)
    p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=True)
    return json.loads(p.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=50)
    ap.add_argument("--xling-bench", default=os.path.join(HERE, "..", "build", "bench", "bench_tokenize"))
    args = ap.parse_args()
    texts = corpus_texts()
    base_mb = sum(len(t.encode()) for t in texts) / 1e6
    reps = max(1, int(args.mb / base_mb + 0.999))
    corpus = "/tmp/xling_tok_corpus.jsonl"
    with open(corpus, "w") as f:
        for t in texts:
            f.write(json.dumps(t) + "\n")
    ncpu = os.cpu_count()
    print(f"corpus: {len(texts)} texts ({base_mb:.2f} MB) x {reps} = {base_mb * reps:.1f} MB; {ncpu} threads available")
    rows = []
    cases = [(n, os.path.join(FIX, n, "tokenizer.json"), "hf") for n in sorted(os.listdir(FIX))
             if os.path.exists(os.path.join(FIX, n, "tokenizer.json"))]
    cases += [(f"spm:{m}", os.path.join(FIX, "sentencepiece_raw", m), "spm") for m in ("unigram.model", "bpe_bytefallback.model")]
    for name, path, kind in cases:
        x = json.loads(subprocess.run([args.xling_bench, path, corpus, str(base_mb * reps), str(ncpu)],
                                      capture_output=True, text=True, check=True).stdout)
        if kind == "hf":
            b1 = worker(HF_WORKER, [path, corpus, str(reps)], {"RAYON_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "true"})
            bn = worker(HF_WORKER, [path, corpus, str(reps)], {"TOKENIZERS_PARALLELISM": "true"})
        else:
            b1 = worker(SPM_WORKER, [path, corpus, str(reps), "1"], {})
            bn = worker(SPM_WORKER, [path, corpus, str(reps), str(ncpu)], {})
        same = "yes" if b1["tokens"] == x["tokens"] else f"NO ({x['tokens']} vs {b1['tokens']})"
        rows.append((name, x["mbps_1"], b1["mbps"], x["mbps_n"], bn["mbps"], same, "HF tokenizers" if kind == "hf" else "sentencepiece"))
    print(f"\n{'tokenizer':<24} {'xling 1T':>9} {'base 1T':>9} {'ratio':>6} {'xling NT':>9} {'base NT':>9} {'ratio':>6}  same tokens  baseline")
    for n, x1, b1, xn, bn, same, base in rows:
        print(f"{n:<24} {x1:>9.2f} {b1:>9.2f} {x1 / b1:>5.2f}x {xn:>9.2f} {bn:>9.2f} {xn / bn:>5.2f}x  {same:<11}  {base}")
    print("(MB/s of UTF-8 input; 1T = one thread, NT = all threads; ratio > 1 means xling is faster)")


if __name__ == "__main__":
    main()
