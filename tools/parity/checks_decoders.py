"""Parity of xling's decoder-only LLMs (`xling forward`, `xling generate`) with transformers 5.17 on
freshly built random tiny models: Llama (GQA; RoPE default / linear / dynamic / llama3 / yarn;
attention_bias; tied embeddings; partial_rotary_factor), Mistral (sliding window), Qwen2 (qkv bias,
use_sliding_window), Gemma ((1 + w) RMSNorm, embedding scale), Gemma 2 (sandwich norms, soft-capping,
query_pre_attn_scalar, alternating sliding windows) and BLOOM (ALiBi with a non-power-of-two head count,
apply_residual_connection_post_layernorm).

Every run draws new sizes and weights from the seed (hidden 32-64, 2 layers, vocab 300-1000, weights
larger than HF's init and random norm weights / biases so that every parameter matters), saves the model
with save_pretrained (fp32 safetensors) and compares:
  (a) `xling forward` with HF's forward (eval, fp32, output_hidden_states) on a left-padded batch:
      logits and every hidden state where attention_mask == 1. HF is given the position ids its generate
      derives from the mask (xling forward always derives them so).
  (b) `xling generate` with HF generate, greedy and 3 beams, 10 new tokens (min_new_tokens 10 too), prompts
      one at a time and as one left-padded batch (pad id as xling picks it): ids, and beam scores within 1e-4.
      Greedy cases where HF's own top-2 margin at some step is below 1e-4 are near-ties and are only counted.
Gemma 2 runs HF's eager attention: HF's default (sdpa) silently drops attn_logit_softcapping.
"""
import json
import os
import random

from harness import check

NEW = 10
BEAMS = 3
FWD_TOL = 1e-4     # relative to max(1, |reference|)
SCORE_TOL = 1e-4
TIE_MARGIN = 1e-4


def _variants(rng):
    """(name, class name, config kwargs) of this run's models."""
    def sizes(heads_choices=(2, 4), kv_div=(1, 2)):
        heads = rng.choice(heads_choices)
        head_dim = rng.choice([8, 16])
        hidden = heads * head_dim
        while hidden < 32:
            head_dim *= 2
            hidden = heads * head_dim
        kv = heads // rng.choice([d for d in kv_div if heads % d == 0])
        return dict(vocab_size=rng.randint(300, 1000), hidden_size=hidden, intermediate_size=rng.choice([48, 64, 96]),
                    num_hidden_layers=2, num_attention_heads=heads, num_key_value_heads=kv,
                    rms_norm_eps=rng.choice([1e-6, 1e-5]), initializer_range=rng.uniform(0.15, 0.3),
                    attention_dropout=0.0)

    def llama(rope=None, **extra):
        kw = sizes(heads_choices=(4,), kv_div=(2, 4))  # GQA: 2 or 1 key-value heads
        kw.update(max_position_embeddings=64, hidden_act=rng.choice(["silu", "gelu"]),
                  rope_parameters={"rope_type": "default", "rope_theta": rng.choice([10000.0, 500.0]), **(rope or {})})
        kw.update(extra)
        return kw

    v = []
    v.append(("llama_gqa_default", "LlamaForCausalLM", llama(attention_bias=True, mlp_bias=rng.random() < 0.5)))
    v.append(("llama_linear", "LlamaForCausalLM", llama(dict(rope_type="linear", factor=2.0), tie_word_embeddings=True)))
    # dynamic NTK: max_position_embeddings small so that prompts + new tokens pass it
    # (HF's dynamic RoPE ignores an original_max_position_embeddings in rope_parameters: sometimes written)
    dyn = dict(rope_type="dynamic", factor=2.0, **({"original_max_position_embeddings": 8} if rng.random() < 0.5 else {}))
    v.append(("llama_dynamic", "LlamaForCausalLM", llama(dyn, max_position_embeddings=16)))
    v.append(("llama_llama3", "LlamaForCausalLM",
              llama(dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                         original_max_position_embeddings=rng.choice([16, 32])))))
    v.append(("llama_yarn", "LlamaForCausalLM",
              llama(dict(rope_type="yarn", factor=4.0, original_max_position_embeddings=16))))
    # transformers' Llama ignores partial_rotary_factor with the default RoPE (it rotates whole heads)
    v.append(("llama_partial_rotary", "LlamaForCausalLM", llama(partial_rotary_factor=0.5)))
    kw = sizes(heads_choices=(4,), kv_div=(2,))
    kw.update(max_position_embeddings=64, sliding_window=4)
    v.append(("mistral_window4", "MistralForCausalLM", kw))
    kw = sizes()
    kw.update(max_position_embeddings=64, tie_word_embeddings=rng.random() < 0.5)
    v.append(("qwen2", "Qwen2ForCausalLM", kw))
    kw = sizes()
    kw.update(max_position_embeddings=64, use_sliding_window=True, max_window_layers=1, sliding_window=4)
    v.append(("qwen2_sliding", "Qwen2ForCausalLM", kw))
    kw = sizes(kv_div=(1, 2))
    kw.update(head_dim=rng.choice([8, 16]), max_position_embeddings=64, hidden_act=rng.choice(["gelu_pytorch_tanh", "gelu"]))
    v.append(("gemma", "GemmaForCausalLM", kw))
    kw = sizes(kv_div=(2,))
    kw.update(head_dim=rng.choice([8, 16]), max_position_embeddings=64, sliding_window=4,
              query_pre_attn_scalar=rng.choice([12, 16, 24]), attn_logit_softcapping=rng.choice([2.0, 5.0]),
              final_logit_softcapping=rng.choice([3.0, 8.0]),
              hidden_activation=rng.choice(["gelu_pytorch_tanh", "gelu"]))
    v.append(("gemma2", "Gemma2ForCausalLM", kw))
    for post_ln in (False, True):
        v.append((f"bloom_6heads{'_postln' if post_ln else ''}", "BloomForCausalLM",
                  dict(vocab_size=rng.randint(300, 1000), hidden_size=48, n_layer=2, n_head=6,
                       layer_norm_epsilon=1e-5, apply_residual_connection_post_layernorm=post_ln,
                       initializer_range=rng.uniform(0.15, 0.3), hidden_dropout=0.0, attention_dropout=0.0,
                       pad_token_id=3)))
    return v


