"""Parity of `xling translate` and `xling generate` with transformers 5.17 generate() on freshly
built random encoder-decoder MT models (NLLB, M2M-100, mBART-50, Marian shared / multi-target, mT5).

Every run trains small sentencepiece models, builds the tokenizer directories with
make_translation_tokenizers.py's builders, and saves a random tiny model of the family's class
(vocab_size = len(tokenizer), dropout 0, weights larger than HF's init so that outputs depend on
the source, the EOS output row scaled up and then shifted until about half of the greedy outputs
end before max_new_tokens) with a hub-like generation_config.json into the same directory. HF
translates one source at a time (batch of 1: padding cannot matter) with greedy and 4-beam search;
xling must give the same text (translate), the same ids and beam scores within 1e-4 (generate).
"""
import json
import os
import random

from harness import check

MAX_NEW = 16
MAX_INPUT = 40  # --max-input-length, and truncation=True/max_length on the HF side
SCORE_TOL = 1e-4

# (name, make_translation_tokenizers builder and its extra arguments, family as that module names it)
FAMILIES = [
    ("nllb", "build_nllb", {"legacy": False}, "nllb"),
    ("m2m100", "build_m2m", {"codes": "m2m100", "hub_like": True}, "m2m100"),
    ("mbart50", "build_mbart50", {}, "mbart50"),
    ("marian_shared", "build_marian", {"variant": "shared"}, "marian"),
    ("marian_multi", "build_marian", {"variant": "multi"}, "marian"),
    ("mt5", "build_t5", {"spm_only": False}, "t5"),
]


def _mtt():
    """make_translation_tokenizers, imported on first use (sentencepiece + transformers take ~2 s)."""
    import make_translation_tokenizers
    return make_translation_tokenizers


def train_models(work, texts):
    """The sentencepiece models the builders read (as make_translation_tokenizers.main trains them)."""
    mtt = _mtt()
    rules = os.path.join(work, "rules.tsv")
    mtt.write_rules(rules)
    half = texts[::2]
    mtt.train_spm(os.path.join(work, "bpe.model"), "bpe", 1500, texts, normalization_rule_tsv=rules)
    mtt.train_spm(os.path.join(work, "uni_a.model"), "unigram", 1200, half, normalization_rule_tsv=rules)
    mtt.train_spm(os.path.join(work, "uni_b.model"), "unigram", 1000, texts[1::2], normalization_rule_name="identity")
    mtt.train_spm(os.path.join(work, "t5.model"), "unigram", 1100, texts[::3], normalization_rule_tsv=rules,
                  pad_id=0, eos_id=1, unk_id=2, bos_id=-1)


def source_texts(rng, corpus):
    """~20 one-line texts: the fixed multilingual / whitespace-only ones, random ones, one long line."""
    mtt = _mtt()
    texts = list(mtt.FIXED_TEXTS) + ["\u3000"]
    texts += [mtt.random_text(rng, corpus) for _ in range(6)]
    texts.append(" ".join(rng.sample(corpus, 8)))  # longer than MAX_INPUT tokens: truncated on both sides
    return [t.replace("\r", " ").replace("\n", " ") for t in texts]


def skipped(text):
    """Lines xling translates to "" without running the model (empty or spaces/tabs only)."""
    return text.strip(" \t") == ""


