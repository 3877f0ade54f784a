#!/usr/bin/env bash
# Real-text index and mining benchmark (issue 8), with the embedded model (xling-mini):
#   1. a corpus of N catalog translations (this machine's gettext catalogs, `xling data
#      catalogs`, many languages) -> `xling index build --type flat` (embedding time, docs/s)
#      -> `xling index convert --type hnsw` (graph build without re-embedding)
#   2. 1,000 held-out English strings as queries -> bench_index on the real vectors: queries/s
#      and recall@10 of ivf/hnsw/ivfpq against exact flat search in the same run
#   3. `xling search` end to end (model load + query embedding + search + document lookup)
#   4. bitext mining throughput: `xling mine` on N English strings x their N translations
#      (shuffled), and the share of gold pairs recovered
#
#   bash bench/index_realtext.sh [N=100000]      (XLING=build/bin/xling, WORK=/tmp/xling-index-bench)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
X=${XLING:-build/bin/xling}
B=${BENCH_INDEX:-build/bench/bench_index}
W=${WORK:-/tmp/xling-index-bench}
mkdir -p "$W"
secs_since() { awk -v a="$(date +%s%N)" -v b="$1" 'BEGIN { printf "%.1f", (a - b) / 1e9 }'; }

[ -f "$W/cat/train.jsonl" ] || "$X" data catalogs --output "$W/cat" >/dev/null
python3 - "$W" "$N" <<'EOF'
import json, random, sys
w, n = sys.argv[1], int(sys.argv[2])
rows = [json.loads(l) for l in open(f"{w}/cat/train.jsonl", encoding="utf-8")]
random.Random(7).shuffle(rows)
rows = rows[:n]
with open(f"{w}/corpus.jsonl", "w", encoding="utf-8") as f:
    for i, r in enumerate(rows):
        f.write(json.dumps({"id": f"{r['lang']}-{i}", "text": r["text"], "lang": r["lang"]}, ensure_ascii=False) + "\n")
test = [json.loads(l) for l in open(f"{w}/cat/test/fr.jsonl", encoding="utf-8")][:1000]
with open(f"{w}/queries.jsonl", "w", encoding="utf-8") as f:
    for i, r in enumerate(test):
        f.write(json.dumps({"id": f"q{i}", "text": r["en"]}, ensure_ascii=False) + "\n")
with open(f"{w}/queries.txt", "w", encoding="utf-8") as f:
    for r in test:
        f.write(r["en"].replace("\n", " ") + "\n")
perm = list(range(len(rows)))
random.Random(11).shuffle(perm)
with open(f"{w}/src.jsonl", "w", encoding="utf-8") as f:
    for r in rows:
        f.write(json.dumps(r["en"], ensure_ascii=False) + "\n")
with open(f"{w}/tgt.jsonl", "w", encoding="utf-8") as f:
    for p in perm:
        f.write(json.dumps(rows[p]["text"], ensure_ascii=False) + "\n")
json.dump(perm, open(f"{w}/perm.json", "w"))
EOF
rm -rf "$W/flat" "$W/hnsw" "$W/q"
echo "## index build (flat) of $N documents"
"$X" index build --type flat --input "$W/corpus.jsonl" --output "$W/flat" 2>&1 | tail -1
echo "## index convert -> hnsw (the default type for this size)"
"$X" index convert "$W/flat" --type hnsw --output "$W/hnsw" 2>&1 | tail -1
"$X" index build -q --type flat --input "$W/queries.jsonl" --output "$W/q"
"$X" index info "$W/hnsw" | sed -n '2,4p'
echo "## vector search on the real embeddings"
"$B" --index "$W/flat" --query-index "$W/q" --json bench/results/index_realtext.json 2>&1 | grep -v "built in"
echo "## xling search end to end: 1000 queries, top 10, hnsw"
s=$(date +%s%N)
"$X" search --index "$W/hnsw" --queries "$W/queries.txt" -k 10 --no-text > "$W/search.jsonl"
echo "wall $(secs_since "$s") s for $(wc -l < "$W/search.jsonl") queries (model load and query embedding included)"
echo "## xling mine: $N x $N"
s=$(date +%s%N)
"$X" mine --src "$W/src.jsonl" --tgt "$W/tgt.jsonl" --output "$W/mined.tsv"
e=$(secs_since "$s")
python3 - "$W" "$N" "$e" <<'EOF'
import json, sys
w, n, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
perm = json.load(open(f"{w}/perm.json"))
src = [json.loads(l) for l in open(f"{w}/src.jsonl", encoding="utf-8")]
right = text_right = total = 0
for line in open(f"{w}/mined.tsv", encoding="utf-8"):
    c = line.split("\t")
    s, t = int(c[1]) - 1, int(c[2]) - 1
    total += 1
    right += perm[t] == s
    text_right += src[s] == src[perm[t]]  # the same English string: duplicates are interchangeable
print(f"mined {total} pairs from {n} x {n} in {secs:.1f} s ({2 * n / secs:.0f} sentences/s end to end); "
      f"{len(set(src))} distinct source strings; correct pairs (same English string): {text_right} "
      f"({100 * text_right / max(1, total):.1f} % of mined); exact gold line: {right}")
EOF
