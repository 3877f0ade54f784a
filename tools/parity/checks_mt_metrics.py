"""Parity of `xling score` (BLEU, chrF, chrF++, TER) with sacrebleu 2.6.0 on fresh random text.

Every run draws new multilingual hypothesis/reference pairs (mixed scripts, Unicode
punctuation and symbols, numbers, HTML entities, empty lines, runs of Python whitespace,
characters that exercise the tokenizers' corner cases) and compares corpus and per-sentence
scores, BLEU's statistics and the signatures with sacrebleu's, to 1e-9 relative.
"""
import json

from harness import check

NUM_PAIRS = 5000
REL_TOL = 1e-9

# (lo, hi) code point ranges to draw "words" from.
SCRIPTS = [
    (0x61, 0x7A), (0x41, 0x5A), (0xC0, 0x17F),      # Latin, Latin-1, Latin Extended-A
    (0x391, 0x3A9), (0x3B1, 0x3C9),                 # Greek (capital sigma: final-sigma lowercasing)
    (0x410, 0x44F),                                 # Cyrillic
    (0x5D0, 0x5EA),                                 # Hebrew
    (0x621, 0x64A), (0x660, 0x669),                 # Arabic letters, Arabic-Indic digits
    (0x905, 0x939), (0x966, 0x96F),                 # Devanagari letters and digits
    (0xE01, 0xE30), (0xE50, 0xE59),                 # Thai letters and digits
    (0x3041, 0x3096), (0x30A1, 0x30FA),             # Hiragana, Katakana
    (0x4E00, 0x4FFF), (0x9F00, 0x9FFF), (0x3400, 0x3500),  # CJK (zh ranges and their edges)
    (0xAC00, 0xAD00),                               # Hangul
    (0x20000, 0x20050),                             # CJK Extension B (outside zh's buggy range)
    (0x30, 0x39),                                   # ASCII digits
]
PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + [
    "\u2014", "\u2013", "\u201c", "\u201d", "\u2018", "\u2019", "\u00ab", "\u00bb", "\u2026", "\u00bf",
    "\u00a1", "\u060c", "\u061f", "\u3001", "\u3002", "\u300c", "\u300d", "\uff0c", "\uff01", "\uff08",
    "\u0964", "\u0e2f", "\u20ac", "\u00a3", "\u00a9", "\u00b0", "\u2192", "\u2264", "\u00b1", "\u00d7",
    "\U0001F600", "\U0001F44D", "\u2605", "\u2600", "\u2713", "\u00b2", "\u00bd", "\u2162",
    "\u2e61", "\u20c1", "\U0001FAE9",  # assigned after Unicode 15 (the `regex` module knows them)
]
SPACES = [" ", " ", " ", "  ", "\t", "   ", "\u00a0", "\u3000", "\u2009", "\u2002", "\x0b", "\x0c",
          "\x1c", "\x1f", "\x85", "\u2028", "\u202f", " \t "]
SPECIALS = ["&quot;", "&amp;", "&lt;", "&gt;", "&amp;quot;", "<skipped>", "3.14", "1,000", "2-3", "10.",
            "'s", "U.S.", "e-mail", "\u0130stanbul", "\u03a3\u039f\u03a3", "\u039f\u0394\u039f\u03a3.",
            "\u0399\u0391\u03a3\u03a3\u039f\u039d", "stra\u00dfe", "\u0130", "caf\u00e9", "e\u0301",
            "\u00aa", "(hi)", "((x", "x))", "a.b,c", "http://x.org/a?b=c", "$5", "5%", "-", "--",
            "\u200b", "\u00ad", "\ufeff", "\U0001F1E9\U0001F1EA", "\u2001", "\u2a6d"]


def random_word(rng):
    lo, hi = rng.choice(SCRIPTS)
    return "".join(chr(rng.randint(lo, hi)) for _ in range(rng.randint(1, 7)))


def random_text(rng, max_parts=14):
    parts = []
    for _ in range(rng.randint(0, max_parts)):
        r = rng.random()
        if r < 0.5:
            parts.append(random_word(rng))
        elif r < 0.62:
            parts.append(rng.choice(PUNCT))
        elif r < 0.72:
            parts.append(rng.choice(SPECIALS))
        else:
            parts.append(rng.choice(SPACES))
        if rng.random() < 0.6:
            parts.append(" ")
    return "".join(parts)


