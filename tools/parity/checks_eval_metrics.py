"""Parity of xling's evaluation metrics (src/metrics/) with the Python references on fresh
random data: scikit-learn (classification), scipy (correlation), torchmetrics (retrieval),
pytrec_eval (trec_eval map_cut / ndcg_cut), seqeval (entity F1), the MTEB bitext-mining
protocol (sentence-transformers cos_sim + torch.topk + sklearn) and LASER's xSIM (faiss).

The C++ side runs through the test-only binary xling_metrics_probe (tests/unit/
metrics_probe_main.cpp): one JSON request list on stdin, one JSON result list on stdout.
It is looked up in $XLING_METRICS_PROBE, next to --xling, then under build/.

Known, documented differences are asserted rather than skipped: seqeval's macro average is
NaN with no entity at all (xling: equal to micro); torch orders tied scores in an
unspecified way, so the binary torchmetrics metrics are compared on tie-free scores only.
"""
import json
import math
import os
import subprocess
import warnings

import numpy as np

from harness import check

warnings.filterwarnings("ignore")

REL_F64 = 1e-9  # float64 references (sklearn, scipy, pytrec_eval, seqeval)
REL_F32 = 1e-5  # float32 references (torchmetrics: float32 sums over up to ~30 items, seen 1.3e-6 off); near 0: 1e-7 absolute
ABS_F32 = 1e-7


def _probe_path(ctx):
    candidates = [os.environ.get("XLING_METRICS_PROBE", ""),
                  os.path.join(os.path.dirname(ctx.xling), "xling_metrics_probe"),
                  "build/bin/xling_metrics_probe", "build/tests/xling_metrics_probe", "build/xling_metrics_probe"]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    raise AssertionError("xling_metrics_probe not found (build the CMake target xling_metrics_probe "
                         "or set XLING_METRICS_PROBE)")


def probe(ctx, requests):
    p = subprocess.run([_probe_path(ctx)], input=json.dumps({"requests": requests}).encode(),
                       capture_output=True)
    if p.returncode != 0:
        raise AssertionError(f"xling_metrics_probe exited {p.returncode}: {p.stderr.decode(errors='replace')}")
    results = json.loads(p.stdout)["results"]
    assert len(results) == len(requests), (len(results), len(requests))
    return results


class Compare:
    """Counts compared values; collects mismatches with enough context to reproduce."""

    def __init__(self, rel, abs_floor=1e-12):
        self.rel = rel
        self.abs_floor = abs_floor
        self.n = 0
        self.bad = []

    def value(self, what, ours, ref, rel=None, abs_floor=None):
        rel = self.rel if rel is None else rel
        abs_floor = self.abs_floor if abs_floor is None else abs_floor
        self.n += 1
        ref = float(ref) if ref is not None else float("nan")
        ours = float("nan") if ours is None else float(ours)
        if math.isnan(ref) or math.isnan(ours):
            ok = math.isnan(ref) and math.isnan(ours)
        else:
            ok = abs(ours - ref) <= rel * abs(ref) or abs(ours - ref) <= abs_floor
        if not ok:
            self.bad.append(f"{what}: xling {ours!r} vs reference {ref!r}")

    def exact(self, what, ours, ref):
        self.n += 1
        if ours != ref:
            self.bad.append(f"{what}: xling {ours!r} vs reference {ref!r}")

    def done(self, label):
        if self.bad:
            raise AssertionError(f"{len(self.bad)} of {self.n} values differ:\n  " + "\n  ".join(self.bad[:20]))
        return f"{self.n} values match ({label})"


# ---------------------------------------------------------------- classification

