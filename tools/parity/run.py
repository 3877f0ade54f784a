#!/usr/bin/env python3
"""xling <-> Hugging Face parity harness (`make parity`).

Unlike the static fixtures, these checks generate fresh random configs, checkpoints and
tensors with the real Python stack on every run, so that xling is compared beyond the
cases the fixtures happen to cover. Each check prints PASS/FAIL; the exit code is the
number of failed checks. Later issues add their families here (one function each).

Usage: .venv/bin/python tools/parity/run.py --xling build/bin/xling [--seed N] [--only NAME]
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import traceback

import numpy as np

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import CHECKS, Ctx, check  # noqa: E402  (checks_*.py modules register more checks)


def random_tensors(rng, torch):
    dtypes = [torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.int64, torch.int32,
              torch.int16, torch.int8, torch.uint8, torch.bool]
    out = {}
    for i in range(rng.randint(1, 30)):
        dt = rng.choice(dtypes)
        shape = [rng.randint(0, 6) for _ in range(rng.randint(0, 4))]
        g = torch.Generator().manual_seed(rng.randint(0, 2**31))
        if dt.is_floating_point:
            t = (torch.randn(shape, generator=g, dtype=torch.float64) * 10 ** rng.randint(-3, 3)).to(dt)
        elif dt == torch.bool:
            t = torch.randint(0, 2, shape, generator=g).bool()
        else:
            info = torch.iinfo(dt)
            t = torch.randint(max(info.min, -2**31), min(info.max, 2**31 - 1), shape, generator=g, dtype=torch.int64).to(dt)
        name = rng.choice(["model.", "encoder.layer.", "lm_head.", "", "émbed.", "x/"]) + f"t{i}.{str(dt)[6:]}"
        out[name] = t
    return out


@check
def safetensors_python_to_xling_and_back(ctx):
    """Files written by the safetensors library load in xling; xling's rewrite loads in safetensors, identical."""
    import torch
    from safetensors.torch import load_file, save_file
    from safetensors import safe_open
    for trial in range(20):
        tensors = random_tensors(ctx.rng, torch)
        meta = {"format": "pt", "trial": str(trial), "ünïcode": "✓"}
        src, dst = ctx.path(f"py{trial}.safetensors"), ctx.path(f"xl{trial}.safetensors")
        save_file(tensors, src, metadata=meta)
        ctx.run("convert", "--model", src, "--output", dst)
        ctx.run("diff", src, dst, "--atol", "0", "--rtol", "0")
        back = load_file(dst)
        assert back.keys() == tensors.keys(), (sorted(back), sorted(tensors))
        for k, t in tensors.items():
            u = back[k]
            assert u.dtype == t.dtype and u.shape == t.shape, (k, u.dtype, t.dtype, u.shape, t.shape)
            assert torch.equal(u.view(-1).view(torch.uint8) if u.numel() else u, t.view(-1).view(torch.uint8) if t.numel() else t), k
        with safe_open(dst, "pt") as f:
            assert f.metadata() == meta, f.metadata()
        info = json.loads(ctx.run("info", "--model", dst, "--json").stdout)
        assert info["weights"]["parameters"] == sum(t.numel() for t in tensors.values())
    return "20 random files (10 dtypes, 0-d and empty tensors, unicode names and metadata)"


