#!/usr/bin/env bash
# Tokenizer throughput: Swift (release, tokenizer-bench) vs Python sentencepiece (C++), same model, same corpus,
# same run, single thread, process CPU time, best of ROUNDS alternating rounds (each itself best of 5 passes).
# Usage: Benchmarks/tokenizer/run.sh [model|bpe16k] [megabytes]
# "bpe16k" trains a 16k-piece Pangu-like BPE model first (about 10 s). Env: ROUNDS (default 3), SCRATCH.
set -euo pipefail
cd "$(dirname "$0")/../.."
MODEL="${1:-Sources/PanguTokenizer/Resources/tiny-pangu/tokenizer.model}"
MB="${2:-4}"
ROUNDS="${ROUNDS:-3}"
SCRATCH="${SCRATCH:-.build-tok}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
python3 Benchmarks/tokenizer/make_corpus.py "$WORK/corpus.txt" "$MB"
if [ "$MODEL" = "bpe16k" ]; then
  python3 Benchmarks/tokenizer/train_bench_model.py "$WORK/bpe16k.model"
  MODEL="$WORK/bpe16k.model"
fi
swift build -c release --scratch-path "$SCRATCH" --product tokenizer-bench >/dev/null
BIN="$(swift build -c release --scratch-path "$SCRATCH" --show-bin-path)/tokenizer-bench"
echo "model: $MODEL, corpus: $(wc -c <"$WORK/corpus.txt") bytes, $ROUNDS rounds"
BEST_SW=0; BEST_PY=0; SWSUM=""; PYSUM=""
for r in $(seq 1 "$ROUNDS"); do
  SW="$("$BIN" "$MODEL" "$WORK/corpus.txt" 5)"
  PY="$(python3 Benchmarks/tokenizer/bench.py "$MODEL" "$WORK/corpus.txt" 5)"
  echo "round $r: $SW"
  echo "$PY" | sed "s/^/round $r: /"
  SWMB=$(echo "$SW" | sed -n 's/^swift: \([0-9.]*\) MB\/s.*/\1/p')
  # The faster of the two Python modes (batch call vs one call per line).
  PYMB=$(echo "$PY" | sed -n 's/^python-[a-z]*: \([0-9.]*\) MB\/s.*/\1/p' | sort -g | tail -1)
  BEST_SW=$(python3 -c "print(max($BEST_SW, $SWMB))")
  BEST_PY=$(python3 -c "print(max($BEST_PY, $PYMB))")
  SWSUM=$(echo "$SW" | sed -n 's/.*checksum \([0-9a-f]*\)$/\1/p')
  PYSUM=$(echo "$PY" | sed -n 's/^python-batch:.*checksum \([0-9a-f]*\)$/\1/p')
done
echo "best swift: $BEST_SW MB/s, best python sentencepiece: $BEST_PY MB/s"
python3 -c "print(f'ratio swift/python: {$BEST_SW / $BEST_PY:.2f}x')"
if [ "$SWSUM" = "$PYSUM" ]; then echo "ids identical (checksum $SWSUM)"; else echo "IDS DIFFER: swift $SWSUM python $PYSUM"; exit 1; fi