@check
def eval_metrics_classification_vs_sklearn(ctx):
    """accuracy, P/R/F1 (micro/macro/weighted/binary, zero_division 0/1/NaN), MCC, kappa (3 weightings)."""
    from sklearn import metrics as M
    rng = np.random.default_rng(ctx.seed)
    cases, requests = [], []
    for trial in range(300):
        n = int(rng.integers(1, 80))
        n_labels = int(rng.integers(1, 7))
        pool = rng.choice(np.arange(-3, 12), size=n_labels, replace=False)
        t = rng.choice(pool, size=n).tolist()
        noise = rng.random()
        p = [x if rng.random() > noise else int(rng.choice(pool)) for x in t]
        if trial % 10 == 0:
            p = [int(rng.choice(pool))] * n  # one predicted class
        zd = [0.0, 1.0, float("nan")][trial % 3]
        labels = sorted(set(t) | set(p))
        binary = len(labels) <= 2
        pos = int(labels[-1]) if binary and rng.random() < 0.5 else 1
        if binary and pos not in labels and len(labels) == 2:
            pos = int(labels[0])
        req = {"metric": "classification", "y_true": t, "y_pred": p, "binary": binary, "pos_label": pos,
               "zero_division": "nan" if math.isnan(zd) else zd}  # JSON has no NaN literal
        cases.append((t, p, zd, binary, pos))
        requests.append(req)
    results = probe(ctx, requests)
    c = Compare(REL_F64)
    for (t, p, zd, binary, pos), r in zip(cases, results):
        assert "error" not in r, r
        zd_ref = np.nan if math.isnan(zd) else zd
        tag = f"y_true={t} y_pred={p} zd={zd}"
        c.value(f"accuracy {tag}", r["accuracy"], M.accuracy_score(t, p))
        c.value(f"mcc {tag}", r["mcc"], M.matthews_corrcoef(t, p))
        c.value(f"kappa {tag}", r["kappa"], M.cohen_kappa_score(t, p))
        c.value(f"kappa_linear {tag}", r["kappa_linear"], M.cohen_kappa_score(t, p, weights="linear"))
        c.value(f"kappa_quadratic {tag}", r["kappa_quadratic"], M.cohen_kappa_score(t, p, weights="quadratic"))
        for avg in ["micro", "macro", "weighted"] + (["binary"] if binary else []):
            kw = {"pos_label": pos} if avg == "binary" else {}
            ref = M.precision_recall_fscore_support(t, p, average=avg, zero_division=zd_ref, **kw)
            for i, name in enumerate(["precision", "recall", "f1"]):
                c.value(f"{avg} {name} {tag}", r[avg][name], ref[i])
    return c.done("sklearn " + __import__("sklearn").__version__)


@check
def eval_metrics_multilabel_vs_sklearn(ctx):
    """Multi-label P/R/F1 (micro/macro/weighted/samples), subset accuracy, Hamming loss via MultiLabelBinarizer."""
    from sklearn import metrics as M
    from sklearn.preprocessing import MultiLabelBinarizer
    rng = np.random.default_rng(ctx.seed + 1)
    cases, requests = [], []
    for trial in range(150):
        n = int(rng.integers(1, 30))
        pool = list(range(int(rng.integers(2, 8))))
        t = [sorted(set(rng.choice(pool, size=int(rng.integers(0, 4))).tolist())) for _ in range(n)]
        p = [sorted(set(rng.choice(pool, size=int(rng.integers(0, 4))).tolist())) for _ in range(n)]
        # sklearn reads a one-column indicator matrix as binary input: keep >= 2 labels.
        t[0] = sorted(set(t[0]) | {pool[0]})
        p[0] = sorted(set(p[0]) | {pool[1]})
        zd = float(trial % 2)
        cases.append((t, p, zd))
        requests.append({"metric": "multilabel", "y_true": t, "y_pred": p, "zero_division": zd})
    results = probe(ctx, requests)
    c = Compare(REL_F64)
    for (t, p, zd), r in zip(cases, results):
        assert "error" not in r, r
        mlb = MultiLabelBinarizer().fit(t + p)
        T, P = mlb.transform(t), mlb.transform(p)
        tag = f"y_true={t} y_pred={p} zd={zd}"
        c.value(f"subset_accuracy {tag}", r["subset_accuracy"], M.accuracy_score(T, P))
        c.value(f"hamming {tag}", r["hamming_loss"], M.hamming_loss(T, P))
        for avg in ["micro", "macro", "weighted", "samples"]:
            ref = M.precision_recall_fscore_support(T, P, average=avg, zero_division=zd)
            for i, name in enumerate(["precision", "recall", "f1"]):
                c.value(f"{avg} {name} {tag}", r[avg][name], ref[i])
    return c.done("sklearn")


# ---------------------------------------------------------------- correlation

