#!/usr/bin/env python3
"""Assemble models/xling-mini from a finished training run, evaluate it and write its model card.

    package.py --xling build/bin/xling --run WORK/run --prep WORK/prep --data WORK/data --out models/xling-mini

  WORK/run/model         the sentence-transformers directory `xling finetune` wrote (--run may be
                         repeated for training stages: the last one's model is packaged)
  WORK/run/train_log.jsonl, WORK/run/clock.txt ("<unix time> <log lines>" every 30 s), WORK/run/run.json
  WORK/prep              prepare.py's output (test/, ood/, prepare.json)
  WORK/data              `xling data catalogs` output (manifest.json)

Writes OUT/ (weights as fp16 safetensors, tokenizer, sentence-transformers modules), OUT/eval/
(suite.json over the committed test split and the out-of-domain test, results.json/md from
`xling eval`, fertility.json/md), OUT/training/ (log, data preparation summary, learning curve),
OUT/manifest.json (every catalog file read: package, path, sha256) and OUT/README.md (model card).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MIN_TEST_ROWS = 100


def run(cmd):
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def languages_with(folder, min_rows):
    out = {}
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            n = sum(1 for l in f if l.strip())
        if n >= min_rows:
            out[name[:-6]] = n
    return out


def learning_curve(run_dir):
    log = [json.loads(l) for l in open(os.path.join(run_dir, "train_log.jsonl"), encoding="utf-8")]
    clock = []
    path = os.path.join(run_dir, "clock.txt")
    if os.path.exists(path):
        for l in open(path):
            t, _, n = l.strip().partition(" ")
            if n:
                clock.append((int(t), int(n)))
    evals, line_of_eval = [], []
    for i, r in enumerate(log):
        if "eval" in r:
            evals.append(r)
            line_of_eval.append(i + 1)
    t0 = None
    if clock:  # the first sample's time minus the time its lines took at the first interval's rate
        (ta, na), (tb, nb) = clock[0], clock[min(1, len(clock) - 1)]
        rate = (tb - ta) / max(1, nb - na) if nb > na else 1.0
        t0 = ta - na * rate
    curve = []
    for r, line in zip(evals, line_of_eval):
        minutes = None
        if clock:
            t = next((tt for tt, n in clock if n >= line), clock[-1][0])
            minutes = round((t - t0) / 60.0, 1)
        curve.append({"step": r["step"], "minutes": minutes, "dev_accuracy": r.get("accuracy"), "dev_mrr@10": r.get("mrr@10")})
    return curve, log


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--xling", required=True)
    ap.add_argument("--run", required=True, action="append",
                    help="a training run folder; repeat for stages (the last one's model is packaged)")
    ap.add_argument("--prep", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    src = os.path.join(a.run[-1], "model")
    out = a.out
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    skip = {"model.safetensors", "optimizer.safetensors", "trainer_state.json"}
    for name in os.listdir(src):
        p = os.path.join(src, name)
        if name in skip or name.startswith("checkpoint-") or name == "best":
            continue
        (shutil.copytree if os.path.isdir(p) else shutil.copy2)(p, os.path.join(out, name))
    run([a.xling, "convert", "--model", src, "--output", os.path.join(out, "model.safetensors"), "--dtype", "f16",
         "--metadata", "format=pt", "--metadata", "xling_model=xling-mini"])

    # Evaluation data and suite: the committed test split (languages with >= MIN_TEST_ROWS pairs) and the
    # out-of-domain test (programs held out of training), both directions.
    ev = os.path.join(out, "eval")
    for sub in ("test", "ood"):
        langs = languages_with(os.path.join(a.prep, sub), MIN_TEST_ROWS)
        os.makedirs(os.path.join(ev, sub))
        for l in langs:
            shutil.copy2(os.path.join(a.prep, sub, l + ".jsonl"), os.path.join(ev, sub, l + ".jsonl"))
    test_langs = languages_with(os.path.join(ev, "test"), 1)
    ood_langs = languages_with(os.path.join(ev, "ood"), 1)
    tasks = []
    for name, folder, langs in (("catalog", "test", test_langs), ("out-of-domain", "ood", ood_langs)):
        files = {l: f"{folder}/{l}.jsonl" for l in langs}
        tasks.append({"name": f"{name} en->x", "type": "bitext-mining", "metrics": ["accuracy", "f1"],
                      "languages": files, "fields": {"source": "en", "target": "text"}, "worst_k": 10})
        tasks.append({"name": f"{name} x->en", "type": "bitext-mining", "metrics": ["accuracy", "f1"],
                      "languages": files, "fields": {"source": "text", "target": "en"}, "worst_k": 10})
    with open(os.path.join(ev, "suite.json"), "w") as f:
        json.dump({"name": "xling-mini held-out bitext retrieval", "tasks": tasks}, f, indent=1)
    run([a.xling, "eval", "--config", os.path.join(ev, "suite.json"), "--model", out, "--output-dir", ev, "-q"])
    os.remove(os.path.join(ev, "report.html"))  # regenerated by anyone with `xling eval`; keeps the repo small
    run([sys.executable, os.path.join(HERE, "fertility.py"), "--xling", a.xling, "--model", out, "--test",
         os.path.join(ev, "test"), "--out", os.path.join(ev, "fertility.json"), "--md", os.path.join(ev, "fertility.md")])

    tr = os.path.join(out, "training")
    os.makedirs(tr)
    # Stages one after the other: steps and minutes continue from the previous stage.
    curve, step0, min0, stages = [], 0, 0.0, []
    for k, run_dir in enumerate(a.run):
        c, log = learning_curve(run_dir)
        if k > 0 and c and c[0]["step"] == 0:
            c = c[1:]  # the start of a later stage is the end of the previous one
        for e in c:
            e["stage"] = k + 1
            e["step"] += step0
            if e["minutes"] is not None:
                e["minutes"] = round(e["minutes"] + min0, 1)
        curve += c
        info = {}
        if os.path.exists(os.path.join(run_dir, "run.json")):
            info = json.load(open(os.path.join(run_dir, "run.json")))
        stages.append(info)
        steps = max((r["step"] for r in log if "step" in r and "eval" not in r), default=0)
        step0 += steps
        min0 += info.get("minutes", 0.0)
        suffix = "" if len(a.run) == 1 else f"_stage{k + 1}"
        shutil.copy2(os.path.join(run_dir, "train_log.jsonl"), os.path.join(tr, f"train_log{suffix}.jsonl"))
    with open(os.path.join(tr, "learning_curve.json"), "w") as f:
        json.dump(curve, f, indent=1)
    total = {"steps": sum(s.get("steps", 0) for s in stages), "batch_size": stages[-1].get("batch_size"),
             "seconds": sum(s.get("seconds", 0) for s in stages), "minutes": round(min0, 1),
             "hardware": stages[-1].get("hardware"), "margin": stages[-1].get("margin"),
             "scale": stages[-1].get("scale"), "stages": stages}
    with open(os.path.join(tr, "run.json"), "w") as f:
        json.dump(total, f, indent=1)
    shutil.copy2(os.path.join(a.prep, "prepare.json"), os.path.join(tr, "prepare.json"))
    shutil.copy2(os.path.join(a.data, "manifest.json"), os.path.join(out, "manifest.json"))
    run([sys.executable, os.path.join(HERE, "model_card.py"), out])


if __name__ == "__main__":
    main()
