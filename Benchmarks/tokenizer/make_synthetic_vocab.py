#!/usr/bin/env python3
"""Pads a SentencePiece model with random NORMAL pieces up to openPangu's vocabulary size (153,376), to measure
load time and encoding with a realistically large vocabulary. The extra pieces have the lowest scores, so they
change which merges exist but not the order of the original ones.
Usage: make_synthetic_vocab.py <in.model> <out.model>"""
import random
import sys

from sentencepiece import sentencepiece_model_pb2 as pb  # needs the `protobuf` package

m = pb.ModelProto()
with open(sys.argv[1], "rb") as f:
    m.ParseFromString(f.read())
have = set(p.piece for p in m.pieces)
r = random.Random(1)
zh = [chr(c) for c in range(0x4E00, 0x9FA5)]
en = "abcdefghijklmnopqrstuvwxyz"
low = min(p.score for p in m.pieces)
while len(m.pieces) < 153376:
    s = ("▁" if r.random() < 0.3 else "") + (
        "".join(r.choice(zh) for _ in range(r.randint(1, 4))) if r.random() < 0.6
        else "".join(r.choice(en) for _ in range(r.randint(2, 9))))
    if s in have:
        continue
    have.add(s)
    p = m.pieces.add()
    p.piece, p.score, p.type = s, low - len(m.pieces) * 0.001, pb.ModelProto.SentencePiece.NORMAL
with open(sys.argv[2], "wb") as f:
    f.write(m.SerializeToString())