@check
def eval_metrics_correlation_vs_scipy(ctx):
    """Pearson, Spearman (average ranks), Kendall tau-b on random data with ties and constant inputs."""
    from scipy import stats
    rng = np.random.default_rng(ctx.seed + 2)
    cases, requests = [], []
    for trial in range(200):
        n = int(rng.integers(2, 400))
        x = rng.normal(size=n)
        y = 0.7 * x + rng.normal(size=n) * rng.random()
        if trial % 3 == 0:
            x, y = np.round(x, 1), np.round(y, 0)  # many ties
        if trial % 25 == 0:
            y = np.full(n, 3.0)  # constant: undefined
        if trial % 7 == 0:
            x = x * 1e6 + 1e9  # large offset
        cases.append((x, y))
        requests.append({"metric": "correlation", "x": x.tolist(), "y": y.tolist()})
    results = probe(ctx, requests)
    c = Compare(REL_F64)
    for (x, y), r in zip(cases, results):
        tag = f"n={len(x)}"
        const = np.all(x == x[0]) or np.all(y == y[0])
        c.value(f"pearson {tag}", r["pearson"], float("nan") if const else stats.pearsonr(x, y).statistic, rel=1e-9)
        c.value(f"spearman {tag}", r["spearman"], stats.spearmanr(x, y).statistic)
        c.value(f"kendall {tag}", r["kendall_tau_b"], stats.kendalltau(x, y).statistic)
    return c.done("scipy " + __import__("scipy").__version__)


# ---------------------------------------------------------------- retrieval

def _random_query(rng, ties=False, allow_negative=True):
    n = int(rng.integers(1, 60))
    if ties:
        scores = np.round(rng.random(n), 1).astype(np.float32)
    else:
        scores = rng.permutation(np.arange(1, n + 1)).astype(np.float32) / np.float32(n + 1)
        scores = (scores + np.float32(rng.random() * 1e-3)).astype(np.float32)
        if allow_negative and rng.random() < 0.3:
            scores = (scores - np.float32(0.5)).astype(np.float32)
        assert len(set(scores.tolist())) == n
    rel = rng.integers(0, 4, size=n) * (rng.random(n) < rng.random())
    if rng.random() < 0.1:
        rel[:] = 0
    return scores, rel.astype(np.int64)


@check
def eval_metrics_retrieval_vs_torchmetrics(ctx):
    """nDCG@k (graded, tie-averaged), MRR@k, Recall@k, MAP@k, P@k (+adaptive) per query; torchmetrics functional."""
    import torch
    import torchmetrics
    from sklearn.metrics import ndcg_score
    from torchmetrics.functional import retrieval as R
    rng = np.random.default_rng(ctx.seed + 3)
    cases, requests = [], []
    for trial in range(400):
        ties = trial % 4 == 0
        scores, rel = _random_query(rng, ties=ties)
        k = None if trial % 5 == 0 else int(rng.integers(1, 70))
        cases.append((scores, rel, k, ties))
        requests.append({"metric": "retrieval", "scores": scores.astype(np.float64).tolist(),
                         "relevance": rel.tolist(), "k": k})
    results = probe(ctx, requests)
    c, c64 = Compare(REL_F32, ABS_F32), Compare(REL_F64)
    for (scores, rel, k, ties), r in zip(cases, results):
        assert "error" not in r, r
        p, t = torch.tensor(scores), torch.tensor(rel)
        b = (t > 0).long()
        tag = f"scores={scores.tolist()} rel={rel.tolist()} k={k}"
        # torchmetrics' tie-averaged DCG takes differences of a float32 cumsum: it loses up to
        # ~1e-6 absolute on lists of 60; sklearn's ndcg_score is the same algorithm in float64.
        c.value(f"ndcg {tag}", r["ndcg"], R.retrieval_normalized_dcg(p, t, top_k=k).item(), abs_floor=1e-6)
        if len(scores) > 1:
            c64.value(f"ndcg (sklearn float64) {tag}", r["ndcg"],
                      ndcg_score([rel], [scores.astype(np.float64)], k=k, ignore_ties=False))
        if ties:
            continue  # torch orders ties arbitrarily for the binary metrics (documented)
        c.value(f"mrr {tag}", r["mrr"], R.retrieval_reciprocal_rank(p, b, top_k=k).item())
        c.value(f"recall {tag}", r["recall"], R.retrieval_recall(p, b, top_k=k).item())
        c.value(f"map {tag}", r["map"], R.retrieval_average_precision(p, b, top_k=k).item())
        c.value(f"precision {tag}", r["precision"], R.retrieval_precision(p, b, top_k=k).item())
        c.value(f"precision_adaptive {tag}", r["precision_adaptive"],
                R.retrieval_precision(p, b, top_k=k, adaptive_k=True).item())
    return c.done("torchmetrics " + torchmetrics.__version__) + "; " + c64.done("nDCG vs sklearn ndcg_score")


