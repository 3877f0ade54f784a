#!/usr/bin/env python3
"""Encoder speed: `xling embed` against sentence-transformers (PyTorch eager, batch 32, sorted by
length) and CTranslate2's Encoder (fp32 and int8) on the same random-weight models and the same
multilingual sentences, in one run on this machine.

Models (random weights, created here): a MiniLM-L12-H384-shaped BERT and an XLM-R-base-shaped
encoder (12 layers, hidden 768, vocabulary 250,002: the fixture's XLM-R tokenizer padded with
pieces that never match, because CTranslate2 wants the vocabulary to be the tokenizer's), each
as a sentence-transformers directory with mean pooling. Sentences: the fixtures' multilingual
texts, repeated. Reports sentences/s, tokens/s, max abs difference to sentence-transformers,
xling's fast mode (--dtype bf16) with its cosine to the fp32 embeddings, the GEMM throughput
xling reaches against this machine's measured fp32 GEMM peak, load time and peak RSS against
the checkpoint size.

Usage: .venv/bin/python bench/encoder_bench.py [--minilm-sentences 10000] [--xlmr-sentences 2000]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "tests", "fixtures", "hf", "tokenizers")


def texts_from_fixtures(n):
    texts = []
    for name in sorted(os.listdir(FIX)):
        g = os.path.join(FIX, name, "golden.jsonl")
        if os.path.exists(g):
            for line in open(g):
                d = json.loads(line)
                if "text" in d and "text_pair" not in d and d["text"].strip() and "\n" not in d["text"] \
                        and "\r" not in d["text"] and "\u2028" not in d["text"] and "\x85" not in d["text"]:
                    texts.append(d["text"])
    texts = list(dict.fromkeys(texts))
    return (texts * (n // len(texts) + 1))[:n]


def padded_xlmr_tokenizer(tmp, size):
    """The fixture XLM-R tokenizer with its Unigram vocabulary padded to `size` pieces that no
    text matches (score -99), so that real-sized embedding matrices can be benchmarked."""
    out = os.path.join(tmp, "xlmr-tokenizer")
    os.makedirs(out, exist_ok=True)
    src = os.path.join(FIX, "xlm_roberta")
    tj = json.load(open(os.path.join(src, "tokenizer.json")))
    vocab = tj["model"]["vocab"]
    for i in range(size - len(vocab)):
        vocab.append([f"\u2581\u2ff0xq{i}", -99.0])
    json.dump(tj, open(os.path.join(out, "tokenizer.json"), "w"), ensure_ascii=False)
    shutil.copy(os.path.join(src, "tokenizer_config.json"), out)
    return out


def gemm_peak_gflops(threads):
    """fp32 GEMM GFLOP/s of this machine through the same libtorch (best of 5)."""
    import torch
    torch.set_num_threads(threads)
    a, w = torch.randn(2048, 768), torch.randn(3072, 768)
    torch.nn.functional.linear(a, w)
    best = 0.0
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(5):
            torch.nn.functional.linear(a, w)
        best = max(best, 5 * 2 * 2048 * 768 * 3072 / (time.perf_counter() - t0) / 1e9)
    return best


def linear_flops_per_token(cfg):
    """Multiply-adds x2 of the Q/K/V/O and FFN projections of one token through all layers."""
    d, i = cfg.hidden_size, cfg.intermediate_size
    return 2 * cfg.num_hidden_layers * (4 * d * d + 2 * d * i)


def run_xling(xling, st_dir, inp, out, extra=()):
    """Runs `xling embed`; returns (wall s, stats dict from its stderr, peak RSS MB)."""
    import re
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([xling, "embed", "-m", st_dir, "-i", inp, "-o", out, "--max-length", "128", *extra],
                                stdout=subprocess.DEVNULL, stderr=err)
        _, status, _ = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        err.seek(0)
        text = err.read()
    assert status == 0, text
    m = re.search(r"\((\d+) tokens, (\d+) with padding, [\d.]+% padding\); load ([\d.]+) s, encode ([\d.]+) s, peak RSS (\d+) MB", text)
    assert m, text
    stats = dict(tokens=int(m[1]), padded=int(m[2]), load=float(m[3]), encode=float(m[4]))
    return wall, stats, float(m[5])  # VmHWM as xling reads it (ru_maxrss would include the fork of this big process)


def build(tmp, kind):
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer, models
    if kind == "minilm-l12-h384":
        tok_dir = os.path.join(FIX, "bert_wordpiece_cased")
        tok = transformers.AutoTokenizer.from_pretrained(tok_dir)
        cfg = transformers.BertConfig(vocab_size=len(tok), hidden_size=384, num_hidden_layers=12, num_attention_heads=12,
                                      intermediate_size=1536, max_position_embeddings=512)
        model = transformers.BertModel(cfg)
    else:
        tok_dir = padded_xlmr_tokenizer(tmp, 250002)
        tok = transformers.AutoTokenizer.from_pretrained(tok_dir)
        cfg = transformers.XLMRobertaConfig(vocab_size=len(tok), hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                                            intermediate_size=3072, max_position_embeddings=514, pad_token_id=1,
                                            type_vocab_size=1)
        model = transformers.XLMRobertaModel(cfg)
    # CTranslate2's converter still reads this field, which transformers 5 no longer writes.
    model.config.position_embedding_type = "absolute"
    torch.manual_seed(0)
    hf_dir = os.path.join(tmp, kind + "-hf")
    model.eval().save_pretrained(hf_dir)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(tok_dir, f), hf_dir)
    word = models.Transformer(hf_dir, max_seq_length=128)
    pool = models.Pooling(word.get_word_embedding_dimension(), "mean")
    st_dir = os.path.join(tmp, kind + "-st")
    SentenceTransformer(modules=[word, pool], device="cpu").save(st_dir)
    return hf_dir, st_dir


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minilm-sentences", type=int, default=10000)
    ap.add_argument("--xlmr-sentences", type=int, default=2000)
    ap.add_argument("--xling", default=os.path.join(HERE, "..", "build", "bin", "xling"))
    args = ap.parse_args()
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer
    torch.set_num_threads(os.cpu_count())
    try:
        import ctranslate2
    except ImportError:
        ctranslate2 = None
    rows = []
    peak = gemm_peak_gflops(os.cpu_count())
    with tempfile.TemporaryDirectory() as tmp:
        for kind, n in (("minilm-l12-h384", args.minilm_sentences), ("xlmr-base", args.xlmr_sentences)):
            hf_dir, st_dir = build(tmp, kind)
            texts = texts_from_fixtures(n)
            inp = os.path.join(tmp, kind + ".txt")
            open(inp, "w").write("\n".join(texts) + "\n")
            size_mb = os.path.getsize(os.path.join(hf_dir, "model.safetensors")) / 1e6
            tx, xs, rss_mb = run_xling(args.xling, st_dir, inp, os.path.join(tmp, "x.npy"))
            x = np.load(os.path.join(tmp, "x.npy"))
            tokens = xs["tokens"]
            tb, bs, rss_bf16 = run_xling(args.xling, st_dir, inp, os.path.join(tmp, "xb.npy"), ("--dtype", "bf16"))
            xb = np.load(os.path.join(tmp, "xb.npy"))
            cos_bf16 = float(np.min(np.sum(x * xb, 1) / (np.linalg.norm(x, axis=1) * np.linalg.norm(xb, axis=1))))
            import transformers
            cfg = transformers.AutoConfig.from_pretrained(hf_dir)
            gflops = xs["padded"] * linear_flops_per_token(cfg) / xs["encode"] / 1e9
            st = SentenceTransformer(st_dir, device="cpu")
            t0 = time.perf_counter()
            ref = st.encode(texts, batch_size=32, convert_to_numpy=True)
            ts = time.perf_counter() - t0
            diff = float(np.abs(x - ref).max())
            rows.append((kind, "xling fp32", n / tx, tokens / tx, diff, 1.0, 1.0))
            rows.append((kind, "xling --dtype bf16", n / tb, tokens / tb, float(np.abs(xb - ref).max()), tb / tx, 1.0))
            rows.append((kind, "sentence-transformers", n / ts, tokens / ts, 0.0, ts / tx, ts / tb))
            if ctranslate2 is not None:
                from transformers import AutoTokenizer
                tok = AutoTokenizer.from_pretrained(hf_dir)
                enc = [tok(t, truncation=True, max_length=128)["input_ids"] for t in texts]
                order = sorted(range(n), key=lambda i: -len(enc[i]))
                for quant in ("float32", "int8"):
                    ct_dir = os.path.join(tmp, f"{kind}-ct2-{quant}")
                    ctranslate2.converters.TransformersConverter(hf_dir).convert(ct_dir, quantization=quant, force=True)
                    e = ctranslate2.Encoder(ct_dir, device="cpu", intra_threads=os.cpu_count())
                    out = np.zeros_like(ref)
                    t0 = time.perf_counter()
                    for s in range(0, n, 32):
                        idx = order[s:s + 32]
                        batch = [tok.convert_ids_to_tokens(enc[i]) for i in idx]
                        h = np.array(e.forward_batch(batch).last_hidden_state)
                        for r, i in enumerate(idx):
                            out[i] = h[r, :len(enc[i])].mean(0)
                    tc = time.perf_counter() - t0
                    rows.append((kind, f"ctranslate2 {quant}", n / tc, tokens / tc, float(np.abs(out - ref).max()), tc / tx,
                                 tc / tb))
            print(f"{kind}: checkpoint {size_mb:.0f} MB; {n} sentences, {tokens} tokens, "
                  f"{100 * (1 - tokens / xs['padded']):.1f}% padding in xling's batches", flush=True)
            print(f"  xling fp32: load {xs['load']:.2f} s, encode {xs['encode']:.2f} s, peak RSS {rss_mb:.0f} MB "
                  f"({rss_mb / size_mb:.2f}x the checkpoint, libtorch runtime included); projections at "
                  f"{gflops:.0f} GFLOP/s = {100 * gflops / peak:.0f}% of the measured fp32 GEMM peak {peak:.0f} GFLOP/s", flush=True)
            print(f"  xling bf16: load {bs['load']:.2f} s, encode {bs['encode']:.2f} s, peak RSS {rss_bf16:.0f} MB; "
                  f"min cosine to the fp32 embeddings {cos_bf16:.6f}", flush=True)
    print(f"\n{'model':<18} {'engine':<24} {'sent/s':>9} {'tokens/s':>10} {'max|diff| vs ST':>16} {'fp32 speedup':>13} "
          f"{'bf16 speedup':>13}")
    for kind, eng, sps, tps, diff, ratio, ratio_b in rows:
        print(f"{kind:<18} {eng:<24} {sps:>9.1f} {tps:>10.0f} {diff:>16.2e} {ratio:>12.2f}x {ratio_b:>12.2f}x")
    print(f"(threads: {os.cpu_count()}; xling timings include process start and model load; "
          "'fp32 speedup' = that engine's time / xling fp32's time, 'bf16 speedup' the same for xling --dtype bf16)")


if __name__ == "__main__":
    sys.exit(main())
