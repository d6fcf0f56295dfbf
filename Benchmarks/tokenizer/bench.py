#!/usr/bin/env python3
"""Python sentencepiece side of the tokenizer benchmark (single thread, same model, same lines as the Swift bench).
Times are process CPU time (like the Swift bench), best of `repeats`.
Usage: bench.py <tokenizer.model> <corpus.txt> [repeats]"""
import sys
import time

import sentencepiece as spm

model, path = sys.argv[1], sys.argv[2]
repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
sp = spm.SentencePieceProcessor(model_file=model)
with open(path, encoding="utf-8", newline="") as f:
    lines = f.read().split("\n")
nbytes = sum(len(l.encode("utf-8")) for l in lines)
best_batch = best_loop = float("inf")
ids_all = None
for r in range(repeats):
    t0 = time.process_time()
    ids_all = sp.encode(lines, num_threads=1)
    best_batch = min(best_batch, time.process_time() - t0)
    t0 = time.process_time()
    for l in lines:
        sp.encode(l)
    best_loop = min(best_loop, time.process_time() - t0)
h = 0xcbf29ce484222325
n = 0
for ids in ids_all:
    n += len(ids)
    for i in ids:
        h = ((h ^ i) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
print(f"python-batch: {nbytes / 1e6 / best_batch:.2f} MB/s (encode(list, num_threads=1), {n} tokens) checksum {h:016x}")
print(f"python-loop: {nbytes / 1e6 / best_loop:.2f} MB/s (encode(line) per line)")
