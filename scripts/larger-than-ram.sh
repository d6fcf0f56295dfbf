#!/usr/bin/env bash
# Shows that a Pangu Pro MoE file larger than the memory a process may use still runs (slowly) instead of being
# killed: routed experts (most of the file) stay evictable file-backed pages, so the kernel reclaims them under
# pressure and reads them back when a token needs them. Docs/ExpertParallel.md, "Larger than RAM".
#
# Steps: write a reduced-depth model with Pro MoE's true widths (`pangu create-test-model --preset pro-moe-shape
# --layers L`), quantise it (`pangu quantize`), drop the file from the page cache, create a memory cgroup whose limit
# is smaller than the file, run `pangu generate` inside it, and report the peak memory the cgroup charged, the
# out-of-memory kill count and pangu's exit status.
#
# Needs root and a memory cgroup: cgroup v2 with the memory controller enabled for a child of this process's
# cgroup, or the cgroup v1 memory hierarchy (/sys/fs/cgroup/memory). Exits 0 only when pangu finished normally
# with the limit below the file size.
#
#   sudo scripts/larger-than-ram.sh [--layers 2] [--type q4_0] [--limit-mb N] [--tokens 8] [--dir DIR]
#
# Environment: PANGU (the pangu binary; default .build/release/pangu, else .build/debug/pangu), MODELS (folder for
# the generated files; default models/larger-than-ram inside the repository, which git ignores).
set -euo pipefail

layers=2 type=q4_0 limit_mb="" tokens=8
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${MODELS:-$root/models/larger-than-ram}
while [[ $# -gt 0 ]]; do
    case $1 in
        --layers) layers=$2; shift 2 ;;
        --type) type=$2; shift 2 ;;
        --limit-mb) limit_mb=$2; shift 2 ;;
        --tokens) tokens=$2; shift 2 ;;
        --dir) dir=$2; shift 2 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
pangu=${PANGU:-}
if [[ -z $pangu ]]; then
    for candidate in "$root/.build/release/pangu" "$root/.build/debug/pangu"; do
        [[ -x $candidate ]] && { pangu=$candidate; break; }
    done
fi
[[ -n $pangu && -x $pangu ]] || { echo "no pangu binary: build it (swift build -c release) or set PANGU" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "creating a cgroup needs root" >&2; exit 2; }

mkdir -p "$dir"
checkpoint=$dir/pro-moe-shape-$layers
gguf=$dir/pro-moe-shape-$layers-$type.gguf
if [[ ! -f $gguf ]]; then
    [[ -f $checkpoint/config.json ]] || "$pangu" create-test-model "$checkpoint" --preset pro-moe-shape \
        --layers "$layers" --dtype bf16 2>/dev/null
    "$pangu" quantize --model "$checkpoint" --type "$type" --output "$gguf" 2>/dev/null
    rm -rf "$checkpoint"  # the bf16 checkpoint is about twice the size of the quantised file
fi
file_bytes=$(stat -c %s "$gguf")
# Default limit: 60% of the file (the anonymous part — repacked dense weights, KV cache, activations — must fit).
limit_bytes=$(( ${limit_mb:-$(( file_bytes * 6 / 10 / 1048576 ))} * 1048576 ))
(( limit_bytes < file_bytes )) || { echo "the limit ($limit_bytes bytes) must be below the file size ($file_bytes)" >&2; exit 2; }

# The file's pages must not already sit in the page cache charged to another cgroup.
sync "$gguf"
python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$gguf"

# Find a memory cgroup hierarchy and make a child of this process's own cgroup there.
cg="" version=""
if grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
    self=$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup)
    parent=/sys/fs/cgroup$self
    # cgroup v2 lets a cgroup hand controllers to children only while it has no processes of its own (unless
    # it is the root): if enabling fails, say so instead of guessing.
    if grep -qw memory "$parent/cgroup.subtree_control" || echo +memory > "$parent/cgroup.subtree_control" 2>/dev/null; then
        cg=$parent/pangu-larger-than-ram-$$ version=2
    fi
fi
if [[ -z $cg && -d /sys/fs/cgroup/memory ]]; then
    self=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3 }' /proc/self/cgroup)
    cg=/sys/fs/cgroup/memory$self/pangu-larger-than-ram-$$ version=1
fi
[[ -n $cg ]] || { echo "no usable memory cgroup: neither cgroup v2 with the memory controller nor the v1 memory hierarchy" >&2; exit 3; }
mkdir "$cg"
cleanup() { rmdir "$cg" 2>/dev/null || true; }
trap cleanup EXIT
if [[ $version == 2 ]]; then
    echo "$limit_bytes" > "$cg/memory.max"
    echo 0 > "$cg/memory.swap.max" 2>/dev/null || true
else
    echo "$limit_bytes" > "$cg/memory.limit_in_bytes"
    echo "$limit_bytes" > "$cg/memory.memsw.limit_in_bytes" 2>/dev/null || true
fi

echo "model:  $gguf ($(( file_bytes / 1048576 )) MiB, $layers layers, $type)"
echo "cgroup: $cg (v$version), limit $(( limit_bytes / 1048576 )) MiB"
start=$(date +%s.%N)
set +e
# The shell moves itself into the cgroup, then becomes pangu.
sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' sh "$cg" \
    "$pangu" generate --model "$gguf" --token-ids 1,45887,70914,1234,5678 --greedy --max-tokens "$tokens"
status=$?
set -e
end=$(date +%s.%N)
if [[ $version == 2 ]]; then
    peak=$(cat "$cg/memory.peak" 2>/dev/null || echo 0)
    ooms=$(awk '$1 == "oom_kill" { print $2 }' "$cg/memory.events")
else
    peak=$(cat "$cg/memory.max_usage_in_bytes")
    ooms=$(awk '$1 == "oom_kill" { print $2 }' "$cg/memory.oom_control")
fi
echo "pangu exit status $status after $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s; peak charged memory $(( peak / 1048576 )) MiB" \
     "(limit $(( limit_bytes / 1048576 )) MiB, file $(( file_bytes / 1048576 )) MiB); OOM kills: ${ooms:-0}"
if [[ $status == 0 && ${ooms:-0} == 0 ]]; then
    echo "OK: a $(( file_bytes / 1048576 )) MiB model ran under a $(( limit_bytes / 1048576 )) MiB memory limit"
else
    echo "FAILED" >&2
    exit 1
fi
