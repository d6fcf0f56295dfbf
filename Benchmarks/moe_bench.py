#!/usr/bin/env python3
"""Pangu Pro MoE speed and memory: decode tokens/s against the memory-bandwidth roofline, prefill tokens/s, and
per-rank peak RSS and decode step time with N = 1, 2, 4 expert-parallel ranks (mpirun). Writes a markdown table.

Usage: Benchmarks/moe_bench.py [--layers 4] [--types q4_0,q8_0] [--ranks 1,2,4] [-p 128] [-n 32] [-r 2]
                               [--models DIR] [--pangu PATH] [--output FILE]

The model is a reduced-depth Pro MoE with the released model's true widths (hidden 5120, 40 query / 8 KV heads,
64 experts of 1344 in 8 groups, shared expert 5376, vocabulary 153376): `pangu create-test-model --preset
pro-moe-shape --layers L`, quantised with `pangu quantize`. Random weights run at the speed real ones would.

* Roofline: `pangu bench --json` measures the memory bandwidth B and reports the bytes one decoded token reads,
  W = ModelInfo.weightBytes (active weights only: 8 of 64 experts per layer, one embedding row). Decode cannot beat
  B / W tokens/s. For N > 1 on one host the ranks share the memory bus, so the roofline stays that of N = 1 (the
  table still lists rank 0's own share of W).
* Per-rank RSS: every rank runs under GNU time (`/usr/bin/time -f %M`), so each rank's peak resident set is read
  from its own report.
* Step time: 1 / decode tokens/s, the wall time of one decode step of the whole job.

Folders come from flags or the environment (PANGU_MODELS, PANGU), defaulting to the repository's git-ignored
`models/moe-bench` and `.build/release/pangu` (built when missing).
"""
import argparse, datetime, json, os, platform, re, shutil, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# One host, loopback TCP: works in containers (no shared-memory transport needed); --bind-to none keeps each
# rank's thread pool free to use several cores (Docs/ExpertParallel.md).
MPI_ARGS = ["--oversubscribe", "--bind-to", "none", "--allow-run-as-root", "--mca", "pml", "ob1", "--mca", "btl",
            "self,tcp", "--mca", "btl_tcp_if_include", "lo", "--mca", "oob_tcp_if_include", "lo"]


def run(cmd, env=None):
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    res = subprocess.run(cmd, text=True, capture_output=True, env=env)
    if res.returncode != 0:
        sys.exit(f"failed ({res.returncode}): {' '.join(cmd)}\n{res.stderr[-4000:]}")
    return res


def prepare(pangu, models, preset, layers, types, keep):
    """The quantised files, created when missing (the bf16 checkpoint is removed afterwards unless keep)."""
    os.makedirs(models, exist_ok=True)
    checkpoint = os.path.join(models, f"{preset}-{layers}")
    files = {t: os.path.join(models, f"{preset}-{layers}-{t}.gguf") for t in types}
    missing = [t for t, f in files.items() if not os.path.exists(f)]
    if missing:
        if not os.path.exists(os.path.join(checkpoint, "config.json")):
            run([pangu, "create-test-model", checkpoint, "--preset", preset, "--layers", str(layers),
                 "--dtype", "bf16"])
        for t in missing:
            run([pangu, "quantize", "--model", checkpoint, "--type", t, "--output", files[t]])
        if not keep:
            shutil.rmtree(checkpoint)
    return files


