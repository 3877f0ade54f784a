"""Parity of xling's TranslationTokenizer (NLLB, M2M-100, mBART-50/cc25, Marian, T5) with
transformers 5.17 on freshly generated tokenizer directories.

Every run builds new tokenizer directories and goldens with make_translation_tokenizers.py
(new random multilingual texts, language pairs, truncation lengths and decode ids for the run's
seed) and runs the torch-free xling_spm_tests suite's TranslationTokenizer tests against them.
"""
import os
import subprocess
import sys

from harness import check

HERE = os.path.dirname(os.path.abspath(__file__))


@check
def translation_tokenizers_match_transformers(ctx):
    """Source ids, forced BOS and decode(skip_special_tokens=True) equal transformers' for 12 MT tokenizers."""
    out = ctx.path("translation_tokenizers")
    gen = subprocess.run([sys.executable, os.path.join(HERE, "make_translation_tokenizers.py"), "--out", out,
                          "--seed", str(ctx.seed), "--encode", "300", "--decode", "200"],
                         capture_output=True, text=True)
    assert gen.returncode == 0, gen.stderr[-3000:]
    tests = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(ctx.xling))), "tests", "xling_spm_tests")
    assert os.path.exists(tests), f"{tests} not built"
    env = dict(os.environ, XLING_TRANSLATION_TOKENIZERS_DIR=out)
    p = subprocess.run([tests, "--gtest_filter=TranslationTokenizer.*"], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stdout[-6000:] + p.stderr[-2000:]
    n = len([d for d in os.listdir(out) if os.path.isdir(os.path.join(out, d))])
    return f"{n} tokenizer directories, 300+ encode / 200 decode cases each (seed {ctx.seed})"