@check
def dtype_casts_match_torch_bit_for_bit(ctx):
    """xling convert --dtype f16/bf16 rounds exactly as torch's .to() does, special values included."""
    import torch
    from safetensors.torch import load_file, save_file
    g = torch.Generator().manual_seed(ctx.seed)
    specials = torch.tensor([0.0, -0.0, float("inf"), -float("inf"), float("nan"), 65504.0, 65519.99, 65520.0,
                             1e-8, 2.0**-24, 2.0**-25, 3 * 2.0**-25, 5.96e-8, 1 + 2.0**-11, 1 + 3 * 2.0**-11,
                             3.4e38, -1.17e-38, 1e-45])
    bits = torch.randint(-2**31, 2**31 - 1, (200000,), generator=g, dtype=torch.int64).to(torch.int32).view(torch.float32)
    x = torch.cat([specials, torch.randn(100000, generator=g) * 1000, bits])
    src = ctx.path("cast_src.safetensors")
    save_file({"x": x}, src)
    for flag, dt in (("f16", torch.float16), ("bf16", torch.bfloat16)):
        out = ctx.path(f"cast_{flag}.safetensors")
        ctx.run("convert", "--model", src, "--output", out, "--dtype", flag)
        got = load_file(out)["x"]
        want = x.to(dt)
        assert got.dtype == dt
        same = (got.view(torch.int16) == want.view(torch.int16)) | (torch.isnan(got) & torch.isnan(want))
        bad = (~same).nonzero().flatten()
        assert bad.numel() == 0, f"{flag}: {bad.numel()} of {x.numel()} differ, first at {x[bad[0]].item()!r}: " \
                                 f"{got[bad[0]].view(torch.int16).item():#06x} vs {want[bad[0]].view(torch.int16).item():#06x}"
    return f"{x.numel()} values incl. random bit patterns, NaN/inf, subnormals and ties"


def random_bert_config(rng, model_type):
    from transformers import BertConfig, XLMRobertaConfig
    heads = rng.choice([2, 3, 4])
    common = dict(vocab_size=rng.randint(200, 600), hidden_size=heads * rng.choice([8, 12]),
                  num_hidden_layers=rng.randint(1, 3), num_attention_heads=heads,
                  intermediate_size=rng.randint(8, 64), max_position_embeddings=rng.randint(20, 70),
                  hidden_act=rng.choice(["gelu", "relu", "gelu_new"]), layer_norm_eps=rng.choice([1e-12, 1e-5]),
                  num_labels=rng.randint(1, 5))
    if model_type == "bert":
        return BertConfig(type_vocab_size=rng.randint(1, 3), **common)
    return XLMRobertaConfig(type_vocab_size=1, pad_token_id=1, **common)


@check
def hf_sharded_checkpoints_and_configs(ctx):
    """HF save_pretrained (sharded) loads in xling; xling's merged file loads back into HF with equal outputs."""
    import torch
    from transformers import AutoModelForSequenceClassification
    for trial in range(4):
        model_type = ["bert", "xlm-roberta"][trial % 2]
        cfg = random_bert_config(ctx.rng, model_type)
        torch.manual_seed(ctx.seed + trial)
        model = AutoModelForSequenceClassification.from_config(cfg).eval()
        d = ctx.path(f"hf{trial}")
        model.save_pretrained(d, max_shard_size="8KB")
        shards = [f for f in os.listdir(d) if f.endswith(".safetensors")]
        assert len(shards) > 1 and os.path.exists(os.path.join(d, "model.safetensors.index.json")), shards
        info = json.loads(ctx.run("info", "--model", d, "--json").stdout)
        sizes = info["config"]["sizes"]
        for key in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                    "max_position_embeddings", "type_vocab_size"):
            assert sizes[key] == str(getattr(cfg, key)), (key, sizes[key], getattr(cfg, key))
        stored = {n: p for n, p in model.state_dict().items()}
        assert info["weights"]["tensors"] == len(json.load(open(os.path.join(d, "model.safetensors.index.json")))["weight_map"])
        merged = ctx.path(f"merged{trial}")
        os.makedirs(merged)
        ctx.run("convert", "--model", d, "--output", os.path.join(merged, "model.safetensors"))
        cfg.save_pretrained(merged)
        again = AutoModelForSequenceClassification.from_pretrained(merged).eval()
        ids = torch.randint(2, cfg.vocab_size, (3, 7))
        with torch.no_grad():
            a, b = model(input_ids=ids).logits, again(input_ids=ids).logits
        assert torch.equal(a, b), (a - b).abs().max()
        for n, p in again.state_dict().items():
            assert torch.equal(p, stored[n]), n
    return "4 random BERT/XLM-R classifiers, sharded at 8 KB"


