"""Parity of xling's chat templates with transformers 5: `xling tokenize --chat` against
tokenizer.apply_chat_template(tokenize=False / tokenize=True) on freshly generated random
multilingual conversations (seeded by the run's seed, different from the committed cases of
tests/data/chat_templates/expected.json), for every real template stored there.
"""
import json
import os
import random
import shutil

from harness import check
from make_chat_template_cases import TEMPLATES, random_conversation, render

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "fixtures", "hf", "tokenizers", "byte_level_bpe")


@check
def chat_templates_match_transformers(ctx):
    """Rendered text and ids of `xling tokenize --chat` equal apply_chat_template's, and xling fails where it raises."""
    from transformers import AutoTokenizer
    rng = random.Random(ctx.seed * 7919 + 17)
    names = sorted(f[:-6] for f in os.listdir(TEMPLATES) if f.endswith(".jinja"))
    compared = raised = 0
    for name in names:
        with open(os.path.join(TEMPLATES, name + ".jinja"), encoding="utf-8", newline="") as f:
            template = f.read()
        # A tokenizer directory with this template; special tokens that exist in its vocabulary.
        d = ctx.path(f"chat_{name}")
        os.makedirs(d, exist_ok=True)
        shutil.copy(os.path.join(FIXTURE, "tokenizer.json"), d)
        with open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            json.dump({"tokenizer_class": "TokenizersBackend", "bos_token": "<|im_start|>", "eos_token": "<|im_end|>",
                       "pad_token": "<|endoftext|>", "chat_template": template}, f, ensure_ascii=False)
        tok = AutoTokenizer.from_pretrained(d)
        ok_lines, expected, failing = [], [], []
        for _ in range(25):
            messages, kwargs = random_conversation(rng)
            agp = rng.random() < 0.6
            ref = render(template, messages, agp, {**tok.special_tokens_map, **kwargs})
            line = {"messages": messages, "add_generation_prompt": agp, **kwargs}
            if "error" in ref:
                failing.append((line, ref["error"]))
                continue
            text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=agp, **kwargs)
            assert text == ref["rendered"], (name, text, ref["rendered"])
            enc = tok.apply_chat_template(messages, tokenize=True, add_generation_prompt=agp, **kwargs)
            ids = enc["input_ids"] if hasattr(enc, "keys") else enc
            ok_lines.append(line)
            expected.append({"text": text, "ids": list(ids)})
        src = ctx.path(f"chat_{name}.jsonl")
        with open(src, "w", encoding="utf-8") as f:
            for line in ok_lines:
                f.write(json.dumps(line, ensure_ascii=False) + "\n")
        p = ctx.run("tokenize", "--tokenizer", d, "--chat", src)
        got = [json.loads(x) for x in p.stdout.decode("utf-8").splitlines()]
        assert len(got) == len(expected), (name, len(got), len(expected))
        for k, (g, e) in enumerate(zip(got, expected)):
            assert g["text"] == e["text"], (name, k, g["text"], e["text"])
            assert g["ids"] == e["ids"], (name, k, g["ids"], e["ids"])
        compared += len(got)
        for line, msg in failing[:2]:
            bad = ctx.path(f"chat_{name}_bad.jsonl")
            with open(bad, "w", encoding="utf-8") as f:
                f.write(json.dumps(line, ensure_ascii=False) + "\n")
            p = ctx.run("tokenize", "--tokenizer", d, "--chat", bad, expect=1)
            err = p.stderr.decode("utf-8", errors="replace")
            assert f"{bad}:1:" in err and msg in err, (name, err, msg)
            raised += 1
    return f"{compared} random conversations over {len(names)} real templates identical, {raised} raising ones fail in xling too (seed {ctx.seed})"
