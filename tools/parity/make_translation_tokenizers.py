#!/usr/bin/env python3
"""Builds small translation-tokenizer directories with transformers 5.17 and their golden ids.

For each family xling's TranslationTokenizer supports (NLLB, M2M-100, mBART-50, mBART-cc25,
Marian shared / separate vocabularies / multi-target, mT5) this trains or reuses a small
sentencepiece model, builds the tokenizer with the transformers class, saves it with
save_pretrained, RELOADS it with from_pretrained (the golden values are what a user loading
the directory gets) and writes <out>/<name>/golden.json:
  {"family", "languages": [...], "lang_ids": {code: id},
   "encode": [{"text", "src", "tgt", "max_length", "ids", "forced_bos", "target_ids", "target_ids_cut"}],
   "decode": [{"ids", "text"}]}
`encode.ids` are the encoder input ids as the translation pipeline builds them
(_build_translation_inputs; Marian multi-target: ">>tgt<< " + text), truncated to max_length
(0 = none) as tokenizer(..., truncation=True, max_length=...) does; `encode.target_ids` are the
label ids of the same text, tokenizer(text_target=text)["input_ids"] with tgt_lang = tgt (the
tokenizer's target mode), and `target_ids_cut` the same with truncation=True,
max_length=max_length (null when max_length is 0); `decode.text` is
tokenizer.decode(ids, skip_special_tokens=True).

The checked-in copy lives in tests/data/translation_tokenizers/ (seed 0). The parity harness
(checks_translation_tokenizers.py) runs this with a fresh seed into a temporary directory.

Usage: .venv/bin/python tools/parity/make_translation_tokenizers.py --out DIR [--seed N]
"""
import argparse
import io
import json
import os
import random
import shutil
import tempfile
import warnings

warnings.filterwarnings("ignore")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import sentencepiece as spm  # noqa: E402
from transformers import (M2M100Tokenizer, MarianTokenizer, MBart50Tokenizer, MBartTokenizer,  # noqa: E402
                          NllbTokenizer, T5Tokenizer)
from transformers.models.m2m_100.tokenization_m2m_100 import FAIRSEQ_LANGUAGE_CODES as M2M_CODES  # noqa: E402
from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES as NLLB_CODES  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "hf", "tokenizers")

# Words of many scripts for random texts (the corpus below supplies real sentences).
SCRIPTS = [(0x61, 0x7A), (0xC0, 0x17F), (0x391, 0x3C9), (0x410, 0x44F), (0x5D0, 0x5EA), (0x621, 0x64A),
           (0x905, 0x939), (0xE01, 0xE30), (0x3041, 0x3096), (0x4E00, 0x4FFF), (0xAC00, 0xAD00), (0x30, 0x39)]
EXTRAS = ["\U0001F600", "\U0001F44D\U0001F3FD", "\U0001F468\u200d\U0001F469\u200d\U0001F467", "\U0001F1E9\U0001F1EA",
          "e\u0301", "\ufb01", "\u00a0", "\u3000", "\t", "\n", "  ", "\u200b", "</s>", "<unk>", "<s>", "<pad>",
          "<mask>", "<extra_id_0>", ">>fra<<", "__fr__", "fra_Latn", "...", "\u00bf", "\u2014", "'", "\u0130stanbul", "1,000.5", "\U00020001"]
FIXED_TEXTS = ["", " ", "   ", "\t\n", "Grüße aus Köln, ça va? Ñandú", "Привет, мир! Съешь же ещё этих булок.",
               "你好，世界。東京は晴れ。", "مرحبا بالعالم", "नमस्ते दुनिया", "emoji \U0001F600\U0001F44D and flags \U0001F1EB\U0001F1F7",
               "  leading and trailing  ", "a  b   c", "ﬁnance ＡＢＣ ①", "mixed: Hello Мир 世界 عالم दुनिया"]


