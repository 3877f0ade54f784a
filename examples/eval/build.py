#!/usr/bin/env python3
"""Build the example evaluation suite from text on this machine: the human translations of
ISO country and language names that Debian ships as gettext catalogs
(/usr/share/locale/<lang>/LC_MESSAGES/iso_3166-1.mo, iso_639-2.mo).

Tasks (see suite.json): translation of country names from English (chrF++, BLEU), bitext
mining of English names among their translations, and a country-or-language
classification with parallel items in every language. Predictions come from simple,
documented baselines (xling's models for these tasks arrive with later issues):
  translation    copy the English source (the identity baseline),
  bitext mining  nearest target by character-trigram overlap with the English name,
  classification a suffix rule: a name ending like a language name (-ish, -ese, -ian, ...)
                 in its own language is "language", otherwise "country".
Run: python3 examples/eval/build.py   (writes data/ and predictions/ next to it; deterministic)
"""
import gettext
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
LOCALES = {"de": "de", "fr": "fr", "es": "es", "ru": "ru", "ja": "ja", "zh-Hans": "zh_CN", "ar": "ar", "hi": "hi",
           "tr": "tr", "pt-BR": "pt_BR"}
LANG_SUFFIXES = ("ish", "ese", "ian", "an", "ic", "i", "isch", "ais", "ois", "ès", "és", "ский", "ский язык",
                 "語", "语", "ca", "ce", "ce dili", "che")


def catalog(domain, locale):
    path = f"/usr/share/locale/{locale}/LC_MESSAGES/{domain}.mo"
    with open(path, "rb") as f:
        t = gettext.GNUTranslations(f)
    return {k: v for k, v in t._catalog.items() if isinstance(k, str) and k and v and k != v}


def write_jsonl(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def trigrams(s):
    s = f"  {s.lower()} "
    return {s[i:i + 3] for i in range(len(s) - 2)}


def main():
    rng = random.Random(13)
    countries = {loc: catalog("iso_3166-1", loc) for loc in LOCALES.values()}
    languages = {loc: catalog("iso_639-2", loc) for loc in LOCALES.values()}
    # English strings translated in every locale.
    common_c = sorted(set.intersection(*(set(c) for c in countries.values())))
    common_l = sorted(set.intersection(*(set(c) for c in languages.values())))
    common_c = sorted(rng.sample([c for c in common_c if len(c) < 40], 60))
    common_l = sorted(rng.sample([c for c in common_l if len(c) < 30], 30))

    suite = {"name": "xling example suite: ISO names from Debian's gettext catalogs", "tasks": []}
    tr_langs, mine_langs, cls_langs = {}, {}, {}
    items = [(c, "country") for c in common_c[:30]] + [(l, "language") for l in common_l]
    rng.shuffle(items)
    for lang, loc in LOCALES.items():
        # translation: English country name -> name in `lang`; prediction: copy the source.
        rows = [{"source": c, "target": countries[loc][c]} for c in common_c]
        write_jsonl(f"{HERE}/data/translation/{lang}.jsonl", rows)
        write_jsonl(f"{HERE}/predictions/country-names-mt/{lang}.jsonl", [{"translation": r["source"]} for r in rows])
        tr_langs[lang] = f"data/translation/{lang}.jsonl"
        # bitext mining: for each English name, the index of its translation among all.
        targets = [countries[loc][c] for c in common_c]
        write_jsonl(f"{HERE}/data/mining/{lang}.jsonl", [{"source": c, "target": t} for c, t in zip(common_c, targets)])
        preds = []
        for c in common_c:
            tc = trigrams(c)
            scores = [len(tc & trigrams(t)) / max(1, len(tc | trigrams(t))) for t in targets]
            preds.append({"prediction": max(range(len(targets)), key=lambda i: (scores[i], -i))})
        write_jsonl(f"{HERE}/predictions/country-names-mining/{lang}.jsonl", preds)
        mine_langs[lang] = f"data/mining/{lang}.jsonl"
        # classification: is the name a country or a language? Same items in every language.
        rows, preds = [], []
        for name, label in items:
            text = (countries if label == "country" else languages)[loc][name]
            rows.append({"text": text, "label": label})
            guess = "language" if text.lower().endswith(LANG_SUFFIXES) else "country"
            preds.append({"label": guess})
        write_jsonl(f"{HERE}/data/classification/{lang}.jsonl", rows)
        write_jsonl(f"{HERE}/predictions/country-or-language/{lang}.jsonl", preds)
        cls_langs[lang] = f"data/classification/{lang}.jsonl"
    # The English originals for the classification task (its source language).
    rows = [{"text": name, "label": label} for name, label in items]
    write_jsonl(f"{HERE}/data/classification/en.jsonl", rows)
    write_jsonl(f"{HERE}/predictions/country-or-language/en.jsonl",
                [{"label": "language" if r["text"].lower().endswith(LANG_SUFFIXES) else "country"} for r in rows])
    cls_langs["en"] = "data/classification/en.jsonl"
    suite["tasks"] = [
        {"name": "country-names-mt", "type": "translation", "metrics": ["chrf++", "bleu"], "languages": tr_langs},
        {"name": "country-names-mining", "type": "bitext-mining", "metrics": ["accuracy", "f1"], "languages": mine_langs},
        {"name": "country-or-language", "type": "classification", "metrics": ["accuracy", "f1_macro"],
         "languages": cls_langs, "source_language": "en", "parallel": True},
    ]
    with open(f"{HERE}/suite.json", "w", encoding="utf-8") as f:
        json.dump(suite, f, ensure_ascii=False, indent=2)
        f.write("\n")
    print(f"wrote {HERE}/suite.json: {len(common_c)} country names, {len(items)} classification items, "
          f"{len(LOCALES)} languages")


if __name__ == "__main__":
    main()
