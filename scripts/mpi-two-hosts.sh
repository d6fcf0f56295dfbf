#!/usr/bin/env bash
# Runs an MPI program across two "hosts" on this machine: two network namespaces joined by a veth pair, with
# mpirun reading a hostfile, launching the second host's Open MPI daemon through a plm_rsh_agent wrapper that does
# `ip netns exec` where a real cluster would use ssh, and ranks talking over Open MPI's TCP transport on the veth
# link only. This exercises the same hostfile/daemon/TCP path as real machines (see Docs/ExpertParallel.md).
#
# Usage (as root; needs iproute2 and openmpi-bin):
#   scripts/mpi-two-hosts.sh [-n RANKS] [PROGRAM [ARGS...]]
# Default program: the package's mpi-selftest with --expect-namespaces 2 (it checks that its ranks really run in
# two namespaces). RANKS (default 2) are placed round-robin over the two hosts. Everything created is removed on
# exit, also on failure or Ctrl-C. Exits with the program's status.
set -euo pipefail

ranks=2
if [[ ${1:-} == -n ]]; then ranks=$2; shift 2; fi
root=$(cd "$(dirname "$0")/.." && pwd)
if [[ $# -eq 0 ]]; then
  selftest=$(find "$root/.build" -path '*debug/mpi-selftest' -type f -perm -u+x 2>/dev/null | head -1)
  if [[ -z $selftest ]]; then
    (cd "$root" && swift build --product mpi-selftest >&2)
    selftest=$(find "$root/.build" -path '*debug/mpi-selftest' -type f -perm -u+x | head -1)
  fi
  set -- "$selftest" --expect-namespaces 2
fi
program=$(realpath "$1"); shift

[[ $(id -u) -eq 0 ]] || { echo "mpi-two-hosts: must run as root (creates network namespaces)" >&2; exit 1; }
command -v ip >/dev/null || { echo "mpi-two-hosts: 'ip' not found (apt-get install iproute2)" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "mpi-two-hosts: mpirun not found (apt-get install openmpi-bin)" >&2; exit 1; }

# Names unique to this run; interface names stay within 15 characters. The addresses exist only inside the two
# namespaces created here.
tag=$$
host_a=pangu-mpi-a-$tag host_b=pangu-mpi-b-$tag
if_a=pma$tag if_b=pmb$tag
addr_a=10.231.77.1 addr_b=10.231.77.2 net=10.231.77.0/24
work=$(mktemp -d /tmp/pangu-mpi-two-hosts.XXXXXX)

cleanup() {
  local ns pid
  for ns in "$host_a" "$host_b"; do
    if ip netns list | grep -qw "$ns"; then
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
      ip netns delete "$ns" 2>/dev/null || true
    fi
  done
  ip link delete "$if_a" 2>/dev/null || true  # only left if moving it into the namespace failed
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT   # exiting runs the EXIT trap
trap 'exit 143' TERM

ip netns add "$host_a"
ip netns add "$host_b"
ip link add "$if_a" type veth peer name "$if_b"
ip link set "$if_a" netns "$host_a"
ip link set "$if_b" netns "$host_b"
ip -n "$host_a" addr add "$addr_a/24" dev "$if_a"
ip -n "$host_b" addr add "$addr_b/24" dev "$if_b"
for ns in "$host_a" "$host_b"; do ip -n "$ns" link set lo up; done
ip -n "$host_a" link set "$if_a" up
ip -n "$host_b" link set "$if_b" up

# The hostfile names the hosts by address; mpirun runs on host A and recognises its own address as local.
cat > "$work/hostfile" <<HOSTS
$addr_a slots=$(( (ranks + 1) / 2 ))
$addr_b slots=$(( ranks / 2 ))
HOSTS

# The "ssh": mpirun calls `AGENT [options] HOST COMMAND...` and expects COMMAND to run in HOST's shell.
cat > "$work/netns-rsh" <<AGENT
#!/bin/sh
while [ "\${1#-}" != "\$1" ]; do shift; done   # ssh-style options (none are needed here)
host=\$1; shift
case "\$host" in
  $addr_a) ns=$host_a ;;
  $addr_b) ns=$host_b ;;
  *) echo "netns-rsh: unknown host \$host" >&2; exit 255 ;;
esac
exec ip netns exec "\$ns" /bin/sh -c "\$*"
AGENT
chmod +x "$work/netns-rsh"

echo "mpi-two-hosts: $ranks ranks on $host_a ($addr_a) and $host_b ($addr_b), TCP over $if_a<->$if_b" >&2
# In the background + wait, so that a signal to this script runs the cleanup at once (bash defers traps until a
# foreground child exits).
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
  timeout 300 ip netns exec "$host_a" \
  mpirun --allow-run-as-root --oversubscribe -np "$ranks" --hostfile "$work/hostfile" --map-by node \
    --mca plm_rsh_agent "$work/netns-rsh" \
    --mca pml ob1 --mca btl self,tcp --mca btl_tcp_if_include "$net" --mca oob_tcp_if_include "$net" \
    "$program" "$@" </dev/null &
status=0
wait $! || status=$?
exit "$status"