def corpus():
    texts = []
    for name in ("mt5", "xlm_roberta"):
        with open(os.path.join(FIXTURES, name, "golden.jsonl"), encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                if isinstance(row.get("text"), str) and row["text"].strip():
                    texts.append(row["text"])
    return sorted(set(texts))


def random_text(rng, texts):
    r = rng.random()
    if r < 0.45:
        return rng.choice(texts)
    if r < 0.6:
        return rng.choice(texts) + rng.choice([" ", "", "\n"]) + rng.choice(texts)
    parts = []
    for _ in range(rng.randint(0, 10)):
        x = rng.random()
        if x < 0.6:
            lo, hi = rng.choice(SCRIPTS)
            parts.append("".join(chr(rng.randint(lo, hi)) for _ in range(rng.randint(1, 6))))
        else:
            parts.append(rng.choice(EXTRAS))
    return rng.choice(["", " "]).join(parts) if parts else ""


def write_rules(path):
    """A small normalization rule set (a charsmap of a few KB instead of nmt_nfkc's 240 KB)."""
    rules = {chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}  # full-width ASCII
    rules.update({chr(0x2460 + i): str(i + 1) for i in range(9)})     # circled digits
    rules.update({"\ufb01": "fi", "\ufb02": "fl", "\u00a0": " ", "\u3000": " ", "\u2009": " ", "\u200b": "",
                  "e\u0301": "\u00e9", "a\u0300": "\u00e0", "\u2126": "\u03a9", "\u00bd": "1\u20442", "\u2026": "..."})
    with open(path, "w", encoding="utf-8") as f:
        for a, b in sorted(rules.items()):
            f.write(" ".join(f"{ord(c):X}" for c in a) + "\t" + " ".join(f"{ord(c):X}" for c in b) + "\n")


def train_spm(path, model_type, vocab_size, texts, **extra):
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(texts), model_writer=buf, vocab_size=vocab_size,
                                   model_type=model_type, character_coverage=0.98, num_threads=1,
                                   shuffle_input_sentence=False, minloglevel=2, hard_vocab_limit=False, **extra)
    with open(path, "wb") as f:
        f.write(buf.getvalue())


def fairseq_vocab(spm_path, drop_every=0):
    """vocab.json as fairseq dictionaries have it: <s> <pad> </s> <unk>, then the spm pieces."""
    sp = spm.SentencePieceProcessor(model_file=spm_path)
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for i in range(sp.get_piece_size()):
        p = sp.id_to_piece(i)
        if p in vocab or (drop_every and i % drop_every == 0):
            continue
        vocab[p] = len(vocab)
    return vocab


def save_reload(tok, cls, out_dir, drop=(), **kwargs):
    tok.save_pretrained(out_dir)
    for name in drop:
        p = os.path.join(out_dir, name)
        if os.path.exists(p):
            os.remove(p)
    return cls.from_pretrained(out_dir, **kwargs)


# ---- builders: each returns (tokenizer, family, languages) -------------------------------------

def build_nllb(out_dir, work, texts, legacy):
    bpe = os.path.join(work, "bpe_id.model" if legacy else "bpe.model")
    # What transformers' NLLB conversion does with a .model (fairseq offset: <s> <pad> </s> <unk>, then
    # the pieces after spm's <unk> <s> </s>; merges from the vocab), with the language codes placed
    # after the pieces and <mask> last, as real NLLB directories have them.
    from transformers.tokenization_utils_base import generate_merges
    sp = spm.SentencePieceProcessor(model_file=bpe)
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for i in range(3, sp.get_piece_size()):
        vocab[sp.id_to_piece(i)] = len(vocab)
    merges = generate_merges(vocab)
    for code in NLLB_CODES:
        vocab[code] = len(vocab)
    vocab["<mask>"] = len(vocab)
    from sentencepiece import sentencepiece_model_pb2 as pb
    proto = pb.ModelProto()
    proto.ParseFromString(sp.serialized_model_proto())
    charsmap = proto.normalizer_spec.precompiled_charsmap or None
    tok = NllbTokenizer(vocab=vocab, merges=merges, _spm_precompiled_charsmap=charsmap, legacy_behaviour=legacy)
    return save_reload(tok, NllbTokenizer, out_dir), "nllb", list(NLLB_CODES)


