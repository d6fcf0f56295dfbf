#!/usr/bin/env python3
"""Long context: pangu bench vs llama-bench after a D-token context (`-d D`), same GGUF file, same KV cache type,
in one run; writes Benchmarks/DEPTH.md.

Usage: Benchmarks/depth_bench.py [--models DIR] [--llama DIR] [--model 7b-q4_0] [--depths 4096,16384]
       [--cache-types f16] [-p 512] [-n 128] [--fa 0,1] [--threads 2]

llama.cpp runs with both attention paths (`-fa 0,1`) and its best is the comparison point. KV bytes per token:
pangu's as `pangu bench` reports it; llama.cpp's from the file's shape (layers × KV heads × (key + value length)
× the cache type's bytes per element, as llama.cpp sizes its K and V tensors). Files default to the repository's
ignored models/ folder, llama.cpp to $LLAMA_CPP_DIR or .peer/llama.cpp. Each depth costs a D-token prefill per
test and engine (about 7 minutes at 4096 for the 7B shape on 2 cores).
"""
import argparse, datetime, glob, json, os, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Bytes per cached element (GGML's row sizes: q8_0 stores 32 int8 values and one f16 scale per block).
ELEMENT_BYTES = {"f32": 4.0, "f16": 2.0, "q8_0": 34 / 32}


def run(cmd, env=None):
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    r = subprocess.run(cmd, text=True, capture_output=True, env={**os.environ, **(env or {})})
    if r.returncode != 0:
        sys.exit(f"{cmd[0]} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return r.stdout


def kv_shape(llama, path):
    """(layers, kv heads, key length + value length) from the GGUF metadata, through llama.cpp's gguf-py."""
    sys.path[:0] = glob.glob(os.path.join(llama, "peer", "*", "vendor", "llama.cpp", "gguf-py"))
    import gguf
    reader = gguf.GGUFReader(path)
    arch = bytes(reader.fields["general.architecture"].parts[-1]).decode()
    def value(key):
        f = reader.fields[f"{arch}.{key}"]
        return int(f.parts[f.data[0]][0])
    heads = value("attention.head_count")
    embd = value("embedding_length")
    key = value("attention.key_length") if f"{arch}.attention.key_length" in reader.fields else embd // heads
    val = value("attention.value_length") if f"{arch}.attention.value_length" in reader.fields else embd // heads
    return value("block_count"), value("attention.head_count_kv"), key + val


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=os.environ.get("PANGU_MODELS", os.path.join(ROOT, "models")))
    ap.add_argument("--llama", default=os.environ.get("LLAMA_CPP_DIR", os.path.join(ROOT, ".peer", "llama.cpp")))
    ap.add_argument("--pangu", default=os.path.join(ROOT, ".build", "release", "pangu"))
    ap.add_argument("--model", default="7b-q4_0")
    ap.add_argument("--depths", default="4096,16384")
    ap.add_argument("--cache-types", default="f16")
    ap.add_argument("-p", type=int, default=512)
    ap.add_argument("-n", type=int, default=128)
    ap.add_argument("--fa", default="0,1")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(ROOT, "Benchmarks", "DEPTH.md"))
    args = ap.parse_args()
    path = os.path.join(args.models, args.model + ".gguf")
    layers, kv_heads, kv_len = kv_shape(args.llama, path)
    rows = []
    for depth in map(int, args.depths.split(",")):
        for ct in args.cache_types.split(","):
            # Interleaved per depth and cache type: pangu, then llama.cpp's attention paths.
            pg = json.loads(run([args.pangu, "bench", "--model", path, "-p", str(args.p), "-n", str(args.n),
                                 "-r", "1", "-d", str(depth), "-t", str(args.threads), "--cache-type", ct, "--json"]))
            out = run([os.path.join(args.llama, "bin", "llama-bench"), "-m", path, "-t", str(args.threads),
                       "-p", str(args.p), "-n", str(args.n), "-r", "1", "-d", str(depth), "-fa", args.fa,
                       "-ctk", ct, "-ctv", ct, "-o", "json"])
            best = {}
            for row in json.loads(out):
                kind = "pp" if row["n_prompt"] > 0 else "tg"
                if kind not in best or row["avg_ts"] > best[kind][0]:
                    best[kind] = (row["avg_ts"], int(bool(row.get("flash_attn", False))))
            llama_kv = layers * kv_heads * kv_len * ELEMENT_BYTES[ct]
            rows.append((depth, ct, pg["pp_tokens_per_s"], pg["tg_tokens_per_s"], pg["kv_bytes_per_token"],
                         best["pp"], best["tg"], llama_kv))
            print(rows[-1], file=sys.stderr, flush=True)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [f"# Long context: pangu vs llama.cpp after a D-token context ({stamp})", "",
             f"`{args.model}.gguf` (random weights, openPangu-Embedded-7B shapes), {args.threads} threads, one run each "
             f"(`pangu bench -d D -r 1`, `llama-bench -d D -r 1 -fa {args.fa}`; llama.cpp's best attention path is "
             "shown with its -fa value); `Benchmarks/depth_bench.py` wrote this table.", "",
             f"| depth | cache | pangu pp{args.p} | llama.cpp pp{args.p} (fa) | ratio | pangu tg{args.n} | "
             f"llama.cpp tg{args.n} (fa) | ratio | KV bytes/token pangu | llama.cpp |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for d, ct, pp, tg, kv, (lpp, fpp), (ltg, ftg), lkv in rows:
        lines.append(f"| {d} | {ct} | {pp:.2f} | {lpp:.2f} ({fpp}) | {pp / lpp:.2f} | {tg:.2f} | {ltg:.2f} ({ftg}) | "
                     f"{tg / ltg:.2f} | {kv:.0f} | {lkv:.0f} |")
    text = "\n".join(lines) + "\n"
    open(args.out, "w").write(text)
    print(text)


if __name__ == "__main__":
    main()