def _build(cls_name, kw, seed, rng):
    import torch
    import transformers
    cfg_cls = getattr(transformers, cls_name.replace("ForCausalLM", "Config"))
    cfg = cfg_cls(**kw)
    torch.manual_seed(seed)
    model = getattr(transformers, cls_name)(cfg).eval()
    if cls_name.startswith("Gemma2"):
        model.set_attn_implementation("eager")  # sdpa drops attn_logit_softcapping
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                # Gemma stores w of (1 + w): random around 0 there, around 1 elsewhere
                base = 0.0 if cls_name.startswith("Gemma") else 1.0
                p.copy_(base + 0.3 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
    return model


def _pad_id(model):
    g, c = model.generation_config, model.config
    if g.pad_token_id is not None:
        return int(g.pad_token_id)
    if c.pad_token_id is not None:
        return int(c.pad_token_id)
    for e in (g.eos_token_id, c.eos_token_id):
        if e is not None:
            return int(e[0] if isinstance(e, (list, tuple)) else e)
    return 0


def _reset_rope(model):
    """Puts dynamic RoPE back in its initial state, as a fresh xling process starts (HF's rotary module
    keeps the frequencies of the longest sequence seen across calls)."""
    for m in model.modules():
        if hasattr(m, "original_inv_freq") and hasattr(m, "max_seq_len_cached"):
            m.inv_freq = m.original_inv_freq.clone()
            m.max_seq_len_cached = m.original_max_seq_len


def _left_pad(prompts, pad):
    import torch
    n = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), n), pad, dtype=torch.long)
    mask = torch.zeros((len(prompts), n), dtype=torch.long)
    for i, p in enumerate(prompts):
        ids[i, n - len(p):] = torch.tensor(p)
        mask[i, n - len(p):] = 1
    return ids, mask