@check
def pickle_converter_round_trip(ctx):
    """tools/convert_bin_to_safetensors.py turns pytorch_model.bin (also sharded) into safetensors xling loads."""
    import torch
    from transformers import AutoModelForMaskedLM
    here = os.path.dirname(os.path.abspath(__file__))
    converter = os.path.join(here, "..", "convert_bin_to_safetensors.py")
    for trial, shard in enumerate(["one", "two"]):
        cfg = random_bert_config(ctx.rng, ["bert", "xlm-roberta"][trial])
        torch.manual_seed(ctx.seed + 10 + trial)
        model = AutoModelForMaskedLM.from_config(cfg).eval()
        d = ctx.path(f"pickled{trial}")
        cfg.save_pretrained(d)
        # transformers 5 no longer writes pickles: write them the way older versions did
        # (tied weights share storage; shards listed in pytorch_model.bin.index.json).
        sd = model.state_dict()
        if shard == "one":
            torch.save(sd, os.path.join(d, "pytorch_model.bin"))
        else:
            names = sorted(sd)
            parts = [names[: len(names) // 2], names[len(names) // 2:]]
            wm = {}
            for i, part in enumerate(parts, 1):
                fn = f"pytorch_model-{i:05d}-of-00002.bin"
                torch.save({k: sd[k] for k in part}, os.path.join(d, fn))
                wm.update({k: fn for k in part})
            json.dump({"metadata": {}, "weight_map": wm}, open(os.path.join(d, "pytorch_model.bin.index.json"), "w"))
        p = ctx.run("info", "--model", d, expect=1)
        assert b"convert_bin_to_safetensors.py" in p.stderr, p.stderr
        subprocess.run([sys.executable, converter, d], check=True, capture_output=True)
        info = json.loads(ctx.run("info", "--model", d, "--json").stdout)
        assert info["weights"]["parameters"] > 0
        again = AutoModelForMaskedLM.from_pretrained(d).eval()
        ids = torch.randint(2, cfg.vocab_size, (2, 5))
        with torch.no_grad():
            assert torch.equal(model(input_ids=ids).logits, again(input_ids=ids).logits)
    return "single and sharded pytorch_model.bin (tied MLM decoder)"

SCRIPTS = [(0x41, 0x5A), (0x61, 0x7A), (0xC0, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF), (0x530, 0x58F), (0x590, 0x5FF),
           (0x600, 0x6FF), (0x900, 0x97F), (0x980, 0x9FF), (0xB80, 0xBFF), (0xE00, 0xE7F), (0x1000, 0x109F),
           (0x10A0, 0x10FF), (0x1200, 0x137F), (0x3040, 0x30FF), (0x4E00, 0x4FFF), (0xAC00, 0xAD00), (0x300, 0x36F),
           (0x1F300, 0x1F5FF), (0x1F600, 0x1F64F), (0x20000, 0x20100), (0x30, 0x39), (0x21, 0x2F), (0x2000, 0x206F)]
SPACES = [" ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "   \n ", "\u2009"]
SPECIAL_BITS = ["\u200d", "\ufe0f", "\U0001F1E9\U0001F1EA", "\U0001F468\u200d\U0001F469\u200d\U0001F467", "e\u0301",
                "\u0000", "\ufffd", "\x7f", "\u0085", "'s", "'ll", "ﬁ", "①", "Å", "\u0130", "ß"]


def random_text(rng, added):
    parts = []
    for _ in range(rng.randint(0, 12)):
        r = rng.random()
        if r < 0.45:
            lo, hi = rng.choice(SCRIPTS)
            parts.append("".join(chr(rng.randint(lo, hi)) for _ in range(rng.randint(1, 8))))
        elif r < 0.7:
            parts.append(rng.choice(SPACES))
        elif r < 0.85:
            parts.append(rng.choice(SPECIAL_BITS))
        elif added:
            parts.append(rng.choice(added))
    return "".join(parts)


@check
def tokenizers_match_hf_on_fresh_texts(ctx):
    """xling tokenize/decode equal HF tokenizers (ids, tokens, char offsets, no-special ids, decode) on random texts."""
    from tokenizers import Tokenizer
    fixtures = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "hf", "tokenizers")
    report = []
    for name in sorted(os.listdir(fixtures)):
        path = os.path.join(fixtures, name, "tokenizer.json")
        if not os.path.exists(path):
            continue
        hf = Tokenizer.from_file(path)
        added = [t.content for t in hf.get_added_tokens_decoder().values()]
        texts = [random_text(ctx.rng, added) for _ in range(2000)]
        inp = ctx.path(f"tok_{name}.jsonl")
        with open(inp, "w") as f:
            for t in texts:
                f.write(json.dumps(t) + "\n")
        got = [json.loads(l) for l in ctx.run("tokenize", "-t", path, "-i", inp).stdout.decode().split("\n")[:-1]]
        plain = [json.loads(l) for l in ctx.run("tokenize", "-t", path, "-i", inp, "--no-special").stdout.decode().split("\n")[:-1]]
        assert len(got) == len(texts) == len(plain), (len(got), len(texts))
        bad = []
        ids_file = ctx.path(f"ids_{name}.jsonl")
        with open(ids_file, "w") as f:
            for t, g, p in zip(texts, got, plain):
                e = hf.encode(t)
                # tokens as transformers returns them (convert_ids_to_tokens), as the goldens hold.
                want = {"input_ids": e.ids, "tokens": [hf.id_to_token(i) for i in e.ids],
                        "offsets": [list(o) for o in e.offsets]}
                for k, v in want.items():
                    if g[k] != v:
                        bad.append((k, t, g[k], v))
                        break
                if p["input_ids"] != hf.encode(t, add_special_tokens=False).ids:
                    bad.append(("ids_no_special", t, p["input_ids"], None))
                f.write(json.dumps({"input_ids": e.ids}) + "\n")
        decoded = [json.loads(l) for l in ctx.run("decode", "-t", path, "-i", ids_file, "--skip-special").stdout.decode().split("\n")[:-1]]
        for t, d in zip(texts, decoded):
            want = hf.decode(hf.encode(t).ids, skip_special_tokens=True)
            if d != want:
                bad.append(("decode", t, d, want))
        report.append(f"{name} {len(texts) - len(set(b[1] for b in bad))}/{len(texts)}")
        assert not bad, f"{name}: {len(bad)} mismatches; first: {bad[0]!r}"[:2000]
    return "; ".join(report)


def load_check_modules():
    import importlib
    here = os.path.dirname(os.path.abspath(__file__))
    for f in sorted(os.listdir(here)):
        if f.startswith("checks_") and f.endswith(".py"):
            importlib.import_module(f[:-3])


def main():
    load_check_modules()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--xling", default="build/bin/xling")
    ap.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    print(f"parity: seed {args.seed} (rerun with --seed {args.seed})")
    failed = ran = 0
    with tempfile.TemporaryDirectory(prefix="xling-parity-") as tmp:
        for fn in CHECKS:
            if args.only and args.only not in fn.__name__:
                continue
            t0 = time.time()
            ran += 1
            try:
                detail = fn(Ctx(os.path.abspath(args.xling), args.seed, tmp))
                print(f"PASS  {fn.__name__}  ({time.time() - t0:.1f} s) {detail}")
            except Exception:
                failed += 1
                print(f"FAIL  {fn.__name__}\n" + traceback.format_exc())
    print(f"{ran - failed} passed, {failed} failed")
    return failed


if __name__ == "__main__":
    sys.exit(main())
