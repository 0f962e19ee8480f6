#!/usr/bin/env bash
# cli_twohost.sh BUILD SRC: two "hosts" on this machine, one rank each: two
# network namespaces (hosts dlhostA 10.203.0.1 and dlhostB 10.203.0.2, each
# with its own host name) joined by a veth pair, Open MPI over TCP between
# them and no sshd: mpirun starts the remote daemon through a launch agent
# that maps the host name to `ip netns exec` (--mca plm_rsh_agent).
#  - 2 hosts give the same bytes as 1 rank on one host;
#  - the link goes down in the middle of epoch 2: the job ends within
#    --comm-timeout (6 s here) plus margins, rank 0's message names rank 1,
#    its host and the checkpoint to resume from;
#  - once the link is back, --resume on the 2 hosts gives the same bytes as
#    the uninterrupted run.
# Needs root with CAP_NET_ADMIN (ip netns add): skips (status 77) where that
# is not permitted. Only private addresses inside its own namespaces; the
# namespaces, their /etc/netns files and every process in them go on any exit.
set -euo pipefail
KEEP=${KEEP:-}
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
source "$SRC/tests/lib/common.sh"
skip() { echo "cli_twohost: SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (ip netns add)"
command -v ip >/dev/null && command -v unshare >/dev/null || skip "needs iproute2 (ip) and util-linux (unshare)"
T=$(mktemp -d)
A=dltA$$; B=dltB$$                    # namespace names, unique to this run
VA=dlva$$; VB=dlvb$$                  # veth ends (15 characters at most)
cleanup() {
  local p ns
  for p in $(jobs -p); do kill -KILL "$p" 2>/dev/null || true; done
  for ns in $A $B; do
    # every process still in our namespaces (the remote daemon daemonizes)
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "/etc/netns/$ns"
  done
  [ -n "$KEEP" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
ip netns add $A 2>"$T/netns.err" || skip "ip netns add is not permitted here: $(head -1 "$T/netns.err")"
ip netns add $B
ip link add $VA type veth peer name $VB
ip link set $VA netns $A
ip link set $VB netns $B
ip -n $A addr add 10.203.0.1/24 dev $VA
ip -n $B addr add 10.203.0.2/24 dev $VB
for ns in $A $B; do
  ip -n $ns link set lo up
  # A host's TCP gives up on a dead peer after tcp_retries2 retransmissions
  # (15, about 15 minutes, by default): mpirun itself ends only then. The
  # ranks are gone within --comm-timeout either way; 4 here lets mpirun
  # follow within seconds (README: Failure semantics).
  ip netns exec $ns sysctl -qw net.ipv4.tcp_retries2=4
  # names resolvable inside the namespaces (ip netns exec bind-mounts these)
  mkdir -p "/etc/netns/$ns"
  printf '127.0.0.1 localhost\n10.203.0.1 dlhostA\n10.203.0.2 dlhostB\n' > "/etc/netns/$ns/hosts"
done
ip -n $A link set $VA up
ip -n $B link set $VB up
printf 'dlhostA slots=1\ndlhostB slots=1\n' > "$T/hostfile"
printf 'dlhostA %s\ndlhostB %s\n' $A $B > "$T/hosts.map"
# the launch agent: called as `agent HOST COMMAND...` like ssh, runs the
# command line in that host's namespace under its own host name, with a
# fresh environment as sshd would (mpirun's reaches remote ranks only by -x),
# but for the sanitizer options of CI's ASan stage (as a cluster's login
# profile would set them): without them the remote rank reports Open MPI's
# own leaks at exit
cat > "$T/agent.sh" <<EOF
#!/bin/sh
host=\$1; shift
ns=\$(awk -v h="\$host" '\$1 == h { print \$2 }' "$T/hosts.map")
[ -n "\$ns" ] || { echo "agent: unknown host \$host" >&2; exit 255; }
exec env -i PATH="\$PATH" HOME="\$HOME" ASAN_OPTIONS="${ASAN_OPTIONS:-}" LSAN_OPTIONS="${LSAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" ip netns exec "\$ns" unshare --uts -- sh -c "hostname \$host && exec \$*"
EOF
chmod +x "$T/agent.sh"

# on_a CMD...: run CMD on dlhostA (where mpirun runs)
on_a() { ip netns exec $A unshare --uts -- sh -c 'hostname dlhostA && exec "$@"' sh "$@"; }
MCA="--hostfile $T/hostfile --mca plm_rsh_agent $T/agent.sh --mca plm_rsh_no_tree_spawn 1 --mca btl tcp,self
  --mca btl_tcp_if_include 10.203.0.0/24 --mca oob_tcp_if_include 10.203.0.0/24"
# twohost CMD...: mpirun on dlhostA, one rank on each host, TCP on the veth only
# shellcheck disable=SC2086
twohost() { on_a mpirun --allow-run-as-root $MCA -np 2 -x OPENBLAS_NUM_THREADS=1 "$@"; }

export OPENBLAS_NUM_THREADS=1
fm_train 2048 "$T/train.h5"
fm_test 256 "$T/valid.h5"
small_net "$T/net.txt" 0.3
ARGS=(--train "$T/train.h5" --valid "$T/valid.h5" --batch 32 --groups 4 --lr 0.05 --model "$T/net.txt" --epochs 3)

# 1 rank on one host against 2 hosts
"$BUILD/dltrain" train "${ARGS[@]}" --no-progress --out "$T/one" > "$T/one.log"
twohost "$BUILD/dltrain" train "${ARGS[@]}" --no-progress --out "$T/two" > "$T/two.log" 2>&1 \
  || { cat "$T/two.log"; fail "the two-host run failed"; }
grep -q "2 ranks x 1 BLAS thread on 2 hosts (dlhostA: rank 0; dlhostB: rank 1)" "$T/two.log" \
  || fail "the header does not show both hosts: $(head -1 "$T/two.log")"
same_run "$T/one" "$T/two"

# OPENBLAS_NUM_THREADS set before mpirun reaches the remote rank only with
# -x: the header says the counts differ; launch/mpirun.sh passes it
n=$(($(nproc) + 1))   # never the remote rank's default (its cores)
# shellcheck disable=SC2086
OPENBLAS_NUM_THREADS=$n on_a mpirun --allow-run-as-root $MCA -np 2 "$BUILD/dltrain" train "${ARGS[@]}" --epochs 1 \
  --limit 256 --no-progress --out "$T/nox" > "$T/nox.log" 2>&1 || { cat "$T/nox.log"; fail "the run without -x failed"; }
grep -q "2 ranks on 2 hosts (dlhostA: rank 0 x $n threads; dlhostB: rank 1 x $(nproc) thread.*BLAS threads differ" "$T/nox.log" \
  || fail "the header does not show the remote rank's other thread count: $(head -1 "$T/nox.log")"
OPENBLAS_NUM_THREADS=$n MPIRUN_FLAGS="$MCA" on_a bash "$SRC/launch/mpirun.sh" -np 2 "$BUILD/dltrain" train "${ARGS[@]}" \
  --epochs 1 --limit 256 --no-progress --out "$T/x" > "$T/x.log" 2>&1 || { cat "$T/x.log"; fail "launch/mpirun.sh on 2 hosts failed"; }
grep -q "2 ranks x $n BLAS threads on 2 hosts (dlhostA: rank 0; dlhostB: rank 1)" "$T/x.log" \
  || fail "launch/mpirun.sh did not pass OPENBLAS_NUM_THREADS to the remote rank: $(head -1 "$T/x.log")"

# the link goes down in the middle of epoch 2 (last.h5 every 16 steps)
twohost "$BUILD/dltrain" train "${ARGS[@]}" --checkpoint-every 16 --comm-timeout 6 --out "$T/cut" > "$T/cut.log" 2>&1 &
pid=$!
for _ in $(seq 3000); do grep -q "epoch 2: 32/64" "$T/cut.log" && break; sleep 0.02; done
grep -q "epoch 2: 32/64" "$T/cut.log" || { cat "$T/cut.log"; fail "the run never reached epoch 2 step 32"; }
sleep 0.2
ip -n $B link set $VB down
t0=$(date +%s.%N)
# allowed: --comm-timeout 6, then mpirun's TCP giving up on the lost daemon
timeout 60 tail --pid=$pid -f /dev/null || fail "the job still runs 60 s after the link went down"
rc=0; wait $pid || rc=$?
took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
[ "$rc" -ne 0 ] || fail "link down: the job exited 0"
grep -q "dltrain: rank 0 (dlhostA): no message from rank 1 (dlhostB) for [67] s in .* (--comm-timeout 6)" "$T/cut.log" \
  || { cat "$T/cut.log"; fail "no message naming rank 1 and dlhostB"; }
grep -q "resume from the last checkpoint: add --resume $T/cut/last.h5 to the same command" "$T/cut.log" \
  || fail "the message does not name the checkpoint to resume from"
echo "cli_twohost: link down mid-epoch: the job ended in $took s with status $rc (--comm-timeout 6)"

# the link is back: resume on the two hosts
ip -n $B link set $VB up
sleep 1
twohost "$BUILD/dltrain" train "${ARGS[@]}" --checkpoint-every 16 --comm-timeout 6 --out "$T/cut" \
  --resume "$T/cut/last.h5" > "$T/cut2.log" 2>&1 || { cat "$T/cut2.log"; fail "the resume after the link came back failed"; }
grep -q "resuming $T/cut/last.h5: epoch 2, step \(16\|32\|48\) of it" "$T/cut2.log" \
  || fail "resume not from a checkpoint of epoch 2: $(grep resuming "$T/cut2.log")"
same_run "$T/one" "$T/cut"
echo "cli_twohost: passed"