def _compare_forward(ctx, name, d, model, prompts, pad):
    """(max abs error, max relative-to-scale error, problems)."""
    import torch
    from safetensors.torch import load_file, save_file
    ids, mask = _left_pad(prompts, pad)
    inp, out = ctx.path(f"{name}.fwd.in.safetensors"), ctx.path(f"{name}.fwd.out.safetensors")
    save_file({"input_ids": ids.contiguous(), "attention_mask": mask.contiguous()}, inp)
    ctx.run("forward", "--model", d, "--inputs", inp, "--output", out)
    got = load_file(out)
    pos = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)
    _reset_rope(model)
    kw = {} if "Bloom" in type(model).__name__ else {"position_ids": pos}
    with torch.no_grad():
        ref = model(input_ids=ids, attention_mask=mask, output_hidden_states=True, **kw)
    want = {f"hidden_states.{i}": h for i, h in enumerate(ref.hidden_states)}
    want["logits"] = ref.logits
    bad, worst, worst_rel = [], 0.0, 0.0
    extra = sorted(k for k in got if k.startswith("hidden_states.") and k not in want)
    if extra:
        bad.append(f"{name} forward: xling has {extra} beyond HF's {len(ref.hidden_states)} hidden states")
    m = mask.bool()
    for k, w in want.items():
        if k not in got:
            bad.append(f"{name} forward: xling lacks {k}")
            continue
        g = got[k]
        if g.shape != w.shape:
            bad.append(f"{name} forward {k}: shape {tuple(g.shape)} vs HF {tuple(w.shape)}")
            continue
        g, w = g[m], w[m]
        err = (g - w).abs().max().item()
        scale = max(1.0, w.abs().max().item())
        worst, worst_rel = max(worst, err), max(worst_rel, err / scale)
        if not err <= FWD_TOL * scale:
            bad.append(f"{name} forward {k}: max abs error {err:.3e} (|HF| max {scale:.3g})")
    return worst, worst_rel, bad


def _hf_generate(model, prompts, pad, beams):
    """HF generate on prompts (one left-padded batch) -> per prompt (unpadded ids, score, min top-2 margin)."""
    import torch
    ids, mask = _left_pad(prompts, pad)
    with torch.no_grad():
        o = model.generate(input_ids=ids, attention_mask=mask, do_sample=False, num_beams=beams, max_new_tokens=NEW,
                           min_new_tokens=NEW, pad_token_id=pad, return_dict_in_generate=True, output_scores=True)
    res = []
    n = ids.shape[1]
    for i, p in enumerate(prompts):
        seq = [int(x) for x in o.sequences[i]]
        seq = seq[n - len(p):]
        score = float(o.sequences_scores[i]) if beams > 1 else None
        margin = None
        if beams == 1:
            margin = min(float((s[i].topk(2).values[0] - s[i].topk(2).values[1])) for s in o.scores)
        res.append((seq, score, margin))
    return res


def _xling_generate(ctx, name, d, prompts, beams, batch_size, tag):
    path = ctx.path(f"{name}.{tag}.in.jsonl")
    with open(path, "w") as f:
        f.write("".join(json.dumps({"input_ids": p}) + "\n" for p in prompts))
    out = ctx.path(f"{name}.{tag}.out.jsonl")
    ctx.run("generate", "--model", d, "--input-ids", path, "--output-ids", out, "--num-beams", str(beams),
            "--max-new-tokens", str(NEW), "--min-new-tokens", str(NEW), "--batch-size", str(batch_size))
    return [json.loads(line) for line in open(out)]


def _compare_generate(ctx, name, d, model, prompts, pad, stats):
    """Fills stats[(beams, mode)] = [same, total, skipped]; returns (max score diff, problems)."""
    bad, dscore = [], 0.0
    for beams in (1, BEAMS):
        for mode in ("single", "batch"):
            _reset_rope(model)
            if mode == "single":
                want = [r for p in prompts for r in _hf_generate(model, [p], pad, beams)]
                got = _xling_generate(ctx, name, d, prompts, beams, 1, f"b{beams}.single")
            else:
                want = _hf_generate(model, prompts, pad, beams)
                got = _xling_generate(ctx, name, d, prompts, beams, len(prompts), f"b{beams}.batch")
            st = stats.setdefault((beams, mode), [0, 0, 0])
            if len(got) != len(prompts):
                bad.append(f"{name} beams={beams} {mode}: xling wrote {len(got)} lines for {len(prompts)} prompts")
                continue
            for i, ((w_ids, w_score, margin), g) in enumerate(zip(want, got)):
                st[1] += 1
                if margin is not None and margin < TIE_MARGIN:
                    st[2] += 1
                    continue
                setting = f"{name} beams={beams} {mode} prompt {i} (len {len(prompts[i])})"
                ok = True
                if g["output_ids"] != w_ids:
                    k = next((j for j, (a, b) in enumerate(zip(g["output_ids"], w_ids)) if a != b),
                             min(len(g["output_ids"]), len(w_ids)))
                    bad.append(f"{setting}: ids differ at {k} (prompt {len(prompts[i])}): xling "
                               f"{g['output_ids'][k:k + 4]} HF {w_ids[k:k + 4]} (lens {len(g['output_ids'])}/{len(w_ids)})")
                    ok = False
                if w_score is not None:
                    if g["score"] is None or abs(g["score"] - w_score) > SCORE_TOL:
                        bad.append(f"{setting}: beam score xling {g['score']} HF {w_score}")
                        ok = False
                    else:
                        dscore = max(dscore, abs(g["score"] - w_score))
                st[0] += ok
    return dscore, bad


