#!/usr/bin/env python3
"""`pangu serve` next to `llama-server` on the same GGUF file: aggregate generated tokens/s and time to first token
(p50/p95) with 1, 4 and 16 concurrent streaming clients, in one run, engines interleaved.

Usage: Benchmarks/serve_bench.py [--model models/1b-q4_0.gguf] [--llama DIR] [--clients 1,4,16] [--max-tokens 64]
       [--requests 2] [--repeats 2] [--threads 2] [--out Benchmarks/SERVER.md]

Defaults live inside the repository's ignored folders: the model in models/ (make it with
`pangu create-test-model models/1b-bf16 --preset 1b-shape` + `pangu quantize --type q4_0`), llama.cpp in
$LLAMA_CPP_DIR or .peer/llama.cpp (Benchmarks/llama_cpp/build.sh builds it). Only the Python standard library.
"""
import argparse, datetime, http.client, json, os, platform, socket, statistics, subprocess, sys, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROMPT = ("Write a detailed story about a lighthouse keeper who finds a message in a bottle on a stormy night, "
          "and describe the sea, the light and the keeper's thoughts as the night goes on.")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(port, proc, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError("server did not become healthy")


MODEL_IDS = {}


def model_id(port):
    """The id the server lists first in /v1/models (pangu refuses unknown model names, as OpenAI does)."""
    if port not in MODEL_IDS:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/v1/models")
        MODEL_IDS[port] = json.loads(c.getresponse().read())["data"][0]["id"]
    return MODEL_IDS[port]


def stream_completion(port, max_tokens):
    """One streaming /v1/completions request: (seconds to first token, completion tokens, seconds total)."""
    body = json.dumps({"model": model_id(port), "prompt": PROMPT, "max_tokens": max_tokens, "temperature": 0, "stream": True,
                       "stream_options": {"include_usage": True}, "ignore_eos": True})
    start = time.perf_counter()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    c.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
    r = c.getresponse()
    if r.status != 200:
        raise RuntimeError(f"HTTP {r.status}: {r.read()[:300]!r}")
    first, chunks, usage = None, 0, None
    for raw in r:
        line = raw.decode("utf-8", "replace").strip()
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            break
        obj = json.loads(data)
        if obj.get("usage") and not obj.get("choices"):
            usage = obj["usage"].get("completion_tokens")
            continue
        if obj.get("choices"):
            chunks += 1
            if first is None:
                first = time.perf_counter() - start
    total = time.perf_counter() - start
    return first if first is not None else total, usage if usage is not None else chunks, total


def run_clients(port, clients, requests, max_tokens):
    ttfts, tokens, lock = [], [0], threading.Lock()
    errors = []

    def client():
        for _ in range(requests):
            try:
                t, n, _ = stream_completion(port, max_tokens)
                with lock:
                    ttfts.append(t)
                    tokens[0] += n
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(str(e))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"{len(errors)} requests failed, first: {errors[0]}")
    q = statistics.quantiles(ttfts, n=20) if len(ttfts) >= 2 else ttfts * 19
    return {"clients": clients, "requests": len(ttfts), "tokens": tokens[0], "seconds": wall,
            "tokens_per_s": tokens[0] / wall, "ttft_p50": statistics.median(ttfts), "ttft_p95": q[18]}


def engine_command(name, args, port, parallel):
    ctx = 512
    if name == "pangu":
        return [args.pangu, "serve", "--model", args.model, "--port", str(port), "--parallel", str(parallel),
                "--context", str(ctx), "--log-level", "warning"], {"PANGU_THREADS": str(args.threads)}
    return [os.path.join(args.llama, "bin", "llama-server"), "-m", args.model, "--port", str(port), "-np", str(parallel),
            "-c", str(ctx * parallel), "-t", str(args.threads), "-tb", str(args.threads), "--log-disable"], {}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "1b-q4_0.gguf"))
    ap.add_argument("--llama", default=os.environ.get("LLAMA_CPP_DIR", os.path.join(ROOT, ".peer", "llama.cpp")))
    ap.add_argument("--pangu", default=os.path.join(ROOT, ".build", "release", "pangu"))
    ap.add_argument("--clients", default="1,4,16")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--requests", type=int, default=2, help="sequential requests per client")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--parallel", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--engines", default="pangu,llama-server")
    ap.add_argument("--out", default=os.path.join(ROOT, "Benchmarks", "SERVER.md"))
    args = ap.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    engines = args.engines.split(",")
    results = {e: {c: [] for c in clients} for e in engines}
    for rep in range(args.repeats):
        for e in engines:  # interleaved: pangu, llama-server, pangu, llama-server, ...
            port = free_port()
            cmd, env = engine_command("pangu" if e == "pangu" else "llama", args, port, args.parallel)
            print("+", " ".join(cmd), file=sys.stderr, flush=True)
            proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                wait_healthy(port, proc)
                stream_completion(port, 8)  # warm-up
                for c in clients:
                    r = run_clients(port, c, args.requests, args.max_tokens)
                    print(f"{e} rep {rep} clients {c}: {r['tokens_per_s']:.2f} tokens/s, TTFT p50 {r['ttft_p50']:.2f} s "
                          f"p95 {r['ttft_p95']:.2f} s", file=sys.stderr, flush=True)
                    results[e][c].append(r)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    rows = []
    for c in clients:
        row = {"clients": c}
        for e in engines:
            rs = results[e][c]
            row[e] = {k: statistics.mean(r[k] for r in rs) for k in ("tokens_per_s", "ttft_p50", "ttft_p95")}
        rows.append(row)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [f"# pangu serve vs llama-server ({stamp})", "",
             f"Same file ({os.path.basename(args.model)}), {args.threads} threads each, --parallel/-np {args.parallel}, "
             f"{args.max_tokens} tokens per request, {args.requests} sequential streaming requests per client, "
             f"mean of {args.repeats} interleaved runs; {platform.machine()}, {os.cpu_count()} cores. "
             "Aggregate = completion tokens of all clients / wall time.", "",
             "| clients | pangu tokens/s | llama-server tokens/s | ratio | pangu TTFT p50 / p95 (s) | llama-server TTFT p50 / p95 (s) |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        p, l = row.get("pangu"), row.get("llama-server")
        if p and l:
            lines.append(f"| {row['clients']} | {p['tokens_per_s']:.2f} | {l['tokens_per_s']:.2f} | "
                         f"{p['tokens_per_s'] / l['tokens_per_s']:.2f} | {p['ttft_p50']:.2f} / {p['ttft_p95']:.2f} | "
                         f"{l['ttft_p50']:.2f} / {l['ttft_p95']:.2f} |")
    text = "\n".join(lines) + "\n"
    with open(args.out, "w") as f:
        f.write(text)
    with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
        json.dump({"args": vars(args), "results": results}, f, indent=1)
    print(text)


if __name__ == "__main__":
    main()
