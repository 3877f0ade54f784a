#!/usr/bin/env python3
"""Tokenizer fertility per language against English ("How Good is Your Tokenizer?", Rust et al. 2021;
parity as in Petrov et al. 2023), measured with xling's own tokenizer on the test split.

    fertility.py --xling build/bin/xling --model MODEL_DIR --test DIR/test --out fertility.json [--md table.md]

For each language file (rows {"en", "text"}): tokens per character, tokens per whitespace word
(fertility), the share of words split into several tokens, and parity = tokens(text) /
tokens(English source) over the same pairs. English figures come from the English sides of all
files (each string once). Special tokens (<s>, </s>) are not counted.
"""
import argparse
import json
import os
import subprocess


def tokenize(xling, model, texts):
    data = "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in texts)
    out = subprocess.run([xling, "tokenize", "--tokenizer", model, "--no-special"], input=data.encode(),
                         capture_output=True, check=True).stdout.decode()
    return [len(json.loads(l)["input_ids"]) for l in out.splitlines()]


def words_split(xling, model, texts):
    # tokens of each whitespace word on its own (as a word-level split of the text)
    words = [w for t in texts for w in t.split()]
    counts = tokenize(xling, model, words) if words else []
    return len(words), sum(1 for c in counts if c > 1)


def stats(xling, model, texts):
    toks = tokenize(xling, model, texts)
    chars = sum(len(t) for t in texts)
    words = sum(len(t.split()) for t in texts)
    nw, split = words_split(xling, model, texts)
    return {"texts": len(texts), "tokens": sum(toks), "chars": chars, "words": words,
            "tokens_per_char": sum(toks) / max(chars, 1), "fertility": sum(toks) / max(words, 1),
            "split_word_share": split / max(nw, 1)}, toks


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--xling", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--md")
    ap.add_argument("--min-rows", type=int, default=100)
    a = ap.parse_args()
    per_lang, english_texts = {}, set()
    for name in sorted(os.listdir(a.test)):
        rows = [json.loads(l) for l in open(os.path.join(a.test, name), encoding="utf-8") if l.strip()]
        if len(rows) < a.min_rows:
            continue
        per_lang[name[:-6]] = rows
        english_texts.update(r["en"] for r in rows)
    en_stats, _ = stats(a.xling, a.model, sorted(english_texts))
    en_len = dict(zip(sorted(english_texts), tokenize(a.xling, a.model, sorted(english_texts))))
    result = {"english": en_stats, "languages": {}}
    for lang, rows in per_lang.items():
        s, toks = stats(a.xling, a.model, [r["text"] for r in rows])
        s["parity"] = sum(toks) / max(1, sum(en_len[r["en"]] for r in rows))
        s["fertility_vs_english"] = s["fertility"] / en_stats["fertility"]
        s["tokens_per_char_vs_english"] = s["tokens_per_char"] / en_stats["tokens_per_char"]
        result["languages"][lang] = s
    langs = result["languages"]
    n = len(langs)
    within = sum(1 for s in langs.values() if s["parity"] <= 2.0)
    within_f = sum(1 for s in langs.values() if s["fertility_vs_english"] <= 2.0)
    result["summary"] = {"languages": n, "parity_within_2x": within, "fertility_within_2x": within_f}
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False, indent=1)
    lines = [f"English: {en_stats['fertility']:.2f} tokens/word, {en_stats['tokens_per_char']:.3f} tokens/char "
             f"({en_stats['texts']} strings)", "",
             f"{within}/{n} languages within 2x English in parity (tokens per translated pair), "
             f"{within_f}/{n} in fertility (tokens per whitespace word; meaningless for scripts without spaces).", "",
             "| lang | pairs | tokens/char | fertility | split words | parity vs en |", "|---|---|---|---|---|---|"]
    for lang, s in sorted(langs.items(), key=lambda kv: -kv[1]["parity"]):
        lines.append(f"| {lang} | {s['texts']} | {s['tokens_per_char']:.3f} | {s['fertility']:.2f} | "
                     f"{100 * s['split_word_share']:.0f}% | {s['parity']:.2f} |")
    text = "\n".join(lines) + "\n"
    if a.md:
        with open(a.md, "w", encoding="utf-8") as f:
            f.write(text)
    print("\n".join(lines[:3]))


if __name__ == "__main__":
    main()