def _prompts(rng, vocab, max_len, n):
    lo = 4  # keep clear of the special ids 0-3
    return [[rng.randrange(lo, vocab) for _ in range(rng.randint(1, max_len))] for _ in range(n)]


@check
def decoder_llms_match_transformers(ctx):
    """xling forward/generate = transformers on random Llama (GQA, 5 RoPE types, bias, tied, partial rotary),
    Mistral, Qwen2, Gemma, Gemma 2 and BLOOM models: logits, hidden states, greedy and beam ids and scores."""
    import warnings
    warnings.filterwarnings("ignore")
    import torch
    import transformers
    transformers.logging.set_verbosity_error()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _decoder_check(ctx)
    finally:
        torch.set_num_threads(threads)


def _decoder_check(ctx):
    rng = random.Random(ctx.seed * 7 + 3)
    only = os.environ.get("XLING_PARITY_DECODERS", "")  # comma-separated variant names (debugging)
    bad, parts = [], []
    worst_fwd = worst_rel = worst_score = 0.0
    totals = {}
    for name, cls_name, kw in _variants(rng):
        vrng = random.Random(rng.randrange(2**31))
        if only and name not in only.split(","):
            continue
        model = _build(cls_name, kw, ctx.seed + len(name) * 131, vrng)
        d = ctx.path(f"dec_{name}")
        model.save_pretrained(d, safe_serialization=True)
        assert os.path.exists(os.path.join(d, "model.safetensors")), os.listdir(d)
        vocab = model.config.vocab_size
        pad = _pad_id(model)
        mpe = getattr(model.config, "max_position_embeddings", None)
        dynamic = "dynamic" in name
        # prompt lengths: dynamic goes past max_position_embeddings (16) in the prompt or while decoding
        max_len = 14 if dynamic else 20
        fwd_prompts = _prompts(vrng, vocab, max_len, vrng.randint(3, 4))
        if dynamic:
            fwd_prompts.append([vrng.randrange(4, vocab) for _ in range(mpe + 5)])  # the update in the forward pass
        fwd_prompts.append([vrng.randrange(4, vocab) for _ in range(max_len)])  # one full row
        try:
            e, r, b = _compare_forward(ctx, name, d, model, fwd_prompts, pad)
        except AssertionError as ex:
            e, r, b = 0.0, 0.0, [f"{name} forward: {str(ex)[:600]}"]
        worst_fwd, worst_rel = max(worst_fwd, e), max(worst_rel, r)
        bad += b
        gen_prompts = _prompts(vrng, vocab, max_len, 4)
        stats = {}
        try:
            ds, b2 = _compare_generate(ctx, name, d, model, gen_prompts, pad, stats)
        except AssertionError as ex:
            ds, b2 = 0.0, [f"{name} generate: {str(ex)[:600]}"]
        worst_score = max(worst_score, ds)
        bad += b2
        for k, (s, t, sk) in stats.items():
            tt = totals.setdefault(k, [0, 0, 0])
            tt[0], tt[1], tt[2] = tt[0] + s, tt[1] + t, tt[2] + sk
        gen = " ".join(f"{'greedy' if k[0] == 1 else 'beam'}-{k[1]} {s}/{t - sk}" + (f"(+{sk} ties)" if sk else "")
                       for k, (s, t, sk) in sorted(stats.items()))
        parts.append(f"{name}: fwd {e:.1e} {'ok' if not b else 'BAD'}; {gen}; score {ds:.1e}")
    summary = "; ".join(f"{'greedy' if k[0] == 1 else f'{BEAMS}-beam'} {k[1]} {s}/{t - sk}" + (f" ({sk} near-ties skipped)" if sk else "")
                        for k, (s, t, sk) in sorted(totals.items()))
    detail = "\n  ".join(parts)
    assert not bad, (f"{len(bad)} mismatches (max fwd err {worst_fwd:.2e}, max |score diff| {worst_score:.1e}):\n"
                     + "\n".join(bad[:40]) + "\n  " + detail)
    return (f"{len(parts)} models: forward max abs err {worst_fwd:.1e} (rel {worst_rel:.1e}); {summary}; "
            f"max |beam score diff| {worst_score:.1e}\n  " + detail)
