#!/usr/bin/env python3
"""Speculative decoding, pangu vs llama.cpp (llama-speculative-simple) on the same GGUF files, in one run.

Usage: Benchmarks/spec_bench.py [--models DIR] [--llama DIR] [--targets 7b-q8_0,7b-bf16]
       [--drafts 7b-q4_0,1b-q4_0,lookup] [-n 64] [--draft-max 8] [--ngram 3] [--threads 2]
       [--out Benchmarks/SPECULATIVE.md]

For each target: plain greedy decode of each engine (pangu generate; llama-bench tg), then greedy speculative
decoding with each draft, same text prompt, same number of tokens: a draft model (pangu generate --draft-model;
llama-speculative-simple -md --spec-type draft-simple), or `lookup`, prompt-lookup drafting without a second model
(pangu --lookup-ngram N; llama-speculative-simple --spec-type ngram-simple --spec-ngram-simple-size-n N). Reports acceptance, effective tokens/s and the speed-up over the engine's own plain decode.
Files default to the repository's ignored models/ folder (make them with `pangu create-test-model --preset
7b-shape` / `1b-shape` and `pangu quantize`; random weights with the real shapes), llama.cpp to $LLAMA_CPP_DIR or
.peer/llama.cpp.
"""
import argparse, datetime, json, os, re, subprocess, sys

from compare_llama_cpp import machine  # same folder: the CPU line every report starts from

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROMPT = "The history of the lighthouse begins with fires lit on hills near harbours, and"


def run(cmd, env=None):
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    r = subprocess.run(cmd, text=True, capture_output=True, env={**os.environ, **(env or {})})
    if r.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed: {r.stderr[-2000:]}")
    return r.stdout, r.stderr


def pangu(args, target, draft):
    cmd = [args.pangu, "generate", "--model", target, "--greedy", "--max-tokens", str(args.n), PROMPT]
    if draft == "lookup":
        cmd += ["--lookup-ngram", str(args.ngram), "--draft-max", str(args.draft_max)]
    elif draft:
        cmd += ["--draft-model", draft, "--draft-max", str(args.draft_max)]
    _, err = run(cmd, {"PANGU_THREADS": str(args.threads)})
    speed = float(re.search(r"generated \d+ tokens, ([\d.]+) tok/s", err).group(1))
    m = re.search(r"speculative: (\d+) drafted, (\d+) accepted", err)
    acc = int(m.group(2)) / max(1, int(m.group(1))) if m else None
    return speed, acc


def llama_plain(args, target):
    out, _ = run([os.path.join(args.llama, "bin", "llama-bench"), "-m", target, "-t", str(args.threads), "-p", "0",
                  "-n", str(args.n), "-r", "1", "-o", "json"])
    return json.loads(out)[0]["avg_ts"]


def llama_spec(args, target, draft):
    # Without --spec-type this llama.cpp enables no speculator ("failed to initialize speculative decoding").
    if draft == "lookup":
        spec = ["--spec-type", "ngram-simple", "--spec-ngram-simple-size-n", str(args.ngram),
                "--spec-ngram-simple-size-m", str(args.draft_max)]
    else:
        spec = ["-md", draft, "--spec-type", "draft-simple", "-td", str(args.threads),
                "--spec-draft-n-max", str(args.draft_max)]
    _, err = run([os.path.join(args.llama, "bin", "llama-speculative-simple"), "-m", target, *spec, "-p", PROMPT,
                  "-n", str(args.n), "-t", str(args.threads), "--temp", "0", "-s", "1"])
    speed = float(re.search(r"decoded\s+\d+ tokens in\s+[\d.]+ seconds, speed:\s+([\d.]+) t/s", err).group(1))
    acc = float(re.search(r"accept\s+=\s+(-?nan|[\d.]+)%", err).group(1)) / 100
    return speed, acc


def total_memory():
    """Physical memory in bytes (Linux /proc/meminfo)."""
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no MemTotal in /proc/meminfo")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=os.path.join(ROOT, "models"))
    ap.add_argument("--llama", default=os.environ.get("LLAMA_CPP_DIR", os.path.join(ROOT, ".peer", "llama.cpp")))
    ap.add_argument("--pangu", default=os.path.join(ROOT, ".build", "release", "pangu"))
    ap.add_argument("--targets", default="7b-q8_0,7b-bf16")
    ap.add_argument("--drafts", default="7b-q4_0,1b-q4_0,lookup")
    ap.add_argument("-n", type=int, default=64)
    ap.add_argument("--draft-max", type=int, default=8)
    ap.add_argument("--ngram", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(ROOT, "Benchmarks", "SPECULATIVE.md"))
    args = ap.parse_args()
    path = lambda name: os.path.join(args.models, name + ".gguf")
    rows, skipped = [], []
    for t in args.targets.split(","):
        plain_p, _ = pangu(args, path(t), None)
        plain_l = llama_plain(args, path(t))
        for d in args.drafts.split(","):
            draft = d if d == "lookup" else path(d)
            need = os.path.getsize(path(t)) + (0 if d == "lookup" else os.path.getsize(draft))
            if need > 0.8 * total_memory():
                # Both engines would hold both models (llama.cpp a repacked second copy too): it would swap.
                skipped.append(f"{t} with draft {d}: the two files take {need / 1e9:.1f} GB of "
                               f"{total_memory() / 1e9:.1f} GB RAM")
                continue
            sp, ap_ = pangu(args, path(t), draft)
            sl, al = llama_spec(args, path(t), draft)
            rows.append((t, d, plain_p, sp, ap_, plain_l, sl, al))
            print(rows[-1], file=sys.stderr, flush=True)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [f"# Speculative decoding, pangu vs llama.cpp ({stamp})", "",
             f"Greedy, {args.n} tokens, draft-max {args.draft_max}, {args.threads} threads, one run each, same GGUF files "
             "(random weights with the real shapes: acceptance depends on how often the draft's argmax matches). "
             f"Machine: {machine()}. Acceptance = accepted / drafted tokens. pangu's draft-max is a cap: its draft length "
             "follows the measured acceptance and costs, down to plain decoding with occasional probes when drafting "
             "does not pay (Docs/Speculative.md); llama.cpp drafts up to draft-max tokens every round.", "",
             "| target | draft | pangu plain tok/s | pangu spec tok/s | speed-up | acceptance | llama.cpp plain tok/s | "
             "llama.cpp spec tok/s | speed-up | acceptance | pangu spec / llama.cpp spec |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for t, d, pp, sp, ap_, pl, sl, al in rows:
        lines.append(f"| {t} | {d} | {pp:.2f} | {sp:.2f} | {sp / pp:.2f} | {ap_:.0%} | {pl:.2f} | {sl:.2f} | "
                     f"{sl / pl:.2f} | {al:.0%} | {sp / sl:.2f} |")
    lines += [f"", f"Not run (more than 80% of this machine's memory): {'; '.join(skipped)}."] if skipped else []
    text = "\n".join(lines) + "\n"
    open(args.out, "w").write(text)
    print(text)


if __name__ == "__main__":
    main()
