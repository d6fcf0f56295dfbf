#!/usr/bin/env bash
# Coverage-guided fuzzing of one parser with libFuzzer + AddressSanitizer. See Docs/Fuzzing.md.
#
#   scripts/fuzz.sh --list                 target names, one a line
#   scripts/fuzz.sh TARGET SECONDS [ARGS]  build fuzz-TARGET with -sanitize=fuzzer,address and fuzz it for SECONDS;
#                                          ARGS go to libFuzzer (e.g. -runs=1000000 instead of a time limit)
#   scripts/fuzz.sh --build TARGET         build only
#
# Seeds: Tests/FuzzCorpus/TARGET (committed, only read). New inputs go to .build-fuzz/corpus/TARGET, crash/leak/
# timeout inputs to .build-fuzz/artifacts/TARGET/. Exit status is non-zero when libFuzzer finds anything.
set -euo pipefail
cd "$(dirname "$0")/.."

targets() { sed -n 's/^ *("\([a-z-]*\)", \[.*\]),$/\1/p' Package.swift; }

if [[ ${1:-} == --list ]]; then targets; exit 0; fi
build_only=0
if [[ ${1:-} == --build ]]; then build_only=1; shift; fi
target=${1:?usage: scripts/fuzz.sh --list | TARGET SECONDS [libFuzzer args] | --build TARGET}
if ! targets | grep -qx -- "$target"; then
  echo "unknown fuzz target '$target'; targets: $(targets | tr '\n' ' ')" >&2
  exit 2
fi

scratch=.build-fuzz
# -DPANGU_FUZZ selects the libFuzzer entry point in Sources/Fuzz/Support. -O (not the release -Ounchecked) keeps
# every precondition and overflow check, so an unchecked-arithmetic bug traps here although release builds would
# silently wrap; it runs about twice as many inputs per second as -Onone.
swift build --scratch-path "$scratch" --product "fuzz-$target" \
  -Xswiftc -DPANGU_FUZZ -Xswiftc -sanitize=fuzzer,address -Xswiftc -O 2>&1 | grep -v "Cannot export local symbol" >&2 || true
binary="$scratch/debug/fuzz-$target"
[[ -x $binary ]] || { echo "build of fuzz-$target failed" >&2; exit 1; }
[[ $build_only == 1 ]] && exit 0

seconds=${2:?usage: scripts/fuzz.sh TARGET SECONDS [libFuzzer args]}
shift 2
corpus="$scratch/corpus/$target" artifacts="$scratch/artifacts/$target/"
mkdir -p "$corpus" "$artifacts"
seeds=()
[[ -d Tests/FuzzCorpus/$target ]] && seeds=("Tests/FuzzCorpus/$target")
# Scratch files of the harnesses go to a private TMPDIR that is removed afterwards; in memory (/dev/shm) when
# possible, which runs the file-based harnesses several times faster than a disk-backed /tmp.
export TMPDIR
if [[ -d /dev/shm && -w /dev/shm ]]; then TMPDIR=$(mktemp -d -p /dev/shm); else TMPDIR=$(mktemp -d); fi
trap 'rm -rf "$TMPDIR"' EXIT
# detect_leaks: LeakSanitizer checks every input; timeout: an input taking 10 s is a hang finding;
# rss_limit_mb: a parser asking for gigabytes on a small input is a finding too.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/scripts/fuzz-lsan.supp:print_suppressions=0}
# Swift's own crash backtracer would run inside the sanitized process; let libFuzzer report and save the input.
export SWIFT_BACKTRACE=enable=no
# Inputs up to the largest seed (SentencePiece models ~30 KB), small ones for text formats (faster mutation).
case $target in
  sp-model) max_len=32768 ;;
  tokenizer-config|jinja|gguf) max_len=8192 ;;
  *) max_len=4096 ;;
esac
"$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" -print_final_stats=1 \
  -artifact_prefix="$artifacts" "$@" "$corpus" "${seeds[@]}"
