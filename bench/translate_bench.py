"""Translation speed: xling vs HF transformers vs CTranslate2 on the same machine, same run.

Models have real shapes and random weights (no pretrained MT weights can be downloaded here):
  marian    OPUS-MT shape: 6+6 layers, d 512, 8 heads, ffn 2048, vocab 58,101 (shared)
  nllb600m  NLLB-200-distilled-600M shape: 12+12 layers, d 1024, 16 heads, ffn 4096, vocab 256,206
Sources: real multilingual sentences (the held-out catalog texts of models/xling-mini/eval/test,
round-robin over languages) tokenized with the xling-mini tokenizer, ids shifted into the model
vocabulary, EOS appended. Every engine decodes with beam 4 and min_new_tokens == max_new_tokens,
so all do the same work; sentences sorted by length and cut into the same batches.

Each engine runs in its own process (peak RSS per engine); timings exclude model loading.

  python bench/translate_bench.py --xling build/bin/xling --shape marian --sentences 1000
  python bench/translate_bench.py --xling build/bin/xling --shape nllb600m --sentences 100
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

SHAPES = {
    "marian": dict(family="marian", d=512, layers=6, heads=8, ffn=2048, vocab=58101),
    "nllb600m": dict(family="m2m100", d=1024, layers=12, heads=16, ffn=4096, vocab=256206),
}


def sentences(n):
    files = sorted(glob.glob(os.path.join(ROOT, "models/xling-mini/eval/test/*.jsonl")))
    per_lang = []
    for f in files:
        rows = [json.loads(l)["text"] for l in open(f, encoding="utf-8")]
        per_lang.append([r for r in rows if 20 <= len(r) <= 200])
    out, i = [], 0
    while len(out) < n:
        lang = per_lang[i % len(per_lang)]
        if i // len(per_lang) < len(lang):
            out.append(lang[i // len(per_lang)])
        i += 1
    return out


def source_ids(texts, vocab, eos):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(ROOT, "models/xling-mini/tokenizer.json"))
    out = []
    for t in texts:
        ids = [10 + (i % (vocab - 20)) for i in tok.encode(t, add_special_tokens=False).ids][:254]
        out.append(ids + [eos])
    return out


def build_model(shape, out_dir, seed):
    """HF model directory with random weights (+ a tokenizer CTranslate2's converter can read)."""
    import torch
    import transformers as T
    s = SHAPES[shape]
    torch.manual_seed(seed)
    common = dict(d_model=s["d"], encoder_layers=s["layers"], decoder_layers=s["layers"],
                  encoder_attention_heads=s["heads"], decoder_attention_heads=s["heads"],
                  encoder_ffn_dim=s["ffn"], decoder_ffn_dim=s["ffn"], max_position_embeddings=512,
                  dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, scale_embedding=True)
    if s["family"] == "marian":
        pad = s["vocab"] - 1
        cfg = T.MarianConfig(vocab_size=s["vocab"], pad_token_id=pad, eos_token_id=0, decoder_start_token_id=pad,
                             activation_function="swish", share_encoder_decoder_embeddings=True, **common)
        model = T.MarianMTModel(cfg)
    else:
        cfg = T.M2M100Config(vocab_size=s["vocab"], pad_token_id=1, eos_token_id=2, bos_token_id=0,
                             decoder_start_token_id=2, activation_function="relu", **common)
        model = T.M2M100ForConditionalGeneration(cfg)
    model.eval().save_pretrained(out_dir, safe_serialization=True)
    # A vocabulary for CTranslate2's converter: one token per id.
    if s["family"] == "marian":
        vocab = {f"\u2581t{i}": i for i in range(s["vocab"])}
        vocab["</s>"], vocab["<unk>"], vocab["<pad>"] = 0, 1, s["vocab"] - 1
        for name in ("\u2581t0", "\u2581t1", f"\u2581t{s['vocab'] - 1}"):
            vocab.pop(name, None)
        json.dump(vocab, open(os.path.join(out_dir, "vocab.json"), "w"))
        spm = os.path.join(ROOT, "tests/data/translation_tokenizers/marian_shared/source.spm")
        for f in ("source.spm", "target.spm"):
            open(os.path.join(out_dir, f), "wb").write(open(spm, "rb").read())
        json.dump({"tokenizer_class": "MarianTokenizer", "separate_vocabs": False, "model_max_length": 512},
                  open(os.path.join(out_dir, "tokenizer_config.json"), "w"))
    else:
        # M2M100Tokenizer files; CTranslate2 takes vocab.json + 8 made-up words as the vocabulary
        plain = s["vocab"] - 8  # CTranslate2 reads vocab.json + 8 made-up words
        vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
        vocab.update({f"\u2581t{i}": i for i in range(4, plain)})
        vf = os.path.join(out_dir, "vocab.json")
        json.dump(vocab, open(vf, "w"))
        spm = os.path.join(ROOT, "tests/data/translation_tokenizers/m2m100/sentencepiece.bpe.model")
        T.M2M100Tokenizer(vf, spm).save_pretrained(out_dir)
    return model.config


def ct2_tokens(ids, shape):
    eos = 0 if SHAPES[shape]["family"] == "marian" else 2
    return ["</s>" if i == eos else f"\u2581t{i}" for i in ids]


def batches(srcs, batch):
    order = sorted(range(len(srcs)), key=lambda i: -len(srcs[i]))
    return [order[i:i + batch] for i in range(0, len(order), batch)]


def peak_rss_mb():
    # VmHWM restarts at exec; ru_maxrss would carry the parent's peak (the model build) over.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_hf(a, srcs):
    import torch
    import transformers as T
    torch.set_num_threads(a.threads)
    model = T.AutoModelForSeq2SeqLM.from_pretrained(a.model_dir).eval()
    pad = model.config.pad_token_id
    n_tok = 0
    t0 = time.perf_counter()
    with torch.inference_mode():
        for b in batches(srcs, a.batch):
            longest = max(len(srcs[i]) for i in b)
            ids = torch.full((len(b), longest), pad, dtype=torch.long)
            mask = torch.zeros((len(b), longest), dtype=torch.long)
            for r, i in enumerate(b):
                ids[r, :len(srcs[i])] = torch.tensor(srcs[i])
                mask[r, :len(srcs[i])] = 1
            out = model.generate(input_ids=ids, attention_mask=mask, num_beams=a.beams, do_sample=False,
                                 min_new_tokens=a.new_tokens, max_new_tokens=a.new_tokens, early_stopping=True)
            n_tok += (out.shape[1] - 1) * len(b)
    return dict(seconds=time.perf_counter() - t0, new_tokens=n_tok, peak_rss_mb=peak_rss_mb())


def run_ct2(a, srcs, compute_type):
    import ctranslate2
    ct2_dir = a.model_dir + ".ct2"
    tr = ctranslate2.Translator(ct2_dir, device="cpu", compute_type=compute_type, inter_threads=1,
                                intra_threads=a.threads)
    tokens = [ct2_tokens(s, a.shape) for s in srcs]
    n_tok = 0
    t0 = time.perf_counter()
    for b in batches(srcs, a.batch):
        res = tr.translate_batch([tokens[i] for i in b], beam_size=a.beams, min_decoding_length=a.new_tokens,
                                 max_decoding_length=a.new_tokens, length_penalty=1.0, max_batch_size=a.batch,
                                 return_end_token=True)
        n_tok += sum(len(r.hypotheses[0]) for r in res)
    return dict(seconds=time.perf_counter() - t0, new_tokens=n_tok, peak_rss_mb=peak_rss_mb())


def run_xling(a, srcs, dtype="f32"):
    with tempfile.TemporaryDirectory() as tmp:
        inp = os.path.join(tmp, "in.jsonl")
        with open(inp, "w") as f:
            for b in batches(srcs, a.batch):  # the same batches, in the same order
                for i in b:
                    f.write(json.dumps({"input_ids": srcs[i]}) + "\n")
        cmd = ["/usr/bin/time", "-f", "MAXRSS %M", a.xling, "--threads", str(a.threads), "generate", "--model",
               a.model_dir, "--input-ids", inp, "--output-ids", os.path.join(tmp, "out.jsonl"), "--num-beams",
               str(a.beams), "--min-new-tokens", str(a.new_tokens), "--max-new-tokens", str(a.new_tokens),
               "--early-stopping", "true", "--batch-size", str(a.batch), "--dtype", dtype]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(p.stderr)
        m = re.search(r"(\d+) new tokens in ([\d.]+) s", p.stderr)
        rss = re.search(r"MAXRSS (\d+)", p.stderr)
        return dict(seconds=float(m.group(2)), new_tokens=int(m.group(1)), peak_rss_mb=int(rss.group(1)) / 1024)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--xling", default=os.path.join(ROOT, "build/bin/xling"))
    ap.add_argument("--shape", choices=sorted(SHAPES), default="marian")
    ap.add_argument("--sentences", type=int, default=1000)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--beams", type=int, default=4)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--engines", default="xling,xling-bf16,xling-int8,hf,ct2,ct2-int8")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model-dir", default="")
    ap.add_argument("--out", default="")
    ap.add_argument("--engine", default="", help=argparse.SUPPRESS)  # child mode
    a = ap.parse_args()
    s = SHAPES[a.shape]
    eos = 0 if s["family"] == "marian" else 2
    srcs = source_ids(sentences(a.sentences), s["vocab"], eos)
    if a.engine:
        r = {"hf": lambda: run_hf(a, srcs), "ct2": lambda: run_ct2(a, srcs, "float32"),
             "ct2-int8": lambda: run_ct2(a, srcs, "int8"), "xling": lambda: run_xling(a, srcs),
             "xling-bf16": lambda: run_xling(a, srcs, "bf16"), "xling-int8": lambda: run_xling(a, srcs, "int8")}[a.engine]()
        print("RESULT " + json.dumps(r))
        return
    own = not a.model_dir
    if own:
        a.model_dir = tempfile.mkdtemp(prefix=f"xling-bench-{a.shape}-")
        t = time.perf_counter()
        build_model(a.shape, a.model_dir, a.seed)
        print(f"built {a.shape} in {time.perf_counter() - t:.0f} s: {a.model_dir}", file=sys.stderr)
    if "ct2" in a.engines and not os.path.exists(os.path.join(a.model_dir + ".ct2", "model.bin")):
        import ctranslate2  # converted here, so the engines' peak RSS is decoding only
        try:
            ctranslate2.converters.TransformersConverter(a.model_dir).convert(a.model_dir + ".ct2", force=True)
        except Exception as e:  # reported as failed engines below
            print(f"CTranslate2 conversion failed: {e}", file=sys.stderr)
    src_tokens = sum(len(x) for x in srcs)
    padded = sum(len(b) * max(len(srcs[i]) for i in b) for b in batches(srcs, a.batch))
    results = {}
    for e in a.engines.split(","):
        child = [sys.executable, __file__, "--engine", e, "--shape", a.shape, "--sentences", str(a.sentences),
                 "--new-tokens", str(a.new_tokens), "--beams", str(a.beams), "--batch", str(a.batch), "--threads",
                 str(a.threads), "--model-dir", a.model_dir, "--xling", a.xling]
        p = subprocess.run(child, capture_output=True, text=True)
        line = [l for l in p.stdout.splitlines() if l.startswith("RESULT ")]
        if p.returncode != 0 or not line:
            results[e] = {"error": (p.stderr or p.stdout)[-800:]}
            print(f"{e}: failed\n{results[e]['error']}", file=sys.stderr)
            continue
        r = json.loads(line[0][7:])
        r["tokens_per_s"] = r["new_tokens"] / r["seconds"]
        results[e] = r
        print(f"{e}: {r['tokens_per_s']:.1f} tokens/s ({r['seconds']:.1f} s, {r['peak_rss_mb']:.0f} MB)", file=sys.stderr)
    meta = dict(shape=a.shape, **s, sentences=a.sentences, new_tokens=a.new_tokens, beams=a.beams, batch=a.batch,
                threads=a.threads, source_tokens=src_tokens, padded_fraction=1 - src_tokens / padded)
    hf = results.get("hf", {}).get("tokens_per_s")
    print(f"\n{a.shape}: {a.sentences} sentences ({src_tokens} source tokens, {meta['padded_fraction']:.1%} padding), "
          f"beam {a.beams}, {a.new_tokens} new tokens each, batch {a.batch}, {a.threads} threads\n")
    ct2 = results.get("ct2", {}).get("tokens_per_s")
    print("| engine | precision | new tokens | seconds | tokens/s | vs HF | vs CT2 fp32 | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for e, r in results.items():
        if "error" in r:
            print(f"| {e} | | | failed | | | | |")
            continue
        prec = "int8" if e.endswith("int8") else "bf16" if e.endswith("bf16") else "fp32"  # xling-int8: FBGEMM dynamic
        ratio = f"{r['tokens_per_s'] / hf:.2f}x" if hf else ""
        vs_ct2 = f"{r['tokens_per_s'] / ct2:.2f}x" if ct2 else ""
        print(f"| {e} | {prec} | {r['new_tokens']} | {r['seconds']:.1f} | {r['tokens_per_s']:.1f} | {ratio} | {vs_ct2} | "
              f"{r['peak_rss_mb']:.0f} |")
    if a.out:
        json.dump(dict(meta=meta, results=results), open(a.out, "w"), indent=2)
    if own:
        import shutil
        shutil.rmtree(a.model_dir, ignore_errors=True)
        shutil.rmtree(a.model_dir + ".ct2", ignore_errors=True)


if __name__ == "__main__":
    main()
