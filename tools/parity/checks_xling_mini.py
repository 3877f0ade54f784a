"""The embedded model (models/xling-mini) in the HF stack: its tokenizer.json gives the same
ids and offsets in `tokenizers` as in xling, and sentence-transformers embeds as xling does."""
import json
import os

import numpy as np

from harness import check

MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models", "xling-mini")


def sample_texts(rng, n):
    test = os.path.join(MODEL, "eval", "test")
    texts = []
    for name in sorted(os.listdir(test)):
        rows = [json.loads(l) for l in open(os.path.join(test, name), encoding="utf-8")]
        for r in rng.sample(rows, min(len(rows), n)):
            texts += [r["text"], r["en"]]
    # whitespace runs, zero-width spaces and an empty text: the normalizer's edge cases
    texts += ["ab  cd", "  lead and trail   ", "x\u200b\u200b\u200by z", "", "\u3000全角\u3000スペース"]
    return texts


@check
def xling_mini_tokenizer_matches_tokenizers(ctx):
    """xling-mini's tokenizer.json: ids and offsets of held-out texts in every language = HF tokenizers."""
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(MODEL, "tokenizer.json"))
    texts = sample_texts(ctx.rng, 30)
    data = "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in texts).encode()
    out = ctx.run("tokenize", "--tokenizer", MODEL, input=data).stdout.decode().splitlines()
    assert len(out) == len(texts)
    for t, line in zip(texts, out):
        x = json.loads(line)
        e = tok.encode(t)
        assert e.ids == x["input_ids"], (t, e.ids, x["input_ids"])
        assert [list(o) for o in e.offsets] == x["offsets"], (t, e.offsets, x["offsets"])
    return f"{len(texts)} texts of {len(os.listdir(os.path.join(MODEL, 'eval', 'test')))} languages"


@check
def xling_mini_embeddings_match_sentence_transformers(ctx):
    """sentence-transformers loads models/xling-mini as it is and embeds as `xling embed` does."""
    import torch
    from sentence_transformers import SentenceTransformer
    texts = sample_texts(ctx.rng, 2)
    st = SentenceTransformer(MODEL, device="cpu", model_kwargs={"dtype": torch.float32})
    want = st.encode(texts, convert_to_numpy=True, batch_size=64)
    src = ctx.path("mini.txt")
    with open(src, "w", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps(t, ensure_ascii=False) + "\n")
    os.rename(src, src + ".jsonl")
    ctx.run("embed", "--model", MODEL, "--input", src + ".jsonl", "--output", ctx.path("mini.npy"))
    got = np.load(ctx.path("mini.npy"))
    assert got.shape == want.shape, (got.shape, want.shape)
    err = float(np.abs(got - want).max())
    assert err < 1e-4, err
    return f"{len(texts)} texts, max |diff| {err:.1e}"
