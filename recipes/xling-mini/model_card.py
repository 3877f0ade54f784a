#!/usr/bin/env python3
"""Write MODEL_DIR/README.md (the model card) from the files package.py put there:
eval/results.json, eval/fertility.json, training/learning_curve.json, training/prepare.json,
training/run.json, config.json, manifest.json.

    model_card.py MODEL_DIR
"""
import json
import os
import sys


def load(path, default=None):
    if not os.path.exists(path):
        return default
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def pct(x):
    return f"{100 * x:.1f}"


def main():
    d = sys.argv[1]
    cfg = load(os.path.join(d, "config.json"))
    res = load(os.path.join(d, "eval", "results.json"))
    fert = load(os.path.join(d, "eval", "fertility.json"), {})
    curve = load(os.path.join(d, "training", "learning_curve.json"), [])
    prep = load(os.path.join(d, "training", "prepare.json"), {})
    runinfo = load(os.path.join(d, "training", "run.json"), {})
    manifest = load(os.path.join(d, "manifest.json"), {})
    tasks = {t["name"]: t for t in res["tasks"]}
    size_mb = os.path.getsize(os.path.join(d, "model.safetensors")) / 1e6

    def both(prefix):
        a, b = tasks[f"{prefix} en->x"]["metrics"][0], tasks[f"{prefix} x->en"]["metrics"][0]
        rows = {}
        for lang, v in a["per_language"].items():
            w = b["per_language"][lang]
            rows[lang] = (v["items"], v["value"], w["value"], (v["value"] + w["value"]) / 2)
        mean = sum(r[3] for r in rows.values()) / len(rows)
        return rows, mean

    test_rows, test_mean = both("catalog")
    ood_rows, ood_mean = both("out-of-domain")
    at90 = sum(1 for r in test_rows.values() if r[3] >= 0.9)
    same = [test_rows[l][3] for l in ood_rows if l in test_rows]
    ind_same = sum(same) / len(same) if same else float("nan")
    worst = sorted(test_rows.items(), key=lambda kv: kv[1][3])[:10]
    files = manifest.get("files", [])
    read = [f for f in files if not f.get("skipped")]
    packages = sorted(set(f.get("package", "") for f in read))

    L = []
    L.append("# xling-mini")
    L.append("")
    L.append("A small multilingual sentence encoder that **xling trained itself**, from scratch, on the human "
             "translations of program messages that a Debian machine carries (gettext catalogs). It is xling's "
             "embedded default model (`--model` defaults to it) and the reference recipe for training a "
             "LaBSE-style dual encoder with xling (`make default-model`, recipes/xling-mini/).")
    L.append("")
    L.append("| | |")
    L.append("|---|---|")
    L.append(f"| architecture | XLM-R (`XLMRobertaModel`): {cfg['num_hidden_layers']} layers, hidden {cfg['hidden_size']}, "
             f"{cfg['num_attention_heads']} heads, FFN {cfg['intermediate_size']}; mean pooling + normalize "
             f"(sentence-transformers layout) |")
    L.append(f"| vocabulary | {cfg['vocab_size']} Unigram pieces (sentencepiece `spm_train` on the training split, "
             f"exported as an XLM-R `tokenizer.json`) |")
    L.append(f"| size | {size_mb:.1f} MB (fp16 safetensors) |")
    L.append(f"| max length | 64 tokens (longer texts are truncated; positions beyond were never trained) |")
    L.append(f"| languages | {len(prep.get('train_pairs_available', {}))} in training; evaluated on {len(test_rows)} |")
    if runinfo:
        L.append(f"| training | {runinfo.get('steps')} updates of {runinfo.get('batch_size')} pairs in "
                 f"{runinfo.get('minutes')} min on {runinfo.get('hardware')} |")
    L.append(f"| held-out bitext retrieval | mean top-1 **{pct(test_mean)}** (both directions) over {len(test_rows)} "
             f"languages; {at90} languages at >= 90 |")
    L.append(f"| out-of-domain | mean top-1 **{pct(ood_mean)}** over {len(ood_rows)} languages (programs held out of training) |")
    L.append("")
    L.append("## Use")
    L.append("")
    L.append("```sh\nbuild/bin/xling embed --input texts.txt --output emb.npy     # --model xling-mini is the default\n"
             "build/bin/xling info                                             # shows where it was found\n```")
    L.append("")
    L.append("It loads in sentence-transformers and transformers as it is "
             "(`SentenceTransformer('models/xling-mini')`, `AutoModel.from_pretrained(...)`).")
    L.append("")
    L.append("## Data")
    L.append("")
    L.append(f"`xling data catalogs` read {len(read)} `.mo` files from {len(packages)} Debian packages "
             "(`manifest.json`: package, path, sha256 of each). Messages are normalised (accelerators, markup and "
             "printf placeholders removed), English variants and English->English pairs dropped, pairs "
             "deduplicated and split into train/dev/test **by English string**, so no English string (and none of "
             "its translations) is in two splits. Test pools are capped at 1,000 pairs per language; the test split "
             "of the evaluated languages is committed in `eval/test/`.")
    L.append("")
    ood = prep.get("options", {}).get("ood_domains", "")
    L.append(f"Out-of-domain test (`eval/ood/`): all messages of the programs `{ood}`; every English string of those "
             f"programs ({prep.get('ood_english_strings_removed', '?')} strings) was removed from training, whichever "
             "program it also came from.")
    L.append("")
    L.append("## Training")
    L.append("")
    o = prep.get("options", {})
    stages = runinfo.get("stages", [runinfo])
    stage_text = "; ".join(f"stage {k + 1}: {st.get('steps')} updates in {st.get('minutes')} min"
                           for k, st in enumerate(stages))
    L.append(f"Bidirectional translation ranking with in-batch negatives and additive margin (LaBSE): `xling finetune "
             f"--task bi-encoder --loss mnrl-symmetric --margin {runinfo.get('margin', '?')} --scale "
             f"{runinfo.get('scale', '?')}`, batches of {o.get('batch_size')} English->X pairs, languages drawn with "
             f"temperature sampling (p ~ n^{o.get('alpha')}), no string twice in a batch, strings of similar length "
             f"together, bf16 autocast, AdamW with linear decay. Stage 1 starts from random weights "
             f"(`--init-from-config`, lr 5e-4); stage 2 continues it on freshly drawn batches (lr 2e-4). "
             f"{stage_text}; {runinfo.get('hardware', '')}. The exact commands are in recipes/xling-mini/recipe.sh.")
    notes = sorted(set(st["note"] for st in stages if st.get("note")))
    if notes:
        L.append("")
        L.append("Timing note: " + " ".join(notes) + ".")
    L.append("")
    if curve:
        L.append("Learning curve (dev: 4,000 held-out pairs of all languages mixed, English->X top-1 among all 4,000):")
        L.append("")
        L.append("| stage | update | minutes | dev top-1 | dev MRR@10 |")
        L.append("|---|---|---|---|---|")
        for c in curve:
            m = "" if c["minutes"] is None else f"{c['minutes']:.1f}"
            L.append(f"| {c.get('stage', 1)} | {c['step']} | {m} | {pct(c['dev_accuracy'])} | {pct(c['dev_mrr@10'])} |")
        L.append("")
    L.append("## Evaluation")
    L.append("")
    L.append("Bitext retrieval (MTEB BitextMining protocol, `xling eval --config eval/suite.json`): for each "
             "language, every sentence of one side is matched to its nearest neighbour (cosine) among all sentences "
             "of the other side of that language's test file; top-1 accuracy, both directions. Pool sizes differ by "
             "language (100 to 1,000 pairs), which makes small pools easier.")
    L.append("")
    L.append(f"Mean over {len(test_rows)} languages: **{pct(test_mean)}**; {at90} of {len(test_rows)} at >= 90. "
             f"Out-of-domain: **{pct(ood_mean)}** over {len(ood_rows)} languages, whose in-domain mean is "
             f"{pct(ind_same)} (the out-of-domain languages are mostly large ones).")
    L.append("")
    L.append("Worst 10: " + ", ".join(f"{l} {pct(r[3])}" for l, r in worst))
    L.append("")
    if fert:
        s = fert["summary"]
        e = fert["english"]
        L.append(f"Tokenizer (`eval/fertility.md`): English {e['fertility']:.2f} tokens per word; {s['parity_within_2x']} "
                 f"of {s['languages']} languages within 2x English in tokens per translated pair (parity), "
                 f"{s['fertility_within_2x']} within 2x in tokens per whitespace word.")
        L.append("")
    L.append("| language | pairs | en->x | x->en | mean | ood mean |")
    L.append("|---|---|---|---|---|---|")
    for lang, r in sorted(test_rows.items()):
        oo = ood_rows.get(lang)
        L.append(f"| {lang} | {r[0]} | {pct(r[1])} | {pct(r[2])} | {pct(r[3])} | {pct(oo[3]) if oo else ''} |")
    L.append("")
    L.append("## Limits")
    L.append("")
    L.append("- **Domain: user-interface strings.** Everything it saw is short program text (menu items, "
             "messages, language/country/keyboard names). The out-of-domain figure above is the honest "
             "expectation for other software text; for news, web or conversational text expect much less. "
             "It is a demonstration and a default, not a replacement for LaBSE or multilingual-e5.")
    L.append("- 64 tokens at most; tiny (4 layers): no world knowledge, weak on paraphrase beyond translation.")
    L.append("- Languages with few catalog messages (see `training/prepare.json`) are weak; the worst 10 above.")
    L.append("- Retrieval figures depend on the pool size of each language's test file.")
    L.append("")
    with open(os.path.join(d, "README.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(L))
    print(f"{d}/README.md: test mean {pct(test_mean)} over {len(test_rows)} languages ({at90} >= 90), "
          f"ood {pct(ood_mean)} over {len(ood_rows)}")


if __name__ == "__main__":
    main()
