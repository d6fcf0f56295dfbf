#!/usr/bin/env bash
# Golden bytes from llama.cpp's own quantiser (llama-quantize --pure, i.e. ggml's quantize_row_*_ref without an
# importance matrix) for Tests/PanguTensorTests/Fixtures/llama_quantize/.
#   1. the Swift test GGUFTinyPanguModelTests writes a tiny all-f32 pangu-embedded model,
#   2. llama-quantize --pure converts it to each format,
#   3. gguf-py extracts the first 8 rows (8 × 256 values) of blk.0.attn_k.weight: source.f32 and <type>.bin.
# Usage: scripts/quant/make_llama_quantize_goldens.sh [LLAMA_BUILD_DIR=/work/llama.cpp-build]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
LLAMA="${1:-${LLAMA_CPP_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/.peer/llama.cpp}}"
TMP="$(mktemp -d)"
OUT="$ROOT/Tests/PanguTensorTests/Fixtures/llama_quantize"
mkdir -p "$OUT"
cd "$ROOT"
PANGU_TINY_ALL_F32=1 PANGU_TINY_GGUF="$TMP/f32.gguf" \
  swift test --scratch-path .build-quant --filter 'GGUFTinyPanguModelTests/testWriteTinyPanguEmbeddedModel' >/dev/null
for t in Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K Q5_K Q6_K; do
  "$LLAMA/bin/llama-quantize" --pure "$TMP/f32.gguf" "$TMP/$t.gguf" "$t" >/dev/null 2>&1
done
"$LLAMA/.venv-peer/bin/python" - "$TMP" "$OUT" <<'PY'
import sys, numpy as np, gguf
tmp, out = sys.argv[1], sys.argv[2]
name, rows = "blk.0.attn_k.weight", 8
def tensor(path):
    return next(t for t in gguf.GGUFReader(path).tensors if t.name == name)
src = tensor(f"{tmp}/f32.gguf")
np.asarray(src.data, dtype=np.float32)[:rows].tofile(f"{out}/source.f32")
for t in ["Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"]:
    q = tensor(f"{tmp}/{t}.gguf")
    assert q.tensor_type.name == t, (t, q.tensor_type)
    np.asarray(q.data)[:rows].tofile(f"{out}/{t.lower().replace('_k', '_K')}.bin")
print("wrote", out)
PY
rm -rf "$TMP"