def build_model(name, tok, rng, seed):
    """A random tiny model of the family's class with a hub-like generation config."""
    import torch
    from transformers import (GenerationConfig, M2M100Config, M2M100ForConditionalGeneration, MarianConfig,
                              MarianMTModel, MBartConfig, MBartForConditionalGeneration, MT5Config,
                              MT5ForConditionalGeneration)
    vocab = len(tok)
    d = rng.choice([32, 48, 64])
    ffn = rng.choice([64, 96, 128])
    common = dict(vocab_size=vocab, d_model=d, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                  decoder_attention_heads=4, encoder_ffn_dim=ffn, decoder_ffn_dim=ffn, max_position_embeddings=128,
                  dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, encoder_layerdrop=0.0,
                  decoder_layerdrop=0.0, scale_embedding=rng.random() < 0.5,
                  # larger weights than HF's 0.02 make the outputs depend on the source (less repetition)
                  init_std=rng.uniform(0.3, 0.6))
    if name in ("nllb", "m2m100"):
        ids = dict(pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2)
        cfg = M2M100Config(activation_function=rng.choice(["relu", "gelu"]), **ids, **common)
        cls = M2M100ForConditionalGeneration
        gen = dict(ids, max_length=200, **({"early_stopping": True, "num_beams": 5} if name == "m2m100" else {}))
    elif name == "mbart50":
        ids = dict(pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2, forced_eos_token_id=2)
        cfg = MBartConfig(activation_function="gelu", **ids, **common)
        cls = MBartForConditionalGeneration
        gen = dict(ids, max_length=200, early_stopping=True, num_beams=5)
    elif name.startswith("marian"):
        pad, eos = tok.pad_token_id, tok.eos_token_id
        ids = dict(pad_token_id=pad, eos_token_id=eos, decoder_start_token_id=pad, forced_eos_token_id=eos)
        cfg = MarianConfig(decoder_vocab_size=vocab, activation_function="swish", static_position_embeddings=True,
                           share_encoder_decoder_embeddings=True, **ids, **common)
        cls = MarianMTModel
        gen = dict(ids, bos_token_id=0, max_length=512, num_beams=4, bad_words_ids=[[pad]])
    else:
        ids = dict(pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
        cfg = MT5Config(vocab_size=vocab, d_model=d, d_kv=d // 4, d_ff=ffn, num_layers=2, num_decoder_layers=2,
                        num_heads=4, relative_attention_num_buckets=rng.choice([8, 32]),
                        relative_attention_max_distance=rng.choice([20, 128]), dropout_rate=0.0,
                        feed_forward_proj="gated-gelu", tie_word_embeddings=False,
                        initializer_factor=rng.uniform(1.0, 2.0), **ids)
        cls = MT5ForConditionalGeneration
        gen = dict(ids)
    torch.manual_seed(seed)
    model = cls(cfg).eval()
    with torch.no_grad():
        if name == "mt5":  # logits of std ~4: lm_head's init (std = factor) meets states of rms ~ factor
            model.lm_head.weight.mul_(4 / (cfg.initializer_factor ** 2 * d ** 0.5))
        model.get_output_embeddings().weight[ids["eos_token_id"]] *= rng.uniform(4.0, 6.0)
        bias = getattr(model, "final_logits_bias", None)
        if bias is not None:
            bias.copy_(torch.randn(bias.shape) * 0.2)
    model.generation_config = GenerationConfig(**gen)
    return model


def calibrate_eos(model, sources):
    """Add to the EOS output row a vector u with h . u ~ 1 for the decoder states h seen in greedy decoding
    (ridge least squares), times alpha (in logits, |alpha| <= 64), so that about half of the greedy
    outputs end before MAX_NEW: a random model otherwise tends to stop at once everywhere or nowhere."""
    import torch
    eos = model.generation_config.eos_token_id
    head = model.get_output_embeddings()
    states = []
    hook = head.register_forward_hook(lambda m, i, o: states.append(i[0].reshape(-1, i[0].shape[-1]).detach()))

    def greedy():
        states.clear()
        n = 0
        for ids, kw in sources:
            with torch.no_grad():
                out = model.generate(input_ids=torch.tensor([ids]), num_beams=1, max_new_tokens=MAX_NEW, **kw)
            n += out.shape[1] < MAX_NEW + 1
        return n / len(sources)

    try:
        frac = greedy()
        if 0.25 <= frac <= 0.75:
            return frac
        h = torch.cat(states).double()
        gram = h.T @ h
        gram += torch.eye(h.shape[1], dtype=h.dtype) * (1e-3 * gram.trace() / h.shape[1])
        u = torch.linalg.solve(gram, h.T @ torch.ones(h.shape[0], dtype=h.dtype)).float()
        row = head.weight[eos].detach().clone()
        sign = -1.0 if frac > 0.75 else 1.0  # search alpha in (lo, hi]: grow hi until past the target, then bisect
        lo, hi, bracketed = 0.0, 1.0, False
        for _ in range(10):
            alpha = hi if not bracketed else (lo + hi) / 2
            with torch.no_grad():
                head.weight[eos] = row + sign * alpha * u
            frac = greedy()
            if 0.25 <= frac <= 0.75:
                break
            if (frac > 0.75) == (sign > 0):
                hi, bracketed = alpha, True
            elif bracketed:
                lo = alpha
            elif hi >= 64:
                break
            else:
                lo, hi = hi, hi * 4
        return frac
    finally:
        hook.remove()


def one_line(text):
    """What `xling translate` prints for a translation: its line breaks become spaces."""
    return text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")


def first_diff(a, b):
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def make_family(ctx, name, builder, kwargs, family, work, corpus, rng, prefix="translation"):
    """Tokenizer directory + a random model of the family's class: (dir, tokenizer, model, src, tgt)."""
    mtt = _mtt()
    out_dir = ctx.path(f"{prefix}_{name}")
    os.makedirs(out_dir, exist_ok=True)
    tok, _, langs = getattr(mtt, builder)(out_dir, work, corpus, **kwargs)
    src = rng.choice(langs) if langs and family != "marian" else ""
    tgt = rng.choice(langs) if langs else ""
    model = build_model(name, tok, rng, ctx.seed + len(name))
    return out_dir, tok, model, src, tgt


def run_family(ctx, name, builder, kwargs, family, work, corpus, rng):
    import torch
    mtt = _mtt()
    out_dir, tok, model, src, tgt = make_family(ctx, name, builder, kwargs, family, work, corpus, rng)
    texts = source_texts(rng, corpus)
    rows = []  # (segment index, text, ids, forced_bos) for the lines the model runs on
    for i, t in enumerate(texts):
        if not skipped(t):
            e = mtt.encode_case(tok, family, t, src, tgt, MAX_INPUT)
            assert max(e["ids"]) < len(tok), (name, e)
            rows.append((i, t, e["ids"], e["forced_bos"]))
    assert len(rows[-1][2]) == MAX_INPUT, (name, "the long line is not truncated", len(rows[-1][2]))
    forced = {r[3] for r in rows}
    assert len(forced) == 1, forced
    forced = forced.pop()
    kw = {"forced_bos_token_id": forced} if forced is not None else {}
    calibrate_eos(model, [(r[2], kw) for r in rows])
    model.save_pretrained(out_dir, safe_serialization=True)
    assert os.path.exists(os.path.join(out_dir, "model.safetensors")), os.listdir(out_dir)

    # HF reference, one source at a time
    hf = {}
    for beams in (1, 4):
        for i, t, ids, _ in rows:
            with torch.no_grad():
                o = model.generate(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                   num_beams=beams, max_new_tokens=MAX_NEW, return_dict_in_generate=True,
                                   output_scores=True, **kw)
            seq = [int(x) for x in o.sequences[0]]
            score = float(o.sequences_scores[0]) if beams > 1 else None
            hf[beams, i] = (seq, score, tok.decode(seq, skip_special_tokens=True))

    inp = ctx.path(f"{name}.txt")
    with open(inp, "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in texts))
    ids_in = ctx.path(f"{name}.ids.jsonl")
    with open(ids_in, "w") as f:
        f.write("".join(json.dumps({"input_ids": ids}) + "\n" for _, _, ids, _ in rows))
    lang_args = (["--src-lang", src] if src else []) + (["--tgt-lang", tgt] if tgt else [])

    bad, same, early, max_dscore = [], 0, 0, 0.0
    for beams in (1, 4):
        out = ctx.path(f"{name}.b{beams}.txt")
        ctx.run("translate", "--model", out_dir, *lang_args, "--num-beams", str(beams), "--max-new-tokens", str(MAX_NEW),
                "--max-input-length", str(MAX_INPUT), "--input", inp, "--output", out, "--quiet")
        # one line per input: xling writes a translation's own line breaks (vocabulary pieces) as spaces
        got_lines = open(out, encoding="utf-8", newline="").read().split("\n")
        assert got_lines[-1] == "", (name, beams, "output does not end with a newline")
        got_text = got_lines[:-1]
        if len(got_text) != len(texts):
            bad.append(f"{name} beams={beams}: translate wrote {len(got_text)} lines for {len(texts)} inputs")
            got_text = (got_text + [""] * len(texts))[:len(texts)]
        ids_out = ctx.path(f"{name}.b{beams}.out.jsonl")
        ctx.run("generate", "--model", out_dir, "--input-ids", ids_in, "--output-ids", ids_out, "--num-beams", str(beams),
                "--max-new-tokens", str(MAX_NEW), *(["--forced-bos-token-id", str(forced)] if forced is not None else []))
        got_ids = [json.loads(l) for l in open(ids_out)]
        assert len(got_ids) == len(rows), (name, beams, len(got_ids), len(rows))
        by_seg = dict(zip((r[0] for r in rows), got_ids))
        for i, t in enumerate(texts):
            setting = f"{name} {src}->{tgt} beams={beams} seg {i} {t[:40]!r}"
            if skipped(t):
                if got_text[i] != "":
                    bad.append(f"{setting}: translate gave {got_text[i]!r} for a blank line")
                else:
                    same += 1
                continue
            want_ids, want_score, want_text = hf[beams, i]
            want_text = one_line(want_text)
            g = by_seg[i]
            ok = True
            if g["output_ids"] != want_ids:
                k = first_diff(g["output_ids"], want_ids)
                bad.append(f"{setting}: generate ids differ at step {k}: xling {g['output_ids'][k:k + 4]} "
                           f"HF {want_ids[k:k + 4]} (HF len {len(want_ids)}, xling len {len(g['output_ids'])})")
                ok = False
            if want_score is not None:
                if g["score"] is None or abs(g["score"] - want_score) > SCORE_TOL:
                    bad.append(f"{setting}: beam score xling {g['score']} HF {want_score}")
                    ok = False
                else:
                    max_dscore = max(max_dscore, abs(g["score"] - want_score))
            if got_text[i] != want_text:
                bad.append(f"{setting}: translate text xling {got_text[i]!r} HF {want_text!r} (HF ids {want_ids})")
                ok = False
            same += ok
            early += len(want_ids) < MAX_NEW + 1
    return same, 2 * len(texts), early, max_dscore, bad, f"{src}->{tgt}" if tgt else "-"


@check
def translation_generate_matches_transformers(ctx):
    """xling translate/generate = transformers generate (greedy, 4 beams) on random NLLB, M2M-100, mBART-50,
    Marian (shared, multi-target) and mT5 models: texts, ids and beam scores."""
    import warnings
    warnings.filterwarnings("ignore")
    import torch
    import transformers
    transformers.logging.set_verbosity_error()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: threads only add overhead (and stall on a busy machine)
    try:
        return _translation_check(ctx)
    finally:
        torch.set_num_threads(threads)


def _translation_check(ctx):
    import tempfile
    corpus = _mtt().corpus()
    rng = random.Random(ctx.seed)
    total = same = early = 0
    max_dscore = 0.0
    bad, parts = [], []
    with tempfile.TemporaryDirectory(dir=ctx.tmp) as work:
        train_models(work, corpus)
        for name, builder, kwargs, family in FAMILIES:
            s, n, e, d, b, pair = run_family(ctx, name, builder, kwargs, family, work, corpus,
                                             random.Random(rng.randrange(2**31)))
            same, total, early, max_dscore = same + s, total + n, early + e, max(max_dscore, d)
            bad += b
            parts.append(f"{name} {pair} {s}/{n}")
    assert not bad, f"{len(bad)} mismatches ({'; '.join(parts)}):\n" + "\n".join(bad[:30])
    return (f"{len(FAMILIES)} families x 2 decoders: {same}/{total} segments identical ({early} ended before "
            f"max_new_tokens; max |beam score diff| {max_dscore:.1e}): " + "; ".join(parts))


@check
def seq2seq_finetune_loads_in_transformers(ctx):
    """xling finetune --task seq2seq output (M2M-100, Marian, mT5) loads in transformers with no missing or
    unexpected weights, its tokenizer loads, and HF's logits and loss equal `xling forward` on it."""
    import tempfile
    import warnings
    warnings.filterwarnings("ignore")
    import torch
    import transformers
    from safetensors.torch import load_file, save_file
    transformers.logging.set_verbosity_error()
    mtt = _mtt()
    corpus = mtt.corpus()
    rng = random.Random(ctx.seed + 1)
    parts = []
    with tempfile.TemporaryDirectory(dir=ctx.tmp) as work:
        train_models(work, corpus)
        for name, builder, kwargs, family in [f for f in FAMILIES if f[0] in ("m2m100", "marian_shared", "mt5")]:
            d, tok, model, src, tgt = make_family(ctx, name, builder, kwargs, family, work, corpus,
                                                  random.Random(rng.randrange(2**31)), prefix="finetune")
            model.save_pretrained(d, safe_serialization=True)
            train = os.path.join(work, f"{name}.train.jsonl")
            with open(train, "w") as f:
                for _ in range(48):
                    f.write(json.dumps({"source": mtt.random_text(rng, corpus), "target": mtt.random_text(rng, corpus)}) + "\n")
            out = os.path.join(work, f"{name}.ft")
            langs = (["--src-lang", src] if src else []) + (["--tgt-lang", tgt] if tgt else [])
            ctx.run("finetune", "--task", "seq2seq", "--model", d, "--train", train, "--epochs", "1", "--batch-size", "8",
                    "--lr", "1e-3", "--label-smoothing", "0.1", "--output", out, "--quiet", *langs)
            hf, info = transformers.AutoModelForSeq2SeqLM.from_pretrained(out, output_loading_info=True)
            assert not info["missing_keys"] and not info["unexpected_keys"], (name, info)
            hf_tok = type(tok).from_pretrained(out)
            texts = [mtt.random_text(rng, corpus) for _ in range(3)]
            if src:
                hf_tok.src_lang = src
            if tgt and hasattr(hf_tok, "tgt_lang"):
                hf_tok.tgt_lang = tgt
            batch = hf_tok(texts, text_target=texts[::-1], padding=True, truncation=True, max_length=32, return_tensors="pt")
            labels = batch["labels"].masked_fill(batch["labels"] == hf_tok.pad_token_id, -100)
            with torch.no_grad():
                ref = hf.eval()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=labels)
            inp, res = os.path.join(work, f"{name}.in.st"), os.path.join(work, f"{name}.out.st")
            save_file({"input_ids": batch["input_ids"].contiguous(), "attention_mask": batch["attention_mask"].contiguous(),
                       "labels": labels.contiguous()}, inp)
            ctx.run("forward", "--model", out, "--inputs", inp, "--output", res)
            got = load_file(res)
            diff = (got["logits"] - ref.logits).abs().max().item()
            dloss = abs(got["loss"].item() - ref.loss.item())
            scale = max(1.0, ref.logits.abs().max().item())  # random mT5 logits reach the hundreds
            assert diff < 1e-5 * scale + 1e-5 and dloss < 1e-4, (name, diff, scale, dloss)
            # the fine-tuned weights moved away from the start
            moved = max((p - q).abs().max().item() for (k, p), q in
                        zip(hf.state_dict().items(), model.state_dict().values()) if p.shape == q.shape)
            assert moved > 0, (name, "weights unchanged")
            parts.append(f"{name} logits {diff:.1e} loss {dloss:.1e}")
    return "fine-tuned outputs load in transformers: " + "; ".join(parts)