def perturb(rng, text):
    """A hypothesis close to `text`: words dropped, repeated, swapped, replaced or re-cased."""
    words = text.split(" ")
    out = []
    for w in words:
        r = rng.random()
        if r < 0.08:
            continue
        if r < 0.14:
            out.append(random_word(rng))
        elif r < 0.18:
            out.extend([w, w])
        elif r < 0.24:
            out.append(w.upper() if rng.random() < 0.5 else w.lower())
        else:
            out.append(w)
    if len(out) > 2 and rng.random() < 0.4:
        i, j = sorted(rng.sample(range(len(out)), 2))
        out[i], out[j] = out[j], out[i]
    if len(out) > 4 and rng.random() < 0.3:  # move a block (TER shifts)
        i = rng.randrange(len(out) - 2)
        block = out[i:i + rng.randint(1, 3)]
        del out[i:i + len(block)]
        k = rng.randrange(len(out) + 1)
        out[k:k] = block
    return rng.choice([" ", " ", "  ", "\u00a0"]).join(out)


def make_pairs(rng, n):
    refs, refs2, hyps = [], [], []
    for i in range(n):
        ref = random_text(rng)
        r = rng.random()
        if r < 0.04:
            ref = ""
        elif r < 0.07:
            ref = rng.choice(SPACES) * rng.randint(1, 3)
        if rng.random() < 0.75:
            hyp = perturb(rng, ref)
        else:
            hyp = random_text(rng)
        if rng.random() < 0.05:
            hyp = ""
        refs.append(ref)
        refs2.append(perturb(rng, ref) if rng.random() < 0.8 else random_text(rng))
        hyps.append(hyp)
    # Fixed corner cases up front: both empty, empty hypothesis, empty reference, identical.
    hyps[:4] = ["", "", "a b c", "x y z ."]
    refs[:4] = ["", "a b c", "", "x y z ."]
    refs2[:4] = ["", "", "", "x y z ."]
    return hyps, refs, refs2


def long_ter_pairs(rng, n):
    """Long, repetitive sentences with moved blocks: TER's 1000-candidate shift limit, its
    50-word shift distance and its beam widening for very unequal lengths (ratio > 50)."""
    hyps, refs = [], []
    for _ in range(n):
        vocab = ["the", "of", "a", "b", "c", "\u03a3", "x.", "(d)", "e", "f"][:rng.randint(2, 10)]
        ref = [rng.choice(vocab) for _ in range(rng.choice([3, 30, 60, 110]))]
        hyp = ref[:]
        for _ in range(rng.randint(1, 12)):
            if len(hyp) > 4:
                a = rng.randrange(len(hyp) - 3)
                block = hyp[a:a + rng.randint(1, 12)]
                del hyp[a:a + len(block)]
                k = rng.randrange(len(hyp) + 1)
                hyp[k:k] = block
        r = rng.random()
        if r < 0.2:
            hyp = hyp[:rng.randint(1, 2)]
        elif r < 0.35:
            hyp = [rng.choice(vocab) for _ in range(rng.randint(1, 110))]
        hyps.append(" ".join(hyp))
        refs.append(" ".join(ref))
    return hyps, refs


def write_lines(path, lines):
    for line in lines:
        assert "\n" not in line and "\r" not in line
    with open(path, "wb") as f:
        f.write("".join(line + "\n" for line in lines).encode("utf-8"))
    return path


def close(a, b):
    if a == b:
        return True
    return abs(a - b) <= REL_TOL * abs(b)


