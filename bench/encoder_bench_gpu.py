#!/usr/bin/env python3
"""Encoder speed and parity on a CUDA GPU: `xling embed --device cuda` (a CUDA build, see
tools/gpu/) against HF transformers (PyTorch eager with SDPA, the engine under
sentence-transformers) on the same GPU, in one run.

Models: random-weight MiniLM-L12-H384-shaped and XLM-R-base-shaped (vocabulary 250,002)
encoders with mean pooling, built here as in bench/encoder_bench.py; sentences: the fixtures'
multilingual texts, repeated. HF runs sorted by length in batches of 32 (sentence-transformers'
default) and 256; xling with its default token budget on CUDA. fp32 (TF32 off on both sides)
and bf16. Reports sentences/s, the max abs difference of fp32 embeddings to HF's, the min
cosine of bf16 ones to HF fp32, and the speedup.

Usage (on the GPU machine): python3 bench/encoder_bench_gpu.py --xling build-cuda/bin/xling
"""
import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import encoder_bench as eb  # noqa: E402  (texts, tokenizer padding, run_xling)


def build(tmp, kind):
    """HF directory + a sentence-transformers directory (Transformer + mean Pooling) around it,
    written by hand so that sentence-transformers need not be installed."""
    import shutil
    import torch
    import transformers
    torch.manual_seed(0)
    if kind == "minilm-l12-h384":
        tok_dir = os.path.join(eb.FIX, "bert_wordpiece_cased")
        tok = transformers.AutoTokenizer.from_pretrained(tok_dir)
        cfg = transformers.BertConfig(vocab_size=len(tok), hidden_size=384, num_hidden_layers=12, num_attention_heads=12,
                                      intermediate_size=1536, max_position_embeddings=512)
        model = transformers.BertModel(cfg)
    else:
        tok_dir = eb.padded_xlmr_tokenizer(tmp, 250002)
        tok = transformers.AutoTokenizer.from_pretrained(tok_dir)
        cfg = transformers.XLMRobertaConfig(vocab_size=len(tok), hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                                            intermediate_size=3072, max_position_embeddings=514, pad_token_id=1,
                                            type_vocab_size=1)
        model = transformers.XLMRobertaModel(cfg)
    d = os.path.join(tmp, kind)
    model.eval().save_pretrained(d)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(tok_dir, f), d)
    json.dump([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}],
              open(os.path.join(d, "modules.json"), "w"))
    json.dump({"max_seq_length": 128, "do_lower_case": False}, open(os.path.join(d, "sentence_bert_config.json"), "w"))
    os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
    json.dump({"word_embedding_dimension": cfg.hidden_size, "pooling_mode_mean_tokens": True},
              open(os.path.join(d, "1_Pooling", "config.json"), "w"))
    return d


def hf_embed(d, texts, dtype, batch):
    """HF eager on CUDA, sorted by length like sentence-transformers; returns (seconds, (N, D))."""
    import numpy as np
    import torch
    import transformers
    tok = transformers.AutoTokenizer.from_pretrained(d)
    model = transformers.AutoModel.from_pretrained(d, dtype=dtype).cuda().eval()
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        enc = tok(texts[:batch], padding=True, truncation=True, max_length=128, return_tensors="pt").to("cuda")
        model(**enc)  # warm-up (cuBLAS handles, kernels)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for s in range(0, len(texts), batch):
            idx = order[s:s + batch]
            enc = tok([texts[i] for i in idx], padding=True, truncation=True, max_length=128, return_tensors="pt").to("cuda")
            h = model(**enc).last_hidden_state.float()
            m = enc["attention_mask"].unsqueeze(-1).float()
            emb = ((h * m).sum(1) / m.sum(1).clamp_min(1e-9)).cpu().numpy()
            out[idx] = emb
        torch.cuda.synchronize()
        return time.perf_counter() - t0, out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sentences", type=int, default=20000)
    ap.add_argument("--xling", default=os.path.join(eb.HERE, "..", "build-cuda", "bin", "xling"))
    args = ap.parse_args()
    import numpy as np
    import torch
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    print(f"GPU: {torch.cuda.get_device_name(0)}; torch {torch.__version__}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        texts = eb.texts_from_fixtures(args.sentences)
        inp = os.path.join(tmp, "texts.txt")
        open(inp, "w").write("\n".join(texts) + "\n")
        for kind in ("minilm-l12-h384", "xlmr-base"):
            d = build(tmp, kind)
            ref = {}
            for dtype, name in ((torch.float32, "fp32"), (torch.bfloat16, "bf16")):
                for batch in (32, 256):
                    t, e = hf_embed(d, texts, dtype, batch)
                    ref[(name, batch)] = (t, e)
            base = ref[("fp32", 32)][1]
            for name in ("f32", "bf16"):
                wall, st, _ = eb.run_xling(args.xling, d, inp, os.path.join(tmp, "x.npy"), ("--device", "cuda", "--dtype", name))
                x = np.load(os.path.join(tmp, "x.npy"))
                cos = float(np.min(np.sum(x * base, 1) / (np.linalg.norm(x, axis=1) * np.linalg.norm(base, axis=1))))
                hf_t32 = ref[("fp32" if name == "f32" else "bf16", 32)][0]
                hf_t256 = ref[("fp32" if name == "f32" else "bf16", 256)][0]
                rows.append((kind, f"xling {name}", len(texts) / st["encode"], float(np.abs(x - base).max()), cos,
                             f"{hf_t32 / st['encode']:.2f}x / {hf_t256 / st['encode']:.2f}x", st["load"], wall))
            for (name, batch), (t, e) in ref.items():
                cos = float(np.min(np.sum(e * base, 1) / (np.linalg.norm(e, axis=1) * np.linalg.norm(base, axis=1))))
                rows.append((kind, f"HF {name} batch {batch}", len(texts) / t, float(np.abs(e - base).max()), cos, "", 0, t))
    print(f"\n{'model':<16} {'engine':<20} {'sent/s':>9} {'max|diff| vs HF fp32':>21} {'min cos':>9} "
          f"{'xling speedup vs HF b32 / b256':>32} {'load s':>7}")
    for kind, eng, sps, diff, cos, sp, load, _ in rows:
        print(f"{kind:<16} {eng:<20} {sps:>9.0f} {diff:>21.2e} {cos:>9.6f} {sp:>32} {load:>7.2f}")
    print(f"({len(texts)} sentences; encode time only on both sides: xling's own 'encode' figure (tokenization "
          "included), HF's loop after a warm-up batch (tokenization included))")


if __name__ == "__main__":
    sys.exit(main())