def build_m2m(out_dir, work, texts, codes, hub_like):
    bpe = os.path.join(work, "bpe.model" if codes == "m2m100" else "bpe_id.model")
    vocab_file = os.path.join(work, "m2m_vocab.json")
    with open(vocab_file, "w", encoding="utf-8") as f:
        json.dump(fairseq_vocab(bpe, drop_every=97), f, ensure_ascii=False)  # a few pieces -> <unk>
    langs = list(M2M_CODES[codes])
    # Hub M2M-100 directories list the language tokens as additional special tokens; without that
    # list (as M2M100Tokenizer saves itself) transformers 5.17 treats them as ordinary tokens:
    # text "__fr__" is split by sentencepiece and decode(skip_special_tokens=True) keeps them.
    extra = {"additional_special_tokens": [f"__{c}__" for c in langs]} if hub_like else {}
    tok = M2M100Tokenizer(vocab_file=vocab_file, spm_file=bpe, language_codes=codes, **extra)
    return save_reload(tok, M2M100Tokenizer, out_dir), "m2m100", langs


def build_mbart50(out_dir, work, texts):
    src = os.path.join(work, "mbart50_src")
    os.makedirs(src, exist_ok=True)
    shutil.copy(os.path.join(work, "uni_a.model"), os.path.join(src, "sentencepiece.bpe.model"))
    tok = MBart50Tokenizer.from_pretrained(src)
    from transformers.models.mbart50.tokenization_mbart50 import FAIRSEQ_LANGUAGE_CODES as codes
    return save_reload(tok, MBart50Tokenizer, out_dir), "mbart50", list(codes)