def bench(pangu, path, ranks, threads, p, n, r):
    """One `pangu bench --json` run (under mpirun for ranks > 1); returns its JSON and every rank's peak RSS."""
    env = dict(os.environ, PANGU_THREADS=str(threads), OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    timed = ["/usr/bin/time", "-f", "PEAK_RSS_KB %M", pangu, "bench", "--model", path, "-p", str(p), "-n", str(n),
             "-r", str(r), "-t", str(threads), "--json"]
    if ranks == 1:
        cmd = timed
    else:
        cmd = ["mpirun", "-np", str(ranks)] + MPI_ARGS + ["-x", "PANGU_THREADS"] + timed + ["--expert-parallel"]
    res = run(cmd, env=env)
    line = next(l for l in res.stdout.splitlines() if l.startswith("{"))
    rss = [int(k) * 1024 for k in re.findall(r"PEAK_RSS_KB (\d+)", res.stderr)]
    return json.loads(line), sorted(rss, reverse=True)


def gib(b):
    return f"{b / 2**30:.2f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--preset", default="pro-moe-shape",
                    help="create-test-model preset (tiny-moe-kv4 for a quick check that the script works)")
    ap.add_argument("--types", default="q4_0,q8_0")
    ap.add_argument("--ranks", default="1,2,4")
    ap.add_argument("-p", type=int, default=128, help="prompt tokens for the prefill test")
    ap.add_argument("-n", type=int, default=32, help="decoded tokens")
    ap.add_argument("-r", type=int, default=2, help="repetitions")
    ap.add_argument("-t", type=int, default=os.cpu_count(), help="threads in all, shared by the ranks")
    ap.add_argument("--models", default=os.environ.get("PANGU_MODELS", os.path.join(ROOT, "models", "moe-bench")))
    ap.add_argument("--pangu", default=os.environ.get("PANGU", os.path.join(ROOT, ".build", "release", "pangu")))
    ap.add_argument("--output", default=os.path.join(ROOT, "Benchmarks", "moe_bench.md"))
    ap.add_argument("--keep-checkpoint", action="store_true", help="keep the bf16 checkpoint after quantising")
    a = ap.parse_args()

    if not os.path.exists(a.pangu):
        run(["swift", "build", "-c", "release", "--product", "pangu", "--package-path", ROOT])
    types = [t for t in a.types.split(",") if t]
    ranks = [int(x) for x in a.ranks.split(",") if x]
    files = prepare(a.pangu, a.models, a.preset, a.layers, types, a.keep_checkpoint)

    rows, roofline = [], {}
    for t in types:
        size = os.path.getsize(files[t])
        for n in ranks:
            threads = max(1, a.t // n)
            result, rss = bench(a.pangu, files[t], n, threads, a.p, a.n, a.r)
            if n == 1 or t not in roofline:
                roofline[t] = result["roofline_tg_tokens_per_s"]
                bandwidth = result["bandwidth_bytes_per_s"]
            tg = result["tg_tokens_per_s"]
            rows.append(f"| {t} | {n} | {threads} | {gib(size)} | {result['weight_bytes_per_token'] / 1e6:.1f} | "
                        f"{result['pp_tokens_per_s']:.2f} | {tg:.2f} | {roofline[t]:.2f} | "
                        f"{100 * tg / roofline[t]:.0f}% | {1000 / tg if tg > 0 else 0:.0f} | "
                        f"{', '.join(gib(x) for x in rss)} |")

    text = [
        f"# Pangu Pro MoE: {a.layers}-layer `{a.preset}` model"
        + (" (the released model's widths)" if a.preset == "pro-moe-shape" else ""),
        "",
        f"{datetime.date.today()}, {platform.machine()}, {os.cpu_count()} cores, measured bandwidth "
        f"{bandwidth / 1e9:.1f} GB/s; -p {a.p} -n {a.n} -r {a.r}; `Benchmarks/moe_bench.py` wrote this table.",
        "",
        "| type | N | threads/rank | file GiB | MB read per token (rank 0) | prefill tok/s | decode tok/s | "
        "roofline tok/s | of roofline | step ms | peak RSS per rank GiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ] + rows + [
        "",
        "Roofline = bandwidth / bytes read per decoded token (active experts only), of the single process; ranks on",
        "one host share the memory bus. Peak RSS counts file pages the rank touched (the routed experts it owns).",
    ]
    with open(a.output, "w") as f:
        f.write("\n".join(text) + "\n")
    print("\n".join(text))


if __name__ == "__main__":
    main()