@check
def eval_metrics_retrieval_means_vs_torchmetrics_modules(ctx):
    """Means over queries with each empty_target_action, against torchmetrics' Retrieval* modules."""
    import torch
    from torchmetrics import retrieval as RM
    rng = np.random.default_rng(ctx.seed + 4)
    c = Compare(REL_F32, ABS_F32)
    requests, refs = [], []
    for trial in range(40):
        queries = [_random_query(rng) for _ in range(int(rng.integers(1, 12)))]
        k = None if trial % 4 == 0 else int(rng.integers(1, 30))
        action = ["neg", "pos", "skip"][trial % 3]
        idx = torch.cat([torch.full((len(s),), i) for i, (s, _) in enumerate(queries)])
        p = torch.cat([torch.tensor(s) for s, _ in queries])
        t = torch.cat([torch.tensor(r) for _, r in queries])
        ref = {}
        for name, cls, target in [("ndcg", RM.RetrievalNormalizedDCG, t), ("mrr", RM.RetrievalMRR, t > 0),
                                  ("recall", RM.RetrievalRecall, t > 0), ("map", RM.RetrievalMAP, t > 0),
                                  ("precision", RM.RetrievalPrecision, t > 0)]:
            m = cls(top_k=k, empty_target_action=action)
            ref[name] = m(p, target, indexes=idx).item()
        refs.append((ref, k, action))
        requests.append({"metric": "retrieval_mean", "k": k, "empty_target_action": action,
                         "queries": [{"scores": s.astype(np.float64).tolist(), "relevance": r.tolist()}
                                     for s, r in queries]})
    for (ref, k, action), r in zip(refs, probe(ctx, requests)):
        assert "error" not in r, r
        for name, v in ref.items():
            c.value(f"{name} k={k} action={action}", r[name], v)
    return c.done("torchmetrics modules")


@check
def eval_metrics_trec_vs_pytrec_eval(ctx):
    """trec_eval map_cut@k / ndcg_cut@k (as MTEB reports them) incl. ties broken by document id, float32 scores."""
    import pytrec_eval
    rng = np.random.default_rng(ctx.seed + 5)
    cases, requests = [], []
    for trial in range(300):
        scores, rel = _random_query(rng, ties=trial % 2 == 0)
        scores = scores.astype(np.float64) + (rng.random(len(scores)) * 1e-10 if trial % 5 == 0 else 0.0)
        k = int(rng.integers(1, 70))
        ids = None
        if trial % 3 == 0:
            ids = [f"d{int(x)}" for x in rng.permutation(10 * len(scores))[:len(scores)]]
        cases.append((scores, rel, k, ids))
        req = {"metric": "retrieval", "scores": scores.tolist(), "relevance": rel.tolist(), "k": k}
        if ids:
            req["doc_ids"] = ids
        requests.append(req)
    c = Compare(REL_F64)
    for (scores, rel, k, ids), r in zip(cases, probe(ctx, requests)):
        assert "error" not in r, r
        names = ids or [str(i) for i in range(len(scores))]
        qrel = {"q": {d: int(x) for d, x in zip(names, rel)}}
        run = {"q": {d: float(s) for d, s in zip(names, scores)}}
        ev = pytrec_eval.RelevanceEvaluator(qrel, {f"map_cut.{k}", f"ndcg_cut.{k}"})
        ref = ev.evaluate(run)["q"]
        tag = f"scores={scores.tolist()} rel={rel.tolist()} k={k} ids={ids}"
        c.value(f"map_cut {tag}", r["trec_map_cut"], ref[f"map_cut_{k}"])
        c.value(f"ndcg_cut {tag}", r["trec_ndcg_cut"], ref[f"ndcg_cut_{k}"])
    return c.done("pytrec_eval")


# ---------------------------------------------------------------- seqeval

def _random_tags(rng, n, types, scheme_tags):
    out = []
    for _ in range(n):
        tag = rng.choice(scheme_tags)
        out.append("O" if tag == "O" else f"{tag}-{rng.choice(types)}")
    return out