def build_mbart(out_dir, work, texts, hub_json=False):
    src = os.path.join(work, "mbart_src")
    os.makedirs(src, exist_ok=True)
    shutil.copy(os.path.join(work, "uni_a.model"), os.path.join(src, "sentencepiece.bpe.model"))
    tok = MBartTokenizer.from_pretrained(src)
    from transformers.models.mbart.tokenization_mbart import FAIRSEQ_LANGUAGE_CODES as codes
    if not hub_json:
        return save_reload(tok, MBartTokenizer, out_dir), "mbart", list(codes)
    # A tokenizer.json as older converters wrote it (Precompiled normalizer, legacy Metaspace,
    # a post-processor): transformers 5 rebuilds the pipeline from the class and ignores them.
    tok.save_pretrained(out_dir)
    path = os.path.join(out_dir, "tokenizer.json")
    with open(path, encoding="utf-8") as f:
        j = json.load(f)
    from sentencepiece import sentencepiece_model_pb2 as pb
    import base64
    proto = pb.ModelProto()
    with open(os.path.join(work, "uni_a.model"), "rb") as f:
        proto.ParseFromString(f.read())
    j["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(proto.normalizer_spec.precompiled_charsmap).decode()},
        {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]}
    j["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True}
    j["decoder"] = {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(j, f, ensure_ascii=False)
    return MBartTokenizer.from_pretrained(out_dir), "mbart", list(codes)


def build_marian(out_dir, work, texts, variant):
    # (source, target) spm: only the shared variant carries the (large) nmt_nfkc charsmap
    a, b = {"shared": ("uni_a", "uni_b"), "separate": ("uni_b", "bpe_id"), "multi": ("uni_b", "uni_b")}[variant]
    a, b = os.path.join(work, a + ".model"), os.path.join(work, b + ".model")
    vocab = {}
    for special in ("</s>", "<unk>", "<pad>"):
        vocab[special] = len(vocab)
    targets = ["fra", "deu", "por_Latn", "zho_Hans", "ukr"] if variant == "multi" else []
    for code in targets:
        vocab[f">>{code}<<"] = len(vocab)
    for path in (a, b) if variant != "separate" else (a,):
        sp = spm.SentencePieceProcessor(model_file=path)
        for i in range(sp.get_piece_size()):
            p = sp.id_to_piece(i)
            if p not in vocab and i % 89 != 5:  # a few pieces missing -> <unk>
                vocab[p] = len(vocab)
    vf = os.path.join(work, f"marian_{variant}_vocab.json")
    with open(vf, "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    kwargs = {}
    if variant == "separate":
        # <unk> at another id than in vocab.json and a few target pieces missing: labels
        # (target mode) map those to the target vocabulary's <unk>.
        tv = {"</s>": 0, "<pad>": 1, "<unk>": 2}
        sp = spm.SentencePieceProcessor(model_file=b)
        for i in range(sp.get_piece_size()):
            if sp.id_to_piece(i) not in tv and i % 83 != 7:
                tv[sp.id_to_piece(i)] = len(tv)
        tvf = os.path.join(work, "marian_target_vocab.json")
        with open(tvf, "w", encoding="utf-8") as f:
            json.dump(tv, f, ensure_ascii=False)
        kwargs = {"separate_vocabs": True, "target_vocab_file": tvf}
    tok = MarianTokenizer(source_spm=a, target_spm=b, vocab=vf, source_lang="en", target_lang="mul", **kwargs)
    return save_reload(tok, MarianTokenizer, out_dir), "marian", targets


def build_t5(out_dir, work, texts, spm_only):
    src = os.path.join(work, "t5_src")
    os.makedirs(src, exist_ok=True)
    shutil.copy(os.path.join(work, "t5.model"), os.path.join(src, "spiece.model"))
    tok = T5Tokenizer.from_pretrained(src, extra_ids=10)
    if spm_only:  # mT5 hub directories ship spiece.model without tokenizer.json
        shutil.copy(os.path.join(src, "spiece.model"), os.path.join(out_dir, "spiece.model"))
        return save_reload(tok, T5Tokenizer, out_dir, drop=("tokenizer.json",)), "t5", []
    return save_reload(tok, T5Tokenizer, out_dir), "t5", []


# ---- goldens -----------------------------------------------------------------------------------

def encode_case(tok, family, text, src, tgt, max_length):
    trunc = {"truncation": True, "max_length": max_length} if max_length else {}
    forced = None
    if family == "marian":
        full = f">>{tgt}<< {text}" if tgt else text
        ids = tok(full, **trunc)["input_ids"]
    elif family == "t5":
        ids = tok(text, **trunc)["input_ids"]
    else:
        inputs = tok._build_translation_inputs(text, return_tensors=None, src_lang=src, tgt_lang=tgt, **trunc)
        ids, forced = inputs["input_ids"], int(inputs["forced_bos_token_id"])
    # Labels: the tokenizer's target mode (text_target switches to it and back), tgt_lang = tgt.
    if family not in ("marian", "t5"):
        tok.tgt_lang = tgt
    target = tok(text_target=text)["input_ids"]
    target_cut = tok(text_target=text, truncation=True, max_length=max_length)["input_ids"] if max_length else None
    return {"text": text, "src": src, "tgt": tgt, "max_length": max_length, "ids": [int(i) for i in ids],
            "forced_bos": forced, "target_ids": [int(i) for i in target],
            "target_ids_cut": None if target_cut is None else [int(i) for i in target_cut]}


def lang_id(tok, family, code):
    if family == "m2m100":
        return tok.get_lang_id(code)
    if family == "marian":
        return tok.convert_tokens_to_ids(f">>{code}<<")
    return tok.convert_tokens_to_ids(code)


def goldens(tok, family, langs, texts, rng, n_encode, n_decode):
    enc, dec = [], []
    cases = list(FIXED_TEXTS) + [random_text(rng, texts) for _ in range(n_encode)]
    for i, text in enumerate(cases):
        src = rng.choice(langs) if langs and family != "marian" else ""
        tgt = rng.choice(langs) if langs else ""
        max_length = rng.choice([0, 0, 0, 1, 2, 3, 5, 8, 16]) if i >= len(FIXED_TEXTS) else 0
        if max_length and max_length < (1 if family in ("marian", "t5") else 2):
            max_length = 0  # fewer than the special tokens: HF's result is longer than max_length
        enc.append(encode_case(tok, family, text, src, tgt, max_length))
    size = len(tok.decoder) if family == "marian" else len(tok)
    specials = sorted(set(tok.all_special_ids))
    lang_ids = [lang_id(tok, family, c) for c in langs]
    for i in range(n_decode):
        r = rng.random()
        if r < 0.4 and enc:  # a round trip: target-side ids of a text (labels), with the target code
            e = rng.choice(enc)
            labels = e["ids"]
            if family not in ("marian", "t5"):
                tok.tgt_lang = e["tgt"] or tok.tgt_lang
                labels = tok(text_target=e["text"])["input_ids"]
            elif family == "marian":
                labels = tok(text_target=e["text"])["input_ids"]
            ids = list(labels)
        else:
            ids = [rng.randrange(size) for _ in range(rng.randint(0, 24))]
            for _ in range(rng.randint(0, 4)):
                pool = specials + lang_ids if rng.random() < 0.7 or not lang_ids else lang_ids
                ids.insert(rng.randint(0, len(ids)), rng.choice(pool))
        dec.append({"ids": ids, "text": tok.decode(ids, skip_special_tokens=True)})
    batch = [d["ids"] for d in dec[:8]]
    assert tok.batch_decode(batch, skip_special_tokens=True) == [d["text"] for d in dec[:8]]
    return enc, dec


SPECS = [
    ("nllb", lambda o, w, t: build_nllb(o, w, t, legacy=False)),
    ("nllb_legacy", lambda o, w, t: build_nllb(o, w, t, legacy=True)),
    ("m2m100", lambda o, w, t: build_m2m(o, w, t, "m2m100", hub_like=True)),
    ("m2m100_wmt21", lambda o, w, t: build_m2m(o, w, t, "wmt21", hub_like=False)),
    ("mbart50", build_mbart50),
    ("mbart_cc25", build_mbart),
    ("mbart_cc25_old_json", lambda o, w, t: build_mbart(o, w, t, hub_json=True)),
    ("marian_shared", lambda o, w, t: build_marian(o, w, t, "shared")),
    ("marian_separate", lambda o, w, t: build_marian(o, w, t, "separate")),
    ("marian_multi", lambda o, w, t: build_marian(o, w, t, "multi")),
    ("t5", lambda o, w, t: build_t5(o, w, t, spm_only=False)),
    ("t5_spiece_only", lambda o, w, t: build_t5(o, w, t, spm_only=True)),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--encode", type=int, default=80, help="random encode cases per tokenizer")
    ap.add_argument("--decode", type=int, default=50, help="decode cases per tokenizer")
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    texts = corpus()
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        half = texts[::2]
        rules = os.path.join(work, "rules.tsv")
        write_rules(rules)
        train_spm(os.path.join(work, "bpe.model"), "bpe", 1500, texts, normalization_rule_tsv=rules)
        train_spm(os.path.join(work, "uni_a.model"), "unigram", 1200, half, normalization_rule_tsv=rules)
        train_spm(os.path.join(work, "uni_b.model"), "unigram", 1000, texts[1::2], normalization_rule_name="identity")
        train_spm(os.path.join(work, "t5.model"), "unigram", 1100, texts[::3], normalization_rule_tsv=rules,
                  pad_id=0, eos_id=1, unk_id=2, bos_id=-1)  # mT5's spiece.model layout
        train_spm(os.path.join(work, "bpe_id.model"), "bpe", 1200, half, normalization_rule_name="identity")
        for name, build in SPECS:
            if args.only and name != args.only:
                continue
            out_dir = os.path.join(args.out, name)
            shutil.rmtree(out_dir, ignore_errors=True)
            os.makedirs(out_dir)
            tok, family, langs = build(out_dir, work, texts)
            enc, dec = goldens(tok, family, langs, texts, random.Random(rng.randrange(2**31)), args.encode, args.decode)
            specials = {str(t): int(tok.convert_tokens_to_ids(str(t))) for t in tok.all_special_tokens}
            golden = {"family": family, "languages": langs, "special_tokens": specials,
                      "lang_ids": {c: int(lang_id(tok, family, c)) for c in langs}, "encode": enc, "decode": dec}
            with open(os.path.join(out_dir, "golden.json"), "w", encoding="utf-8") as f:
                json.dump(golden, f, ensure_ascii=False, indent=0)
                f.write("\n")
            print(f"{name}: {type(tok).__name__}, {len(langs)} languages, {len(enc)} encode / {len(dec)} decode cases")


if __name__ == "__main__":
    main()
