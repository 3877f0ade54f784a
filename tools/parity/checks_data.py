"""Parity of xling's GNU .mo parser (src/data/mo_file.cpp) with Python's stdlib
gettext.GNUTranslations on real catalogs of this machine: for randomly chosen
/usr/share/locale/*/LC_MESSAGES/*.mo files, the raw (un-normalised) entries that
`xling data mo FILE` dumps must rebuild exactly GNUTranslations(...)._catalog
(contexts as "ctx\\x04msgid" keys, plural forms as (msgid, i) keys, the header as "").

xling converts UTF-8, ASCII, ISO-8859-1 and ISO-8859-15 only; for catalogs in other charsets
it must refuse with a message naming the charset (asserted, not skipped).
"""
import glob
import gettext
import json
import subprocess

from harness import check

SUPPORTED = {"", "utf-8", "utf8", "ascii", "us-ascii", "iso-8859-1", "iso8859-1", "latin1",
             "iso-8859-15", "iso8859-15", "latin9"}
N_FILES = 50


def _xling_catalog(lines):
    cat = {}
    for line in lines:
        e = json.loads(line)
        key = e["msgid"] if e["context"] is None else e["context"] + "\x04" + e["msgid"]
        if e["msgid_plural"] is None:
            cat[key] = e["msgstr"][0]
        else:
            for i, form in enumerate(e["msgstr"]):
                cat[(key, i)] = form
    return cat


@check
def data_mo_parser_matches_gettext(ctx):
    files = sorted(glob.glob("/usr/share/locale/*/LC_MESSAGES/*.mo"))
    if not files:
        raise AssertionError("no .mo files under /usr/share/locale on this machine")
    chosen = ctx.rng.sample(files, min(N_FILES, len(files)))
    entries = refused = python_failed = 0
    for path in chosen:
        p = subprocess.run([ctx.xling, "data", "mo", path], capture_output=True)
        try:
            with open(path, "rb") as f:
                py = gettext.GNUTranslations(f)
        except Exception:  # e.g. a Plural-Forms header gettext.py cannot parse: xling still must not fail
            python_failed += 1
            assert p.returncode in (0, 1) and (p.returncode == 0 or "charset" in p.stderr.decode()), \
                f"{path}: Python cannot load it; xling exited {p.returncode}: {p.stderr.decode()}"
            continue
        charset = (py.charset() or "").lower()
        if charset not in SUPPORTED:
            assert p.returncode == 1 and charset in p.stderr.decode().lower(), \
                f"{path}: charset {charset}: expected a refusal naming it, got rc={p.returncode}"
            refused += 1
            continue
        assert p.returncode == 0, f"{path}: xling data mo exited {p.returncode}: {p.stderr.decode()}"
        ours = _xling_catalog(p.stdout.decode().splitlines())
        theirs = dict(py._catalog)
        if ours != theirs:
            missing = [k for k in theirs if k not in ours][:3]
            extra = [k for k in ours if k not in theirs][:3]
            differ = [k for k in theirs if k in ours and ours[k] != theirs[k]][:3]
            raise AssertionError(f"{path}: {len(ours)} vs {len(theirs)} entries; missing {missing!r}, "
                                 f"extra {extra!r}, differing {differ!r}")
        entries += len(theirs)
    return (f"{len(chosen)} real catalogs: {len(chosen) - refused - python_failed} identical to "
            f"gettext.GNUTranslations ({entries} catalog keys), {refused} refused for their charset, "
            f"{python_failed} that gettext.py cannot load")
