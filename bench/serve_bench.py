"""`xling serve` throughput and latency for /embed, against offline `xling embed` in the same run.

Model: the embedded xling-mini (or --model). Texts: real multilingual sentences (the held-out
catalog texts of models/xling-mini/eval/test, round-robin over languages), one sentence per
request, sent by wrk (Debian's HTTP load generator, keep-alive connections) for --seconds at 1,
8 and 64 concurrent connections. Rows:
  offline       `xling embed` on all texts in one process (sentences/s of its encode phase)
  serve c=N     the server with dynamic batching, N concurrent clients
  no-batch c=64 the same server with --max-batch-requests 1 --max-wait-ms 0: one request per
                forward pass (what serving without batching costs)
The load generator shares the machine's cores with the server: the CPU seconds each used are
reported beside the figures (wrk's threads from /proc/<pid>/stat, the server's likewise).

  python bench/serve_bench.py [--xling build/bin/xling] [--seconds 10] [--out bench/results/serve_cpu.json]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK = os.sysconf("SC_CLK_TCK")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from translate_bench import sentences  # noqa: E402  (the same real multilingual sentences)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


WRK_SCRIPT = r"""
local bodies = {}
local n = 0
for line in io.lines(os.getenv("BODIES")) do n = n + 1; bodies[n] = line end
local i = 0
request = function()
  i = i + 1
  return wrk.format("POST", "/embed", {["Content-Type"] = "application/json"}, bodies[(i % n) + 1])
end
done = function(summary, latency, requests)
  io.write(string.format("JSON {\"requests\": %d, \"seconds\": %f, \"p50_ms\": %f, \"p99_ms\": %f, \"errors\": %d, \"non2xx\": %d}\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, summary.errors.status))
end
"""


def start_server(a, extra):
    cmd = [a.xling, "--threads", str(a.threads), "serve", "--port", "0", "--model", a.model] + extra
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    port = None
    for line in p.stderr:
        m = re.search(r"listening on http://[^:]+:(\d+)", line)
        if m:
            port = int(m.group(1))
        if "ready" in line:
            break
    if port is None:
        raise SystemExit("xling serve did not start")
    return p, port


def run_wrk(port, conns, seconds, bodies_file, script):
    env = dict(os.environ, BODIES=bodies_file)
    p = subprocess.Popen(["wrk", "-t", str(min(conns, 2)), "-c", str(conns), "-d", f"{seconds}s", "--timeout", "30s",
                          "-s", script, f"http://127.0.0.1:{port}"], stdout=subprocess.PIPE, text=True, env=env)
    cpu = 0.0
    while p.poll() is None:
        try:
            cpu = cpu_seconds(p.pid)
        except OSError:
            pass
        time.sleep(0.2)
    out = p.stdout.read()
    m = re.search(r"^JSON (.*)$", out, re.M)
    if not m:
        raise SystemExit("wrk failed:\n" + out)
    r = json.loads(m.group(1))
    r["client_cpu_s"] = cpu
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--xling", default=os.path.join(ROOT, "build/bin/xling"))
    ap.add_argument("--model", default="xling-mini")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--sentences", type=int, default=5000)
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    texts = sentences(a.sentences)
    tmp = tempfile.mkdtemp(prefix="xling-serve-bench-")
    txt = os.path.join(tmp, "texts.jsonl")
    with open(txt, "w", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps(t, ensure_ascii=False) + "\n")
    bodies = os.path.join(tmp, "bodies.jsonl")
    with open(bodies, "w", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps({"inputs": t, "truncate": True}, ensure_ascii=False) + "\n")
    script = os.path.join(tmp, "embed.lua")
    with open(script, "w") as f:
        f.write(WRK_SCRIPT)

    rows = []
    p = subprocess.run([a.xling, "--threads", str(a.threads), "embed", "--model", a.model, "--input", txt, "--output",
                        os.path.join(tmp, "out.npy")], capture_output=True, text=True)
    m = re.search(r"encode ([\d.]+) s", p.stderr)
    if p.returncode != 0 or not m:
        raise SystemExit(p.stderr)
    offline = len(texts) / float(m.group(1))
    rows.append(dict(mode="offline (xling embed)", clients=None, sentences_per_s=offline))
    print(f"offline: {offline:.0f} sentences/s", file=sys.stderr)

    for label, extra, conns_list in [("serve", [], [1, 8, 64]),
                                     ("no batching", ["--max-batch-requests", "1", "--max-wait-ms", "0"], [64])]:
        srv, port = start_server(a, extra)
        try:
            for conns in conns_list:
                run_wrk(port, conns, 2, bodies, script)  # warm-up
                cpu0 = cpu_seconds(srv.pid)
                r = run_wrk(port, conns, a.seconds, bodies, script)
                r["server_cpu_s"] = cpu_seconds(srv.pid) - cpu0
                r.update(mode=label, clients=conns, sentences_per_s=r["requests"] / r["seconds"])
                r["vs_offline"] = r["sentences_per_s"] / offline
                rows.append(r)
                print(f"{label} c={conns}: {r['sentences_per_s']:.0f} sentences/s, p50 {r['p50_ms']:.1f} ms, "
                      f"p99 {r['p99_ms']:.1f} ms, errors {r['errors']}, non-2xx {r['non2xx']}", file=sys.stderr)
            metrics = subprocess.run(["curl", "-s", f"http://127.0.0.1:{port}/metrics"], capture_output=True, text=True).stdout
            cnt = re.search(r'xling_batch_items_count\{model="[^"]+"\} (\d+)', metrics)
            total = re.search(r'xling_batch_items_sum\{model="[^"]+"\} ([\d.e+]+)', metrics)
            if cnt and total and int(cnt.group(1)):
                print(f"{label}: {int(cnt.group(1))} batches, {float(total.group(1)) / int(cnt.group(1)):.1f} "
                      f"sentences per batch on average", file=sys.stderr)
        finally:
            srv.terminate()
            srv.wait()

    meta = dict(model=a.model, sentences=len(texts), seconds=a.seconds, threads=a.threads, cores=os.cpu_count())
    print(f"\n/embed, one sentence per request, model {a.model}, {a.threads} server threads, {os.cpu_count()} cores "
          f"shared with wrk, {a.seconds} s per row\n")
    print("| mode | clients | sentences/s | vs offline | p50 ms | p99 ms | errors + non-2xx | server CPU s | wrk CPU s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if r["clients"] is None:
            print(f"| {r['mode']} | - | {r['sentences_per_s']:.0f} | 1.00x | - | - | - | - | - |")
        else:
            print(f"| {r['mode']} | {r['clients']} | {r['sentences_per_s']:.0f} | {r['vs_offline']:.2f}x | "
                  f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors'] + r['non2xx']} | {r['server_cpu_s']:.1f} | "
                  f"{r['client_cpu_s']:.1f} |")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(dict(meta=meta, rows=rows), f, indent=1)


if __name__ == "__main__":
    main()
