#!/usr/bin/env bash
# The whole test suite under a sanitizer (see Docs/Fuzzing.md):
#   scripts/sanitize.sh address   AddressSanitizer (out-of-bounds, use-after-free, double free, ...)
#   scripts/sanitize.sh thread    ThreadSanitizer (data races in the thread pool, generation loop, server)
# Extra arguments go to `swift test` (e.g. --filter PanguChatTests). Each sanitizer builds in its own scratch
# folder (.build-asan, .build-tsan) so the normal .build stays untouched. Exit status is swift test's.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:?usage: scripts/sanitize.sh address|thread [swift test arguments]}
shift
case $kind in
  address) scratch=.build-asan
           # Memory errors only by default: a whole-process leak check at exit reports objects held by globals
           # (Swift keeps references inside multi-payload enums with tag bits LeakSanitizer cannot see, see
           # scripts/fuzz-lsan.supp) and XCTest's own objects. Leaks are checked per input by scripts/fuzz.sh;
           # ASAN_OPTIONS=detect_leaks=1:malloc_context_size=100 scripts/sanitize.sh address shows the exit report.
           export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
           export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/scripts/fuzz-lsan.supp:print_suppressions=0} ;;
  thread)  scratch=.build-tsan
           export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=0:second_deadlock_stack=1} ;;
  *) echo "unknown sanitizer '$kind' (address or thread)" >&2; exit 2 ;;
esac
# A sanitizer report must fail the run, not be lost in a Swift backtrace of the sanitizer's own abort.
export SWIFT_BACKTRACE=enable=no
exec swift test --scratch-path "$scratch" --sanitize="$kind" "$@"