@check
def mt_metrics_match_sacrebleu(ctx):
    """xling score (BLEU all tokenizers/smoothings, lowercase, 2 refs; chrF; chrF++; TER), corpus and per sentence, equal sacrebleu 2.6.0."""
    import sacrebleu
    from sacrebleu.metrics import BLEU, CHRF, TER

    assert sacrebleu.__version__ == "2.6.0", sacrebleu.__version__
    hyps, refs, refs2 = make_pairs(ctx.rng, NUM_PAIRS)
    H = write_lines(ctx.path("mt_hyp.txt"), hyps)
    R1 = write_lines(ctx.path("mt_ref1.txt"), refs)
    R2 = write_lines(ctx.path("mt_ref2.txt"), refs2)

    def xling(metric, hyp_file, ref_files, *flags, sentence=False):
        args = ["score", "--metric", metric, "--hyp", hyp_file]
        for r in ref_files:
            args += ["--ref", r]
        args += list(flags)
        if sentence:
            args.append("--sentence")
        args.append("--json")
        out = ctx.run(*args).stdout.decode("utf-8")
        return [json.loads(line) for line in out.split("\n") if line.strip()]

    mismatches = []
    compared = 0

    def compare(label, got, want, bleu):
        nonlocal compared
        fields = [("score", want.score)]
        if bleu:
            fields += [("bp", want.bp), ("sys_len", want.sys_len), ("ref_len", want.ref_len)]
        for key, value in fields:
            compared += 1
            if key not in got or not close(float(got[key]), float(value)):
                mismatches.append((label, key, got.get(key), value))
        if bleu:
            compared += 1
            gp = got.get("precisions", [])
            if len(gp) != len(want.precisions) or not all(close(a, b) for a, b in zip(gp, want.precisions)):
                mismatches.append((label, "precisions", gp, want.precisions))

    configs = 0

    def run_config(label, metric, make, ref_streams, ref_files, flags, bleu=False, hyp_lines=None, hyp_file=None):
        nonlocal compared, configs
        configs += 1
        hyp_lines, hyp_file = (hyps, H) if hyp_lines is None else (hyp_lines, hyp_file)
        m = make()
        want = m.corpus_score(hyp_lines, ref_streams)
        got = xling(metric, hyp_file, ref_files, *flags)
        assert len(got) == 1, f"{label}: {len(got)} JSON lines for a corpus score"
        compare(f"{label} corpus", got[0], want, bleu)
        signature = str(m.get_signature())
        compared += 1
        if got[0].get("signature") != signature:
            mismatches.append((label, "signature", got[0].get("signature"), signature))
        # Sentence level (BLEU as sacrebleu's sentence_bleu / --sentence-level: effective order).
        ms = make(sentence=True)
        got_s = xling(metric, hyp_file, ref_files, *flags, sentence=True)
        assert len(got_s) == len(hyp_lines), f"{label}: {len(got_s)} sentence lines for {len(hyp_lines)} segments"
        for i, hyp in enumerate(hyp_lines):
            want_s = ms.sentence_score(hyp, [stream[i] for stream in ref_streams])
            compare(f"{label} sentence {i} hyp={hyp!r} refs={[s[i] for s in ref_streams]!r}", got_s[i], want_s, bleu)
        signature = str(ms.get_signature())
        compared += 1
        if got_s[0].get("signature") != signature:
            mismatches.append((label + " sentence", "signature", got_s[0].get("signature"), signature))

    def bleu(tokenize="13a", smooth="exp", lowercase=False):
        return lambda sentence=False: BLEU(tokenize=tokenize, smooth_method=smooth, lowercase=lowercase,
                                           effective_order=sentence)

    for tok in ("13a", "intl", "zh", "char", "none"):
        run_config(f"bleu tok={tok}", "bleu", bleu(tokenize=tok), [refs], [R1], ["--tokenize", tok], bleu=True)
    for smooth in ("floor", "add-k", "none"):
        run_config(f"bleu smooth={smooth}", "bleu", bleu(smooth=smooth), [refs], [R1], ["--smooth", smooth], bleu=True)
    run_config("bleu lowercase", "bleu", bleu(lowercase=True), [refs], [R1], ["--lowercase"], bleu=True)
    run_config("bleu 2 refs intl", "bleu", bleu(tokenize="intl"), [refs, refs2], [R1, R2], ["--tokenize", "intl"],
               bleu=True)
    run_config("chrF", "chrf", lambda sentence=False: CHRF(), [refs], [R1], [])
    run_config("chrF++", "chrf++", lambda sentence=False: CHRF(word_order=2), [refs], [R1], [])
    run_config("chrF++ 2 refs", "chrf++", lambda sentence=False: CHRF(word_order=2), [refs, refs2], [R1, R2], [])
    run_config("TER", "ter", lambda sentence=False: TER(), [refs], [R1], [])
    run_config("TER 2 refs", "ter", lambda sentence=False: TER(), [refs, refs2], [R1, R2], [])
    random_configs = configs
    long_hyps, long_refs = long_ter_pairs(ctx.rng, 16)
    LH = write_lines(ctx.path("mt_long_hyp.txt"), long_hyps)
    LR = write_lines(ctx.path("mt_long_ref.txt"), long_refs)
    run_config("TER long", "ter", lambda sentence=False: TER(), [long_refs], [LR], [], hyp_lines=long_hyps, hyp_file=LH)

    # A reference stream of the wrong length is an error, not a silent truncation.
    short = write_lines(ctx.path("mt_ref_short.txt"), refs[:-1])
    p = ctx.run("score", "--metric", "bleu", "--hyp", H, "--ref", short, "--json", expect=1)
    assert p.stderr, "no error message for mismatched stream lengths"

    assert not mismatches, f"{len(mismatches)} of {compared} values differ; first: {mismatches[0]!r}"[:3000]
    return (f"{NUM_PAIRS} random pairs x {random_configs} configurations + {len(long_hyps)} long TER pairs: "
            f"{compared} values equal (corpus + sentence)")
