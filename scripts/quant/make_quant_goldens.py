#!/usr/bin/env python3
"""Golden bytes for the Swift quantisers, produced by the `gguf` Python package (pip install gguf numpy).

Writes into Tests/PanguTensorTests/Fixtures/quant/:
  input.f32                 512 little-endian float32 inputs (random normal blocks plus edge-case blocks)
  <type>.bin / <type>.deq   gguf.quants.quantize(input) bytes and gguf.quants.dequantize of those bytes,
                            for F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 (gguf has numpy quantisers for these)
  <type>.raw.bin / .deq     for Q4_K, Q5_K, Q6_K (gguf has only dequantisers): 3 random super-blocks with
                            sane f16 scales, and their gguf dequantisation
Usage: python3 scripts/quant/make_quant_goldens.py [OUTDIR]
"""
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "..", "Tests", "PanguTensorTests", "Fixtures", "quant")
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(20251129)

x = rng.standard_normal(512).astype(np.float32)
x[0:32] *= 0.01                     # small block
x[32:64] = 0.0                      # all-zero block
x[64:96] = 1.5                      # constant block
x[96:128] = np.abs(x[96:128]) + 3   # positive-only block (min > 0)
x[128:160] *= 100.0                 # large block
x[160] = -7.0                       # negative absolute maximum
x[256:512] *= np.linspace(0.1, 4.0, 256, dtype=np.float32)
x.tofile(os.path.join(out, "input.f32"))

for name, qt in [("f16", T.F16), ("bf16", T.BF16), ("q8_0", T.Q8_0), ("q4_0", T.Q4_0), ("q4_1", T.Q4_1),
                 ("q5_0", T.Q5_0), ("q5_1", T.Q5_1)]:
    q = gguf.quants.quantize(x.reshape(1, -1), qt)
    q.tofile(os.path.join(out, f"{name}.bin"))
    gguf.quants.dequantize(q, qt).astype(np.float32).tofile(os.path.join(out, f"{name}.deq"))

def f16bytes(v):
    return np.array([v], dtype=np.float16).view(np.uint8)

nsb = 3
for name, qt, size in [("q4_K", T.Q4_K, 144), ("q5_K", T.Q5_K, 176), ("q6_K", T.Q6_K, 210)]:
    raw = rng.integers(0, 256, size=(nsb, size), dtype=np.uint8)
    for b in range(nsb):
        if name == "q6_K":
            raw[b, 208:210] = f16bytes(rng.uniform(0.001, 0.05))
        else:
            raw[b, 0:2] = f16bytes(rng.uniform(0.001, 0.05))
            raw[b, 2:4] = f16bytes(rng.uniform(0.001, 0.05))
    raw.tofile(os.path.join(out, f"{name}.raw.bin"))
    gguf.quants.dequantize(raw.reshape(1, -1), qt).astype(np.float32).tofile(os.path.join(out, f"{name}.deq"))
print("wrote", out)
