#!/usr/bin/env python3
"""Writes a mixed benchmark corpus (English, Chinese, code, emoji, digits, whitespace) of about N MB.
Usage: make_corpus.py <out.txt> [megabytes]"""
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "tokenizer"))
import corpus  # noqa: E402

out = sys.argv[1]
target = float(sys.argv[2]) if len(sys.argv) > 2 else 4.0
r = random.Random(12345)
size = 0
with open(out, "w", encoding="utf-8") as f:
    while size < target * 1e6:
        line = corpus.line(r, 4, 30, rare=0.05).replace("\n", " ")
        f.write(line + "\n")
        size += len(line.encode("utf-8")) + 1
