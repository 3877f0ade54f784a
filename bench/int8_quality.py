"""int8 quality on real bitext: what `--dtype int8` costs in BLEU / chrF++ on a trained model.

No pretrained MT weights can be downloaded here, so this trains one: an English->French Marian
model (3+3 layers, d 256, ffn 1024, a shared 8k unigram sentencepiece vocabulary) on the
machine's gettext catalogs (`xling data catalogs`: ~46k en-fr training pairs), with
`xling finetune --task seq2seq --init-from-config` (6 epochs, ~21 min on 2 cores). Then it
translates the held-out test pairs (test/fr.jsonl) with beam 4 at fp32 and at int8, scores both
with sacrebleu (BLEU, chrF++), and checks xling's fp32 output against HF transformers'
MarianMTModel.generate on the same directory, one sentence at a time.

  python bench/int8_quality.py --catalogs DIR [--work DIR] [--epochs 6]

DIR is the output of `xling data catalogs -o DIR`. Steps whose outputs exist in --work are
skipped (re-running only re-scores).
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pairs(path, lang):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            j = json.loads(line)
            if j.get("lang") != lang:
                continue
            en, tgt = j["en"].strip(), j["text"].strip()
            if en and tgt and len(en) <= 150 and len(tgt) <= 200:
                out.append((en, tgt))
    return out


def write_rows(rows, path):
    with open(path, "w", encoding="utf-8") as f:
        for en, tgt in rows:
            f.write(json.dumps({"source": en, "target": tgt}, ensure_ascii=False) + "\n")


def build_model_dir(work, train, lang):
    import sentencepiece as spm
    from transformers import MarianTokenizer
    model = os.path.join(work, "init")
    os.makedirs(model, exist_ok=True)
    text = os.path.join(work, "spm_train.txt")
    with open(text, "w", encoding="utf-8") as f:
        for en, tgt in train:
            f.write(en + "\n" + tgt + "\n")
    prefix = os.path.join(work, "spm")
    spm.SentencePieceTrainer.train(input=text, model_prefix=prefix, vocab_size=8000, model_type="unigram",
                                   character_coverage=0.9995, bos_id=-1, eos_id=1, unk_id=0, pad_id=-1,
                                   num_threads=os.cpu_count(), minloglevel=2)
    for name in ("source.spm", "target.spm"):
        shutil.copy(prefix + ".model", os.path.join(model, name))
    sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
    vocab = {"</s>": 0, "<unk>": 1}  # Marian's layout: eos 0, unk 1, pad last
    for i in range(sp.get_piece_size()):
        vocab.setdefault(sp.id_to_piece(i), len(vocab))
    vocab["<pad>"] = len(vocab)
    with open(os.path.join(model, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    MarianTokenizer(source_spm=os.path.join(model, "source.spm"), target_spm=os.path.join(model, "target.spm"),
                    vocab=os.path.join(model, "vocab.json"), source_lang="en", target_lang=lang).save_pretrained(model)
    pad = vocab["<pad>"]
    cfg = {"model_type": "marian", "architectures": ["MarianMTModel"], "d_model": 256, "encoder_layers": 3,
           "decoder_layers": 3, "encoder_attention_heads": 4, "decoder_attention_heads": 4, "encoder_ffn_dim": 1024,
           "decoder_ffn_dim": 1024, "max_position_embeddings": 256, "scale_embedding": True,
           "vocab_size": len(vocab), "decoder_vocab_size": len(vocab), "pad_token_id": pad, "eos_token_id": 0,
           "decoder_start_token_id": pad, "forced_eos_token_id": 0, "activation_function": "swish", "dropout": 0.1,
           "attention_dropout": 0.0, "activation_dropout": 0.0, "init_std": 0.02,
           "share_encoder_decoder_embeddings": True, "tie_word_embeddings": True, "static_position_embeddings": True,
           "normalize_embedding": False, "num_beams": 4, "max_length": 256}
    with open(os.path.join(model, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    gen = {"num_beams": 4, "max_length": 256, "bad_words_ids": [[pad]], "decoder_start_token_id": pad,
           "eos_token_id": 0, "forced_eos_token_id": 0, "pad_token_id": pad}
    with open(os.path.join(model, "generation_config.json"), "w") as f:
        json.dump(gen, f, indent=2)
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--catalogs", required=True, help="output dir of `xling data catalogs`")
    ap.add_argument("--work", default="/tmp/xling-int8-quality")
    ap.add_argument("--lang", default="fr")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--xling", default=os.path.join(ROOT, "build/bin/xling"))
    ap.add_argument("--skip-hf", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    random.seed(0)
    train = pairs(os.path.join(a.catalogs, "train.jsonl"), a.lang)
    dev = pairs(os.path.join(a.catalogs, "dev.jsonl"), a.lang)
    test = pairs(os.path.join(a.catalogs, "test", a.lang + ".jsonl"), a.lang)
    random.shuffle(dev)
    print(f"en-{a.lang}: {len(train)} train, {len(dev)} dev (300 used), {len(test)} test pairs", file=sys.stderr)
    trained = os.path.join(a.work, "trained")
    if not os.path.exists(os.path.join(trained, "model.safetensors")):
        write_rows(train, os.path.join(a.work, "train.jsonl"))
        write_rows(dev[:300], os.path.join(a.work, "dev.jsonl"))
        init = build_model_dir(a.work, train, a.lang)
        t = time.time()
        subprocess.run([a.xling, "finetune", "--task", "seq2seq", "--init-from-config", "--model", init, "--train",
                        os.path.join(a.work, "train.jsonl"), "--eval", os.path.join(a.work, "dev.jsonl"), "--epochs",
                        str(a.epochs), "--batch-size", "64", "--lr", "1e-3", "--warmup-steps", "300",
                        "--label-smoothing", "0.1", "--eval-steps", "1000", "--eval-max-new-tokens", "64", "--output",
                        trained, "--log", os.path.join(a.work, "train_log.jsonl")], check=True)
        print(f"trained in {time.time() - t:.0f} s", file=sys.stderr)
    src = os.path.join(a.work, "test.src")
    with open(src, "w", encoding="utf-8") as f:
        f.write("".join(en + "\n" for en, _ in test))
    refs = [t for _, t in test]
    hyps, secs = {}, {}
    for dtype in ("fp32", "int8"):
        out = os.path.join(a.work, f"hyp.{dtype}")
        cmd = [a.xling, "translate", "--model", trained, "--src-lang", "en", "--tgt-lang", a.lang, "--input", src,
               "--output", out, "--num-beams", "4", "--max-new-tokens", "128", "--quiet"]
        if dtype == "int8":
            cmd += ["--dtype", "int8"]
        t = time.perf_counter()
        subprocess.run(cmd, check=True)
        secs[dtype] = time.perf_counter() - t
        with open(out, encoding="utf-8") as f:
            hyps[dtype] = f.read().split("\n")[:len(test)]
    import sacrebleu
    rows = {}
    for dtype, h in hyps.items():
        rows[dtype] = (sacrebleu.corpus_bleu(h, [refs]).score, sacrebleu.corpus_chrf(h, [refs], word_order=2).score)
    same = sum(x == y for x, y in zip(hyps["fp32"], hyps["int8"]))
    print(f"\nen->{a.lang} test, {len(test)} segments, beam 4 (sacrebleu {sacrebleu.__version__}):\n")
    print("| precision | BLEU | chrF++ | seconds (incl. load) |")
    print("|---|---|---|---|")
    for dtype in ("fp32", "int8"):
        print(f"| {dtype} | {rows[dtype][0]:.2f} | {rows[dtype][1]:.2f} | {secs[dtype]:.1f} |")
    print(f"\nint8 - fp32: BLEU {rows['int8'][0] - rows['fp32'][0]:+.2f}, chrF++ {rows['int8'][1] - rows['fp32'][1]:+.2f}; "
          f"{same}/{len(test)} translations identical")
    if not a.skip_hf:
        import torch
        from transformers import MarianMTModel, MarianTokenizer
        torch.set_num_threads(os.cpu_count())
        tok = MarianTokenizer.from_pretrained(trained)
        model = MarianMTModel.from_pretrained(trained).eval()
        hf = []
        with torch.inference_mode():
            for en, _ in test:
                g = model.generate(**tok([en], return_tensors="pt"), num_beams=4, max_new_tokens=128)
                hf.append(tok.decode(g[0], skip_special_tokens=True))
        print(f"xling fp32 == transformers generate (one sentence at a time): "
              f"{sum(x == y for x, y in zip(hf, hyps['fp32']))}/{len(test)}")


if __name__ == "__main__":
    main()
