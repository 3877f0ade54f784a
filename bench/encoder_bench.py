#!/usr/bin/env python3
"""Encoder speed: `xling embed` against sentence-transformers (PyTorch eager, batch 32, sorted by
length) and CTranslate2's Encoder (fp32 and int8) on the same random-weight models and the same
multilingual sentences, in one run on this machine.

Models (random weights, created here): a MiniLM-L12-H384-shaped BERT and an XLM-R-base-shaped
encoder (12 layers, hidden 768; the vocabulary is the fixture tokenizer's, as CTranslate2 requires), each as a sentence-transformers directory with mean
pooling; tokenizers from the fixtures. Sentences: the fixtures' multilingual texts, repeated.
Reports sentences/s, tokens/s, max abs difference to sentence-transformers, xling's load time
and peak RSS against the checkpoint size.

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
        tok_dir = os.path.join(FIX, "xlm_roberta")
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
    with tempfile.TemporaryDirectory() as tmp:
        for kind, n in (("minilm-l12-h384", args.minilm_sentences), ("xlmr-base", args.xlmr_sentences)):
            hf_dir, st_dir = build(tmp, kind)
            texts = texts_from_fixtures(n)
            inp = os.path.join(tmp, kind + ".txt")
            open(inp, "w").write("\n".join(texts) + "\n")
            size_mb = os.path.getsize(os.path.join(hf_dir, "model.safetensors")) / 1e6
            one = os.path.join(tmp, "one.txt")
            open(one, "w").write(texts[0] + "\n")
            t0 = time.perf_counter()
            subprocess.run([args.xling, "embed", "-m", st_dir, "-i", one, "-o", os.path.join(tmp, "one.npy")], check=True,
                           capture_output=True)
            load_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            err_path = os.path.join(tmp, "stderr.txt")
            with open(err_path, "w") as err:
                proc = subprocess.Popen([args.xling, "embed", "-m", st_dir, "-i", inp, "-o", os.path.join(tmp, "x.npy"),
                                         "--max-length", "128"], stdout=subprocess.DEVNULL, stderr=err)
                _, status, usage = os.wait4(proc.pid, 0)  # this process' own peak RSS
            tx = time.perf_counter() - t0
            assert status == 0, open(err_path).read()
            rss_mb = usage.ru_maxrss / 1e3
            p = argparse.Namespace(stderr=open(err_path).read())
            x = np.load(os.path.join(tmp, "x.npy"))
            tokens = int(p.stderr.split("(")[1].split(" tokens")[0])
            st = SentenceTransformer(st_dir, device="cpu")
            t0 = time.perf_counter()
            ref = st.encode(texts, batch_size=32, convert_to_numpy=True)
            ts = time.perf_counter() - t0
            diff = float(np.abs(x - ref).max())
            rows.append((kind, "xling fp32", n / tx, tokens / tx, diff, 1.0))
            rows.append((kind, "sentence-transformers", n / ts, tokens / ts, 0.0, ts / tx))
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
                    rows.append((kind, f"ctranslate2 {quant}", n / tc, tokens / tc, float(np.abs(out - ref).max()), tc / tx))
            print(f"{kind}: checkpoint {size_mb:.0f} MB, xling load (1 sentence, whole process) {load_s:.2f} s, "
                  f"xling peak RSS {rss_mb:.0f} MB ({rss_mb / size_mb:.2f}x the checkpoint, libtorch runtime included); "
                  f"{n} sentences, {tokens} tokens", flush=True)
    print(f"\n{'model':<18} {'engine':<24} {'sent/s':>9} {'tokens/s':>10} {'max|diff| vs ST':>16} {'xling speedup':>14}")
    for kind, eng, sps, tps, diff, ratio in rows:
        print(f"{kind:<18} {eng:<24} {sps:>9.1f} {tps:>10.0f} {diff:>16.2e} {ratio:>13.2f}x")
    print(f"(threads: {os.cpu_count()}; xling timing includes process start and model load; "
          "'xling speedup' = that engine's time / xling's time)")


if __name__ == "__main__":
    sys.exit(main())