def _iob2_like(rng, n, types):
    """Mostly well-formed IOB2 with some broken spans (I- after O, type switches)."""
    tags, i = [], 0
    while i < n:
        if rng.random() < 0.5:
            tags.append("O")
            i += 1
            continue
        typ = rng.choice(types)
        length = int(rng.integers(1, 4))
        first = "B" if rng.random() < 0.85 else "I"
        tags.append(f"{first}-{typ}")
        for _ in range(length - 1):
            if len(tags) >= n:
                break
            tags.append(f"I-{typ if rng.random() < 0.9 else rng.choice(types)}")
        i = len(tags)
    return tags[:n]


def _perturb(rng, sent, types):
    out = list(sent)
    for j in range(len(out)):
        if rng.random() < 0.15:
            out[j] = rng.choice(["O", f"B-{rng.choice(types)}", f"I-{rng.choice(types)}"])
    return out


@check
def eval_metrics_seqeval_default_and_strict(ctx):
    """Entity P/R/F1 per type and micro/macro/weighted, default and strict IOB2 modes, zero_division 0/1."""
    import seqeval
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2
    rng = np.random.default_rng(ctx.seed + 6)
    types = ["PER", "LOC", "ORG", "MISC"]
    cases, requests = [], []
    for trial in range(200):
        n_sent = int(rng.integers(1, 8))
        t = [_iob2_like(rng, int(rng.integers(0, 12)), types[: int(rng.integers(1, 5))]) for _ in range(n_sent)]
        p = [_perturb(rng, s, types) for s in t]
        if trial % 20 == 0:
            t = [["O"] * len(s) for s in t]
            p = [["O"] * len(s) for s in p] if trial % 40 == 0 else p
        mode = "strict" if trial % 2 else "default"
        if mode == "default" and trial % 6 == 0:
            t = [_random_tags(rng, len(s), types, ["O", "B", "I", "E", "S"]) for s in t]  # IOBES for the lenient parser
        zd = float((trial // 2) % 2)
        cases.append((t, p, mode, zd))
        requests.append({"metric": "seqeval", "y_true": t, "y_pred": p, "mode": mode, "zero_division": zd})
    c = Compare(REL_F64)
    nan_macro = 0
    for (t, p, mode, zd), r in zip(cases, probe(ctx, requests)):
        assert "error" not in r, r
        kw = {"mode": "strict", "scheme": IOB2} if mode == "strict" else {}
        ref = classification_report(t, p, output_dict=True, zero_division=int(zd), **kw)
        tag = f"mode={mode} zd={zd} y_true={t} y_pred={p}"
        for key, row in ref.items():
            ours = {"micro avg": r["micro"], "macro avg": r["macro"], "weighted avg": r["weighted"]}.get(key)
            if ours is None:
                ours = r["per_type"].get(key)
                if ours is None:
                    c.bad.append(f"type {key} missing: {tag}")
                    continue
            if key == "macro avg" and math.isnan(row["f1-score"]):
                nan_macro += 1  # documented: seqeval NaN (no entity at all), xling = micro
                for name in ["precision", "recall", "f1"]:
                    c.value(f"macro=micro {name} {tag}", ours[name], r["micro"][name])
                continue
            for name, ref_name in [("precision", "precision"), ("recall", "recall"), ("f1", "f1-score")]:
                c.value(f"{key} {name} {tag}", ours[name], row[ref_name])
            c.exact(f"{key} support {tag}", ours["support"], int(row["support"]))
        c.exact(f"types {tag}", sorted(r["per_type"]), sorted(k for k in ref if not k.endswith(" avg")))
    return c.done(f"seqeval {seqeval.__version__ if hasattr(seqeval, '__version__') else '1.2.2'}; "
                  f"{nan_macro} all-O cases where seqeval's macro is NaN")


@check
def eval_metrics_seqeval_strict_rejects_non_iob2(ctx):
    """Strict IOB2 rejects E-/S-/unknown prefixes like seqeval (which raises); default mode accepts them."""
    from seqeval.metrics import f1_score
    from seqeval.scheme import IOB2
    bad = [[["B-PER", "E-PER"]], [["S-LOC"]], [["X-PER"]], [["U-ORG", "O"]]]
    requests = []
    for s in bad:
        requests.append({"metric": "seqeval", "y_true": s, "y_pred": s, "mode": "strict"})
        requests.append({"metric": "seqeval", "y_true": s, "y_pred": s, "mode": "default"})
    results = probe(ctx, requests)
    for i, s in enumerate(bad):
        strict, default = results[2 * i], results[2 * i + 1]
        try:
            f1_score(s, s, mode="strict", scheme=IOB2)
            raise AssertionError(f"seqeval accepted {s}")
        except (ValueError, KeyError):
            pass
        assert strict.get("error") == "InvalidArgument", (s, strict)
        assert "error" not in default, (s, default)
        assert abs(default["micro"]["f1"] - f1_score(s, s)) < 1e-12, (s, default, f1_score(s, s))
    return f"{len(bad)} non-IOB2 inputs rejected in strict mode, scored in default mode"


# ---------------------------------------------------------------- mining

@check
def eval_metrics_bitext_mining_vs_mteb_protocol(ctx):
    """MTEB BitextMiningEvaluator: cos_sim + torch.topk(1) + sklearn weighted P/R/F1 and accuracy."""
    import torch
    from sentence_transformers.util import cos_sim
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score
    rng = np.random.default_rng(ctx.seed + 7)
    cases, requests = [], []
    for trial in range(30):
        n, dim = int(rng.integers(2, 80)), int(rng.integers(2, 48))
        src = rng.normal(size=(n, dim)).astype(np.float32)
        noise = rng.random() * 2
        tgt = (src + noise * rng.normal(size=(n, dim))).astype(np.float32)
        gold = None
        if trial % 3 == 0:
            perm = rng.permutation(n)
            tgt = tgt[np.argsort(perm)]  # source i translates target perm[i]
            gold = perm.tolist()
        cases.append((src, tgt, gold))
        req = {"metric": "bitext_mining", "source": src.tolist(), "target": tgt.tolist()}
        if gold is not None:
            req["gold"] = gold
        requests.append(req)
    c = Compare(REL_F64)
    for (src, tgt, gold), r in zip(cases, probe(ctx, requests)):
        assert "error" not in r, r
        sims = cos_sim(torch.tensor(src), torch.tensor(tgt))
        pred = torch.topk(sims, 1, dim=1).indices[:, 0].tolist()
        labels = gold if gold is not None else list(range(len(src)))
        c.exact(f"predictions n={len(src)}", r["predictions"], pred)
        c.value("accuracy", r["accuracy"], accuracy_score(labels, pred))
        c.value("precision", r["precision"], precision_score(labels, pred, zero_division=0, average="weighted"))
        c.value("recall", r["recall"], recall_score(labels, pred, zero_division=0, average="weighted"))
        c.value("f1", r["f1"], f1_score(labels, pred, zero_division=0, average="weighted"))
    return c.done("sentence-transformers cos_sim + sklearn")


def _laser_xsim(x, y, margin, k):
    """LASER source/xsim.py semantics: faiss IndexFlatIP on L2-normalised float32 rows."""
    import faiss
    x, y = x.copy(), y.copy()
    faiss.normalize_L2(x)
    faiss.normalize_L2(y)
    ix, iy = faiss.IndexFlatIP(x.shape[1]), faiss.IndexFlatIP(y.shape[1])
    ix.add(x)
    iy.add(y)
    if margin == "absolute":
        _, nn = iy.search(x, 1)
        pred = nn[:, 0]
    else:
        dxy, ixy = iy.search(x, k)
        dyx, _ = ix.search(y, k)
        ax, ay = dxy.mean(axis=1), dyx.mean(axis=1)
        b = (ax[:, None] + ay[ixy]) / 2
        scores = dxy / b if margin == "ratio" else dxy - b
        pred = ixy[np.arange(len(x)), scores.argmax(axis=1)]
    return pred.tolist(), int(len(x) - np.sum(pred == np.arange(len(x))))


def _margin_score64(x, y, margin, k):
    """score(i, j): the xSIM margin score of source i and target j in float64 (LASER's formula:
    cosine, less or divided by the mean cosine of both sides' k nearest neighbours)."""
    x = x.astype(np.float64) / np.linalg.norm(x.astype(np.float64), axis=1, keepdims=True)
    y = y.astype(np.float64) / np.linalg.norm(y.astype(np.float64), axis=1, keepdims=True)
    sim = x @ y.T
    ax = -np.sort(-sim, axis=1)[:, :k].mean(axis=1)
    ay = -np.sort(-sim.T, axis=1)[:, :k].mean(axis=1)

    def score(i, j):
        if margin == "absolute":
            return float(sim[i, j])
        b = (ax[i] + ay[j]) / 2
        return float(sim[i, j] / b if margin == "ratio" else sim[i, j] - b)
    return score


@check
def eval_metrics_xsim_vs_laser(ctx):
    """xSIM error counts and predictions (ratio / distance margin, plain cosine) against LASER's faiss recipe."""
    import faiss  # noqa: F401  (fails the check clearly when faiss-cpu is missing)
    rng = np.random.default_rng(ctx.seed + 8)
    c = Compare(REL_F64)
    cases, requests = [], []
    for trial in range(45):
        n, dim = int(rng.integers(2, 70)), int(rng.integers(2, 32))
        src = rng.normal(size=(n, dim)).astype(np.float32)
        hub = rng.normal(size=dim).astype(np.float32)
        tgt = (src + rng.random() * 1.5 * rng.normal(size=(n, dim)) + rng.random() * hub).astype(np.float32)
        margin = ["ratio", "distance", "absolute"][trial % 3]
        k = min(int(rng.integers(1, 8)), n) if trial % 2 else min(4, n)
        cases.append((src, tgt, margin, k))
        requests.append({"metric": "xsim", "source": src.tolist(), "target": tgt.tolist(), "margin": margin, "k": k})
    for (src, tgt, margin, k), r in zip(cases, probe(ctx, requests)):
        assert "error" not in r, r
        pred, err = _laser_xsim(src, tgt, margin, k)
        ours = list(r["predictions"])
        # faiss scores in float32: where two candidates tie to float32 rounding the reference may
        # pick either. A different pick counts as equal when both score the same in float64.
        score = _margin_score64(src, tgt, margin, k)
        ties = [i for i, (a, b) in enumerate(zip(ours, pred))
                if a != b and abs(score(i, a) - score(i, b)) <= 1e-5 * max(1.0, abs(score(i, b)))]
        for i in ties:
            pred[i] = ours[i]
        err = int(len(src) - sum(p == i for i, p in enumerate(pred)))
        c.exact(f"xsim predictions margin={margin} k={k} n={len(src)}", ours, pred)
        c.exact(f"xsim errors margin={margin} k={k} n={len(src)}", r["errors"], err)
    return c.done("faiss " + __import__("faiss").__version__)


# ---------------------------------------------------------------- cross-lingual

@check
def eval_metrics_cross_lingual_summaries(ctx):
    """Item-weighted / macro means, worst-k, transfer gap and consistency against numpy."""
    rng = np.random.default_rng(ctx.seed + 9)
    c = Compare(REL_F64)
    cases, requests = [], []
    for trial in range(50):
        langs = [f"l{i}" for i in rng.permutation(20)[: int(rng.integers(2, 12))]]
        scores = np.round(rng.random(len(langs)), 2)
        counts = rng.integers(1, 500, size=len(langs))
        preds = rng.integers(0, 2 + trial % 3, size=(len(langs), int(rng.integers(1, 40))))
        wk = int(rng.integers(1, 6))
        cases.append((langs, scores, counts, preds, wk))
        requests.append({"metric": "cross_lingual", "worst_k": wk, "source_language": langs[0],
                         "scores": [{"language": lang, "score": float(s), "count": int(n)}
                                    for lang, s, n in zip(langs, scores, counts)],
                         "predictions": preds.tolist()})
    for (langs, scores, counts, preds, wk), r in zip(cases, probe(ctx, requests)):
        assert "error" not in r, r
        c.value("item_weighted_mean", r["item_weighted_mean"], float(np.sum(scores * counts) / np.sum(counts)))
        c.value("macro_mean", r["macro_mean"], float(np.mean(scores)))
        c.value("transfer_gap", r["transfer_gap"], float(scores[0] - np.mean(scores[1:])))
        worst = sorted(zip(scores.tolist(), langs))[:wk]
        c.exact("worst", r["worst"], [lang for _, lang in worst])
        c.value("consistency", r["consistency"], float(np.mean(np.all(preds == preds[0], axis=0))))
    return c.done("numpy")
