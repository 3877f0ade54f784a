"""Decoder-only LLM speed on CPU: PREFILL and DECODE tokens/s of xling vs HF transformers vs llama.cpp,
on the same machine, in the same run.

Model: the Qwen2-0.5B shape with random weights (no pretrained weights can be downloaded here):
hidden 896, 24 layers, 14 heads, 2 KV heads (head dim 64), intermediate 4864, vocab 151,936, tied
embeddings, rope_theta 1e6, RMSNorm eps 1e-6, SiLU MLP. Built once by transformers' Qwen2ForCausalLM
from a Qwen2Config (torch.manual_seed(--seed), HF's own init: normal std 0.02) and saved with
safetensors (fp32) into --cache-dir; later runs reuse it.

Work: B prompts (batch 1 and batch 8) of P random token ids each (all the same length: no padding,
so every engine does exactly the same work), greedy, 1 + N new tokens with min_new_tokens ==
max_new_tokens (EOS banned) so every engine decodes the same number of steps.
  PREFILL = time from the call until the first new token exists (the P-token prompt forward +
            that token); tokens/s = B * P / prefill seconds.
  DECODE  = time for the N tokens after it (N single-token steps on the KV cache);
            tokens/s = B * N / decode seconds.
Each (engine, batch) runs in its own process, sequentially: model load (not timed), --warmup
untimed generate calls, then --repeats timed ones; the median prefill and median decode are
reported, with the process's peak RSS (VmHWM, or /usr/bin/time's max RSS for xling). Threads:
--threads (default: all cores) for torch (set_num_threads), xling (--threads) and llama.cpp
(n_threads = n_threads_batch).

Engines (--engines, comma-separated):
  xling, xling-packed, xling-bf16, xling-int8
                                  `xling generate --input-ids ... --timings` (fp32 / fp32 with oneDNN-
                                  prepacked weights / bf16 / FBGEMM int8);
                                  the input file holds warmup + repeats copies of the batch, and
                                  --timings prints each batch's prefill / decode split
  hf, hf-bf16                     transformers `model.generate` (fp32 / model.to(bfloat16)); the
                                  first new token is timed by a StoppingCriteria (HF calls it right
                                  after each token is appended)
  llama, llama-f16                llama.cpp through llama-cpp-python's C API bindings (llama_decode on
                                  a multi-sequence llama_batch: one sequence per prompt, non-unified
                                  KV cache, greedy = argmax of the logits in numpy; llama.cpp's
                                  defaults otherwise: n_ubatch 512, flash attention "auto");
                                  GGUF f32 / f16 converted from the same HF directory by llama.cpp's
                                  own convert_hf_to_gguf.py
Ratios are vs HF fp32 at the same batch size, in the same run. A quality block follows (RANDOM
WEIGHTS: near-tied logits, so it shows numerical agreement, not model quality): greedy-token
agreement of every engine vs xling fp32 and vs HF fp32 (largest batch), and the max |logit| difference
of `xling forward` bf16 vs fp32 and xling fp32 vs HF fp32 on the batch-1 prompt (`xling forward`
has no int8, so int8 is judged by its greedy tokens only).

llama.cpp setup (not in the project's requirements; its own venv so the project's .venv is
untouched; PyPI has only the sdist, which compiles llama.cpp: 15 min on 2 busy cores):
  python3 -m venv /work/llama-venv
  /work/llama-venv/bin/pip install --upgrade pip
  mkdir -p /work/llama-src && cd /work/llama-src
  /work/llama-venv/bin/pip download --no-deps --no-binary :all: llama-cpp-python==0.3.36 -d .
  tar xzf llama_cpp_python-0.3.36.tar.gz     # vendor/llama.cpp/convert_hf_to_gguf.py + gguf-py
  CMAKE_ARGS="-DGGML_NATIVE=ON -DGGML_BLAS=OFF -DGGML_CUDA=OFF -DLLAVA_BUILD=OFF -DLLAMA_BUILD_EXAMPLES=OFF \\
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF" CMAKE_BUILD_PARALLEL_LEVEL=2 \\
    nice -n 19 /work/llama-venv/bin/pip install -v /work/llama-src/llama_cpp_python-0.3.36.tar.gz
The conversion runs convert_hf_to_gguf.py with this script's interpreter (it needs torch and
transformers, which the project's .venv has) and the gguf-py package shipped next to it in the
sdist (the script puts it on sys.path itself, so the PyPI `gguf` package is not needed). Qwen2's
converter wants a tokenizer: a throwaway 300-piece sentencepiece model is trained into a staging
directory (config.json + model.safetensors symlinked, the HF directory itself untouched) and
the converter pads it with [PADn] tokens up to 151,936; token ids are fed directly, so the
vocabulary's text never matters. Without the venv or the sources, the llama engines are skipped
with a message.

  python bench/llm_bench.py                                  # full: 24 layers, P 128, N 64, batch 1 and 8
  python bench/llm_bench.py --layers 2 --prompt-tokens 16 --new-tokens 4 --repeats 1   # smoke test
  python bench/llm_bench.py --engines xling,hf --batches 1 --out /tmp/llm.json
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

SHAPE = dict(hidden=896, layers=24, heads=14, kv_heads=2, intermediate=4864, vocab=151936, rope_theta=1e6,
             max_positions=32768, eps=1e-6, bos=151643, eos=151643)
ENGINES = ["xling", "xling-packed", "xling-bf16", "xling-int8", "hf", "hf-bf16", "llama", "llama-f16"]
LABEL = {"xling": ("xling", "fp32"), "xling-packed": ("xling", "fp32, oneDNN-prepacked"), "xling-bf16": ("xling", "bf16"), "xling-int8": ("xling", "int8 (FBGEMM, dynamic)"),
         "hf": ("HF transformers", "fp32"), "hf-bf16": ("HF transformers", "bf16"),
         "llama": ("llama.cpp", "f32 GGUF"), "llama-f16": ("llama.cpp", "f16 GGUF")}
DEFAULT_LLAMA_PY = "/work/llama-venv/bin/python"
DEFAULT_LLAMA_SRC = "/work/llama-src/llama_cpp_python-0.3.36/vendor/llama.cpp"


# ---------------------------------------------------------------------------------------------
# Shared by every process (no torch here: the llama.cpp child runs in a venv without it)

def prompts(a):
    """B prompts of P ids, drawn from a seeded generator (the same in every process)."""
    import random
    rng = random.Random(a.seed * 1000 + a.batch)
    return [[rng.randrange(100, 150000) for _ in range(a.prompt_tokens)] for _ in range(a.batch)]


def peak_rss_mb():
    # VmHWM restarts at exec; ru_maxrss would carry a parent's peak over.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def result(runs, tokens):
    """runs: [(prefill_s, decode_s)] of the timed calls; tokens: the new tokens of each row (last call)."""
    return dict(prefill_s=statistics.median(r[0] for r in runs), decode_s=statistics.median(r[1] for r in runs),
                prefill_runs=[r[0] for r in runs], decode_runs=[r[1] for r in runs], tokens=tokens,
                peak_rss_mb=peak_rss_mb())


# ---------------------------------------------------------------------------------------------
# Engines (child processes)

def run_hf(a, bf16):
    import torch
    import transformers as T
    T.utils.logging.disable_progress_bar()
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    model = T.AutoModelForCausalLM.from_pretrained(a.model_dir, dtype=torch.bfloat16 if bf16 else torch.float32)
    model = model.to(dev).eval()
    ids = torch.tensor(prompts(a), dtype=torch.long, device=dev)
    mask = torch.ones_like(ids)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

    class FirstToken(T.StoppingCriteria):
        at = None

        def __call__(self, input_ids, scores, **kw):
            if self.at is None:
                sync()
                self.at = time.perf_counter()
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    runs, out = [], None
    with torch.inference_mode():
        for i in range(a.warmup + a.repeats):
            first = FirstToken()
            sync()
            t0 = time.perf_counter()
            out = model.generate(input_ids=ids, attention_mask=mask, do_sample=False, num_beams=1,
                                 max_new_tokens=a.new_tokens + 1, min_new_tokens=a.new_tokens + 1,
                                 stopping_criteria=T.StoppingCriteriaList([first]), pad_token_id=SHAPE["eos"],
                                 eos_token_id=SHAPE["eos"], use_cache=True)
            sync()
            t1 = time.perf_counter()
            if i >= a.warmup:
                runs.append((first.at - t0, t1 - first.at))
    assert out.shape[1] == a.prompt_tokens + a.new_tokens + 1, out.shape
    return result(runs, out[:, a.prompt_tokens:].tolist())


def run_xling(a, dtype):
    rows = prompts(a)
    with tempfile.TemporaryDirectory() as tmp:
        inp, outp = os.path.join(tmp, "in.jsonl"), os.path.join(tmp, "out.jsonl")
        with open(inp, "w") as f:
            for _ in range(a.warmup + a.repeats):  # one batch per call, as HF's generate calls
                for r in rows:
                    f.write(json.dumps({"input_ids": r}) + "\n")
        n = a.new_tokens + 1
        timer = ["/usr/bin/time", "-f", "MAXRSS %M"] if os.path.exists("/usr/bin/time") else []
        cmd = [*timer, a.xling, "--threads", str(a.threads), "generate", "--model",
               a.model_dir, "--input-ids", inp, "--output-ids", outp, "--num-beams", "1", "--min-new-tokens", str(n),
               "--max-new-tokens", str(n), "--batch-size", str(a.batch), "--dtype", dtype, "--device", a.device, "--timings"]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)}\n{p.stderr}")
        batches = re.findall(r"batch (\d+): \d+ inputs, (\d+) prompt tokens, prefill ([\d.]+) s, (\d+) decode tokens "
                             r"in ([\d.]+) s", p.stderr)
        if len(batches) != a.warmup + a.repeats:
            raise SystemExit(f"expected {a.warmup + a.repeats} '--timings' batch lines (an xling without --timings?)\n"
                             f"{p.stderr}")
        for b in batches:
            assert int(b[1]) == a.batch * a.prompt_tokens and int(b[3]) == a.batch * a.new_tokens, b
        runs = [(float(b[2]), float(b[4])) for b in batches[a.warmup:]]
        outs = [json.loads(l)["output_ids"] for l in open(outp)][-a.batch:]
        m = re.search(r"MAXRSS (\d+)", p.stderr)
        rss = int(m.group(1)) / 1024 if m else float("nan")
    r = result(runs, [o[a.prompt_tokens:] for o in outs])
    r["peak_rss_mb"] = rss
    return r


def run_llama(a, gguf):
    import ctypes
    import numpy as np
    import llama_cpp as L
    global _quiet  # kept alive: llama.cpp calls it for as long as the process logs
    _quiet = L.llama_log_callback(lambda level, text, data: None)
    L.llama_log_set(_quiet, ctypes.c_void_p(0))
    L.llama_backend_init()
    mp = L.llama_model_default_params()
    model = L.llama_model_load_from_file(gguf.encode(), mp)
    if not model:
        raise SystemExit(f"llama.cpp could not load {gguf}")
    vocab = L.llama_vocab_n_tokens(L.llama_model_get_vocab(model))
    B, P, N = a.batch, a.prompt_tokens, a.new_tokens
    per_seq = -(-(P + N + 2) // 256) * 256
    cp = L.llama_context_default_params()
    cp.n_ctx = per_seq * B
    cp.n_batch = max(B * P, 512)
    cp.n_seq_max = B
    cp.kv_unified = False  # one KV stream per sequence, as llama-batched-bench's default
    cp.n_threads = a.threads
    cp.n_threads_batch = a.threads
    ctx = L.llama_init_from_model(model, cp)
    if not ctx:
        raise SystemExit("llama_init_from_model failed")
    mem = L.llama_get_memory(ctx)
    rows = prompts(a)
    batch = L.llama_batch_init(max(B * P, B), 0, 1)

    def fill(entries):  # (token, pos, seq, wants logits)
        for k, (tok, pos, seq, logits) in enumerate(entries):
            batch.token[k], batch.pos[k], batch.n_seq_id[k], batch.logits[k] = tok, pos, 1, logits
            batch.seq_id[k][0] = seq
        batch.n_tokens = len(entries)

    def argmax(i):
        v = np.ctypeslib.as_array(L.llama_get_logits_ith(ctx, i), shape=(vocab,)).copy()
        v[SHAPE["eos"]] = -np.inf  # min_new_tokens == max_new_tokens, as the other engines
        return int(v.argmax())

    runs, out = [], None
    for i in range(a.warmup + a.repeats):
        L.llama_memory_clear(mem, True)
        out = [[] for _ in range(B)]
        t0 = time.perf_counter()
        fill([(t, p, s, int(p == P - 1)) for s in range(B) for p, t in enumerate(rows[s])])
        if L.llama_decode(ctx, batch) != 0:
            raise SystemExit("llama_decode failed on the prompts")
        for s in range(B):
            out[s].append(argmax(s * P + P - 1))
        t1 = time.perf_counter()
        for step in range(N):
            fill([(out[s][-1], P + step, s, 1) for s in range(B)])
            if L.llama_decode(ctx, batch) != 0:
                raise SystemExit("llama_decode failed")
            for s in range(B):
                out[s].append(argmax(s))
        t2 = time.perf_counter()
        if i >= a.warmup:
            runs.append((t1 - t0, t2 - t1))
    L.llama_batch_free(batch)
    L.llama_free(ctx)
    L.llama_model_free(model)
    return result(runs, out)


# ---------------------------------------------------------------------------------------------
# Setup: model, GGUF

def model_dir(a):
    d = os.path.join(a.cache_dir, f"qwen2-0.5b-shape-L{a.layers}-seed{a.seed}")
    if os.path.exists(os.path.join(d, "model.safetensors")):
        return d
    import torch
    import transformers as T
    t = time.perf_counter()
    torch.manual_seed(a.seed)
    cfg = T.Qwen2Config(vocab_size=SHAPE["vocab"], hidden_size=SHAPE["hidden"], intermediate_size=SHAPE["intermediate"],
                        num_hidden_layers=a.layers, num_attention_heads=SHAPE["heads"],
                        num_key_value_heads=SHAPE["kv_heads"], hidden_act="silu",
                        max_position_embeddings=SHAPE["max_positions"], rms_norm_eps=SHAPE["eps"],
                        rope_theta=SHAPE["rope_theta"], tie_word_embeddings=True, use_sliding_window=False,
                        bos_token_id=SHAPE["bos"], eos_token_id=SHAPE["eos"], attention_dropout=0.0)
    model = T.Qwen2ForCausalLM(cfg).eval()
    tmp = d + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    os.replace(tmp, d)
    print(f"built the model in {time.perf_counter() - t:.0f} s: {d}", file=sys.stderr)
    return d


def gguf_path(a, outtype):
    """The GGUF of model_dir(a) (converted once); raises RuntimeError with the reason when it can't be."""
    out = os.path.join(a.model_dir + ".gguf", f"{outtype}.gguf")
    if os.path.exists(out):
        return out
    conv = os.path.join(a.llama_src, "convert_hf_to_gguf.py")
    if not os.path.exists(conv):
        raise RuntimeError(f"{conv} not found (the llama-cpp-python sdist's vendor/llama.cpp; see the docstring)")
    stage = a.model_dir + ".gguf-src"
    if not os.path.exists(os.path.join(stage, "tokenizer.model")):
        import sentencepiece as spm
        os.makedirs(stage, exist_ok=True)
        for f in ("config.json", "model.safetensors"):
            if not os.path.lexists(os.path.join(stage, f)):
                os.symlink(os.path.join(a.model_dir, f), os.path.join(stage, f))
        text = os.path.join(stage, "spm.txt")
        with open(text, "w") as f:
            for i in range(2000):
                f.write(f"random weights benchmark line {i} with some words {i * 7919 % 1000}\n")
        spm.SentencePieceTrainer.train(input=text, model_prefix=os.path.join(stage, "tokenizer"), vocab_size=300,
                                       model_type="bpe", minloglevel=2)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    cmd = [sys.executable, conv, stage, "--outtype", outtype, "--outfile", out + ".tmp"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{p.stderr[-1500:]}")
    os.replace(out + ".tmp", out)
    return out


# ---------------------------------------------------------------------------------------------
# Quality (random weights)

def agreement(x, ref):
    """Position-wise identical fraction and mean common prefix of two row lists of new tokens."""
    same = total = prefix = 0
    for r, s in zip(x, ref):
        same += sum(int(u == v) for u, v in zip(r, s))
        total += len(s)
        k = 0
        while k < min(len(r), len(s)) and r[k] == s[k]:
            k += 1
        prefix += k
    return dict(identical=same / total, mean_prefix=prefix / len(ref), tokens=total)


def logit_deltas(a):
    """max |logit| differences on the batch-1 prompt: xling bf16 vs fp32, xling fp32 vs HF fp32."""
    import torch
    import transformers as T
    from safetensors.torch import load_file, save_file
    b = a.batch
    a.batch = 1
    ids = torch.tensor(prompts(a), dtype=torch.long)
    a.batch = b
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        inp = os.path.join(tmp, "in.safetensors")
        save_file({"input_ids": ids, "attention_mask": torch.ones_like(ids)}, inp)
        logits = {}
        for dtype in ("f32", "bf16"):
            o = os.path.join(tmp, f"{dtype}.safetensors")
            cmd = [a.xling, "--threads", str(a.threads), "forward", "--model", a.model_dir, "--inputs", inp,
                   "--output", o, "--dtype", dtype, "--device", a.device]
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                return {"error": p.stderr[-800:]}
            logits[dtype] = load_file(o)["logits"]
    torch.set_num_threads(a.threads)
    T.utils.logging.disable_progress_bar()
    with torch.inference_mode():
        hf = T.AutoModelForCausalLM.from_pretrained(a.model_dir, dtype=torch.float32).eval()(input_ids=ids).logits
    ref = logits["f32"]
    out["logit_absmax_fp32"] = ref.abs().max().item()
    out["xling_bf16_vs_fp32_max_abs"] = (logits["bf16"] - ref).abs().max().item()
    out["xling_bf16_vs_fp32_argmax_same"] = (logits["bf16"].argmax(-1) == ref.argmax(-1)).float().mean().item()
    out["xling_fp32_vs_hf_fp32_max_abs"] = (ref - hf).abs().max().item()
    return out


# ---------------------------------------------------------------------------------------------

def versions(a, engines):
    v = {}
    try:
        import torch
        import transformers
        v.update(torch=torch.__version__, transformers=transformers.__version__)
    except ImportError:
        pass
    if any(e.startswith("llama") for e in engines) and os.path.exists(a.llama_python):
        p = subprocess.run([a.llama_python, "-c", "import llama_cpp; print(llama_cpp.__version__)"], capture_output=True,
                           text=True)
        v["llama_cpp_python"] = p.stdout.strip() or p.stderr.strip()[-200:]
    p = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    v["xling_git"] = p.stdout.strip()
    v["cpu"] = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "")
    return v


