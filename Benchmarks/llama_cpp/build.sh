#!/usr/bin/env bash
# Reproduces the llama.cpp peer build used for comparisons. llama.cpp's sources come from the llama-cpp-python
# sdist on PyPI (it vendors a llama.cpp with the pangu-embedded architecture); they are built in a git-ignored
# folder and never committed. Usage: Benchmarks/llama_cpp/build.sh [DEST] [JOBS]
#   DEST defaults to $LLAMA_CPP_DIR or .peer/llama.cpp in this repository (ignored), JOBS to 2.
#   LLAMA_CPP_ISA=native (default: -march=native, every extension of this CPU, e.g. AVX-512 and VNNI where present)
#   or avx2 (AVX2/FMA/F16C/BMI2 only, x86-64-v3: the instruction set pangu's release build uses).
# Afterwards: DEST/bin/llama-bench -m model.gguf -t 2 -p 512 -n 128 --repack 0,1
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DEST="${1:-${LLAMA_CPP_DIR:-$ROOT/.peer/llama.cpp}}"
JOBS="${2:-2}"
VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"   # sdist version that was built and tested (vendors pangu-embedded)
mkdir -p "$DEST"
DEST="$(cd "$DEST" && pwd)"   # absolute: the tools are linked from DEST/bin
cd "$DEST"
if [ ! -d .venv-peer ]; then python3 -m venv .venv-peer; fi
# shellcheck disable=SC1091
. .venv-peer/bin/activate
# Binary wheels only for the tools (never --no-binary :all:, which would build cmake from source).
pip install -q cmake ninja scikit-build-core gguf numpy
if ! ls peer/llama_cpp_python-"$VERSION".tar.gz >/dev/null 2>&1; then
  pip download -q --no-deps --no-build-isolation --no-binary llama-cpp-python -d peer "llama-cpp-python==$VERSION"
fi
SRC="peer/llama_cpp_python-$VERSION/vendor/llama.cpp"
[ -d "$SRC" ] || tar xzf peer/llama_cpp_python-"$VERSION".tar.gz -C peer
case "${LLAMA_CPP_ISA:-native}" in
  native) ISA=(-DGGML_NATIVE=ON) ;;
  avx2) ISA=(-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
             -DGGML_AVX512=OFF -DGGML_AVX_VNNI=OFF) ;;
  *) echo "LLAMA_CPP_ISA must be native or avx2" >&2; exit 2 ;;
esac
cmake -S "$SRC" -B "$SRC/build" -G Ninja -DCMAKE_BUILD_TYPE=Release "${ISA[@]}" -DLLAMA_CURL=OFF \
      -DLLAMA_BUILD_TESTS=OFF -DLLAMA_OPENSSL=OFF
cmake --build "$SRC/build" -j"$JOBS" --target llama-bench llama-quantize llama-cli llama-simple llama-tokenize llama-perplexity \
      llama-server llama-speculative-simple
mkdir -p bin
for t in llama-bench llama-quantize llama-cli llama-simple llama-tokenize llama-perplexity llama-server \
         llama-speculative-simple; do
  ln -sf "$DEST/$SRC/build/bin/$t" "bin/$t"
done
echo "llama.cpp tools in $DEST/bin (gguf-py: $DEST/$SRC/gguf-py)"