def child_cmd(a, engine, batch, python=None, extra=()):
    return [python or sys.executable, os.path.abspath(__file__), "--engine", engine, "--batch", str(batch),
            "--prompt-tokens", str(a.prompt_tokens), "--new-tokens", str(a.new_tokens), "--threads", str(a.threads),
            "--warmup", str(a.warmup), "--repeats", str(a.repeats), "--seed", str(a.seed), "--model-dir", a.model_dir,
            "--xling", a.xling, "--device", a.device, *extra]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--xling", default=os.path.join(ROOT, "build/bin/xling"))
    ap.add_argument("--engines", default=",".join(ENGINES), help="comma-separated: " + ", ".join(ENGINES))
    ap.add_argument("--batches", default="1,8", help="comma-separated batch sizes")
    ap.add_argument("--prompt-tokens", type=int, default=128, help="P: prompt length")
    ap.add_argument("--new-tokens", type=int, default=64, help="N: decode tokens after the first one")
    ap.add_argument("--layers", type=int, default=SHAPE["layers"], help="fewer for a smoke test")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--device", default="cpu", help="cpu or cuda (xling and HF engines; a CUDA build of xling)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed generate calls per process")
    ap.add_argument("--repeats", type=int, default=3, help="timed generate calls per process (median reported)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache-dir", default=os.path.expanduser("~/.cache/xling-bench"))
    ap.add_argument("--llama-python", default=DEFAULT_LLAMA_PY, help="interpreter with llama_cpp (its own venv)")
    ap.add_argument("--llama-src", default=DEFAULT_LLAMA_SRC, help="llama.cpp sources with convert_hf_to_gguf.py")
    ap.add_argument("--no-quality", action="store_true", help="skip the random-weights quality block")
    ap.add_argument("--out", default="", help="write the results as JSON here")
    ap.add_argument("--engine", default="", help=argparse.SUPPRESS)  # child mode
    ap.add_argument("--batch", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--model-dir", default="", help=argparse.SUPPRESS)
    ap.add_argument("--gguf", default="", help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.engine:
        r = {"hf": lambda: run_hf(a, False), "hf-bf16": lambda: run_hf(a, True),
             "xling": lambda: run_xling(a, "f32"), "xling-packed": lambda: run_xling(a, "f32-packed"),"xling-bf16": lambda: run_xling(a, "bf16"),
             "xling-int8": lambda: run_xling(a, "int8"),
             "llama": lambda: run_llama(a, a.gguf), "llama-f16": lambda: run_llama(a, a.gguf)}[a.engine]()
        print("RESULT " + json.dumps(r))
        return

    engines = [e for e in a.engines.split(",") if e]
    for e in engines:
        if e not in ENGINES:
            ap.error(f"unknown engine {e}; choose from {', '.join(ENGINES)}")
    batches = [int(b) for b in a.batches.split(",")]
    a.model_dir = model_dir(a)
    skipped = {}
    ggufs = {}
    for e in [e for e in engines if e.startswith("llama")]:
        if not os.path.exists(a.llama_python):
            skipped[e] = f"no llama-cpp-python interpreter at {a.llama_python} (see the docstring to build it)"
            continue
        p = subprocess.run([a.llama_python, "-c", "import llama_cpp"], capture_output=True, text=True)
        if p.returncode != 0:
            skipped[e] = f"{a.llama_python} cannot import llama_cpp: {p.stderr.strip()[-300:]}"
            continue
        try:
            t = time.perf_counter()
            ggufs[e] = gguf_path(a, "f32" if e == "llama" else "f16")
            print(f"{e}: {ggufs[e]} ({time.perf_counter() - t:.0f} s)", file=sys.stderr)
        except Exception as ex:  # reported as a skipped engine
            skipped[e] = f"GGUF conversion failed: {ex}"
    for e, why in skipped.items():
        print(f"{e}: SKIPPED: {why}", file=sys.stderr)

    results = {}  # engine -> batch -> result
    for e in engines:
        if e in skipped:
            continue
        for b in batches:
            if e.startswith("llama"):
                cmd = child_cmd(a, e, b, a.llama_python, ["--gguf", ggufs[e]])
            else:
                cmd = child_cmd(a, e, b)
            t = time.perf_counter()
            p = subprocess.run(cmd, capture_output=True, text=True)
            line = [l for l in p.stdout.splitlines() if l.startswith("RESULT ")]
            if p.returncode != 0 or not line:
                results.setdefault(e, {})[b] = {"error": (p.stderr or p.stdout)[-1500:]}
                print(f"{e} batch {b}: FAILED\n{results[e][b]['error']}", file=sys.stderr)
                continue
            r = json.loads(line[0][7:])
            r["prefill_tokens_per_s"] = b * a.prompt_tokens / r["prefill_s"]
            r["decode_tokens_per_s"] = b * a.new_tokens / r["decode_s"]
            results.setdefault(e, {})[b] = r
            print(f"{e} batch {b}: prefill {r['prefill_tokens_per_s']:.1f} tokens/s, decode "
                  f"{r['decode_tokens_per_s']:.1f} tokens/s, {r['peak_rss_mb']:.0f} MB "
                  f"({time.perf_counter() - t:.0f} s wall)", file=sys.stderr)

    meta = dict(model="Qwen2-0.5B shape, random weights (transformers Qwen2ForCausalLM init, seed %d)" % a.seed,
                hidden=SHAPE["hidden"], layers=a.layers, heads=SHAPE["heads"], kv_heads=SHAPE["kv_heads"],
                intermediate=SHAPE["intermediate"], vocab=SHAPE["vocab"], tied_embeddings=True,
                rope_theta=SHAPE["rope_theta"], prompt_tokens=a.prompt_tokens, new_tokens=a.new_tokens,
                batches=batches, device=a.device, threads=a.threads, warmup=a.warmup, repeats=a.repeats, model_dir=a.model_dir,
                versions=versions(a, engines), date=time.strftime("%Y-%m-%d"))
    print(f"\nQwen2-0.5B shape (hidden {SHAPE['hidden']}, {a.layers} layers, {SHAPE['heads']} heads / "
          f"{SHAPE['kv_heads']} KV heads, intermediate {SHAPE['intermediate']}, vocab {SHAPE['vocab']}, tied embeddings), "
          f"random weights; prompt P = {a.prompt_tokens} tokens, then 1 + N = 1 + {a.new_tokens} greedy tokens "
          f"(min = max new tokens); device {a.device}; {a.threads} threads; median of {a.repeats} timed calls after {a.warmup} warm-up; "
          f"each (engine, batch) in its own process; model loading excluded.\n")
    print("PREFILL tokens/s = B x P / (time to the first new token); DECODE tokens/s = B x N / (time for the N "
          "tokens after it). Ratios vs HF fp32 at the same batch.\n")
    print("| engine | precision | batch | prefill s | prefill tok/s | vs HF | decode s | decode tok/s | vs HF | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for b in batches:
        hf = results.get("hf", {}).get(b, {})
        for e in engines:
            name, prec = LABEL[e]
            if e in skipped:
                print(f"| {name} | {prec} | {b} | skipped | | | | | | |")
                continue
            r = results[e][b]
            if "error" in r:
                print(f"| {name} | {prec} | {b} | failed | | | | | | |")
                continue
            vp = f"{r['prefill_tokens_per_s'] / hf['prefill_tokens_per_s']:.2f}x" if "prefill_s" in hf else ""
            vd = f"{r['decode_tokens_per_s'] / hf['decode_tokens_per_s']:.2f}x" if "decode_s" in hf else ""
            print(f"| {name} | {prec} | {b} | {r['prefill_s']:.3f} | {r['prefill_tokens_per_s']:.1f} | {vp} | "
                  f"{r['decode_s']:.3f} | {r['decode_tokens_per_s']:.1f} | {vd} | {r['peak_rss_mb']:.0f} |")
    for e, why in skipped.items():
        print(f"\n{e} skipped: {why}")

    quality = {}
    if not a.no_quality:
        big = max(batches)
        toks = {e: results[e][big]["tokens"] for e in results if "tokens" in results[e].get(big, {})}
        if "xling" in toks:  # the precision deltas of xling itself
            quality[f"greedy_vs_xling_batch{big}"] = {e: agreement(toks[e], toks["xling"]) for e in
                                                      ("xling-bf16", "xling-int8") if e in toks}
        if "hf" in toks:  # every engine against the reference implementation
            quality[f"greedy_vs_hf_batch{big}"] = {e: agreement(t, toks["hf"]) for e, t in toks.items() if e != "hf"}
        if os.path.exists(a.xling):
            quality["logits_batch1"] = logit_deltas(a)
        print(f"\nQuality, RANDOM WEIGHTS (near-tied logits: numerical agreement, not model quality); greedy tokens "
              f"of batch {big} ({big} x {a.new_tokens + 1} new tokens), identical position-wise / mean tokens "
              f"before the first difference:")
        for ref in ("xling", "hf"):
            q = quality.get(f"greedy_vs_{ref}_batch{big}")
            if q:
                print(f"  vs {LABEL[ref][0]} fp32: " + "; ".join(
                    f"{e} {v['identical']:.1%} / {v['mean_prefix']:.1f}" for e, v in q.items()))
        lq = quality.get("logits_batch1", {})
        if "error" in lq:
            print(f"  xling forward failed: {lq['error']}")
        elif lq:
            print(f"  logits of the batch-1 prompt ({a.prompt_tokens} positions; max |logit| {lq['logit_absmax_fp32']:.3g}):"
                  f" xling bf16 vs fp32 max |diff| {lq['xling_bf16_vs_fp32_max_abs']:.3g} (argmax same at "
                  f"{lq['xling_bf16_vs_fp32_argmax_same']:.1%} of positions); xling fp32 vs HF fp32 max |diff| "
                  f"{lq['xling_fp32_vs_hf_fp32_max_abs']:.3g}; int8: `xling forward` has no int8, see its greedy tokens")
    if a.out:
        json.dump(dict(meta=meta, results={e: {str(b): r for b, r in rb.items()} for e, rb in results.items()},
                       skipped=skipped, quality=quality), open(a.out, "w"), indent=2)
        print(f"\nwrote {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
