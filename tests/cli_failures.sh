#!/usr/bin/env bash
# cli_failures.sh BUILD SRC: dying and hanging ranks, with real MPI ranks on
# this host (tests/cli_twohost.sh does a link going down between two hosts):
#  - SIGKILL of one of two ranks mid-epoch: the job ends within 30 s with a
#    non-zero status, and --resume from the last checkpoint gives the same
#    bytes as an uninterrupted run;
#  - a hung rank (SIGSTOP): the other gives up after --comm-timeout, naming
#    the rank, its host and the checkpoint to resume from, and waits without
#    burning a core meanwhile;
#  - SIGTERM to a rank that waits on a hung peer: it ends within the grace
#    (10 s), saying so, exit status 3;
#  - a read error on one rank mid-step (the training file breaks under the
#    run): the whole job ends, the message names the rank and host.
set -euo pipefail
KEEP=${KEEP:-}
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
T=$(mktemp -d)
cleanup() {
  local p
  for p in $(jobs -p); do kill -KILL "$p" 2>/dev/null || true; done
  [ -n "$KEEP" ] || rm -rf "$T"
}
trap cleanup EXIT
source "$SRC/tests/lib/common.sh"
export OPENBLAS_NUM_THREADS=1
fm_train 2048 "$T/train.h5"
fm_test 256 "$T/valid.h5"
small_net "$T/net.txt" 0.3
ARGS=(--train "$T/train.h5" --valid "$T/valid.h5" --batch 32 --groups 4 --lr 0.05 --model "$T/net.txt")
HOST=$(hostname)

# children PID: its child processes (from /proc: no procps needed)
children() { cat /proc/"$1"/task/*/children 2>/dev/null || true; }
# rank_pid MPIRUN_PID RANK: the pid of that rank (a child of mpirun)
rank_pid() {
  local c
  for _ in $(seq 500); do
    for c in $(children "$1"); do
      tr '\0' '\n' < "/proc/$c/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2" && { echo "$c"; return; }
    done
    sleep 0.02
  done
  fail "no rank $2 under mpirun $1"
}
# wait_for FILE TEXT: until the log shows TEXT (at most 60 s)
wait_for() {
  for _ in $(seq 3000); do grep -q "$2" "$1" && return; sleep 0.02; done
  cat "$1"; fail "'$2' never appeared in $1"
}
# finish PID LIMIT WHAT T0: waits for the job (mpirun) at most LIMIT s, else
# kills it and its ranks and fails; sets RC (its status) and TOOK (s since T0)
finish() {
  if ! timeout "$2" tail --pid="$1" -f /dev/null; then
    kill -KILL $(children "$1") "$1" 2>/dev/null || true
    fail "$3: the job still runs after $2 s"
  fi
  RC=0; wait "$1" || RC=$?
  TOOK=$(awk -v a="$4" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
}
# cpu_ticks PID: user + system clock ticks so far
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

expect_error "--comm-timeout wants seconds >= 0" "$BUILD/dltrain" train "${ARGS[@]}" --comm-timeout -1 --out "$T/x"

# the uninterrupted run
"$BUILD/dltrain" train "${ARGS[@]}" --epochs 3 --no-progress --out "$T/straight" > "$T/straight.log"

# SIGKILL of rank 1 in the middle of epoch 2 (saves every 16 steps)
"${MPI[@]}" -np 2 "$BUILD/dltrain" train "${ARGS[@]}" --epochs 3 --checkpoint-every 16 --out "$T/kill" > "$T/kill.log" 2>&1 &
pid=$!
r1=$(rank_pid $pid 1)
wait_for "$T/kill.log" "epoch 2: 16/64"
t0=$(date +%s.%N)
kill -KILL "$r1"
finish $pid 30 "SIGKILL of rank 1" "$t0"
[ "$RC" -ne 0 ] || fail "SIGKILL of rank 1: the job exited 0"
echo "cli_failures: SIGKILL of rank 1 ended the job in $TOOK s, status $RC"
"${MPI[@]}" -np 2 "$BUILD/dltrain" train "${ARGS[@]}" --epochs 3 --checkpoint-every 16 --out "$T/kill" \
  --resume "$T/kill/last.h5" > "$T/kill2.log" 2>&1 || { cat "$T/kill2.log"; fail "resume after SIGKILL failed"; }
# the kill lands at step 16 or a little later (an idle machine runs a few
# steps while the log is polled): any mid-epoch-2 checkpoint is a valid start
grep -Eq "resuming $T/kill/last.h5: epoch 2, step (16|32|48) of it" "$T/kill2.log" \
  || fail "resume did not start mid-epoch 2 (step 16, 32 or 48): $(grep resuming "$T/kill2.log")"
same_run "$T/straight" "$T/kill"

# a hung rank 1 (SIGSTOP): rank 0 gives up after --comm-timeout 8 and names
# rank 1, its host and the checkpoint; while it waits it stays idle
"${MPI[@]}" -np 2 "$BUILD/dltrain" train "${ARGS[@]}" --epochs 3 --checkpoint-every 16 --comm-timeout 8 \
  --out "$T/hang" > "$T/hang.log" 2>&1 &
pid=$!
r0=$(rank_pid $pid 0); r1=$(rank_pid $pid 1)
wait_for "$T/hang.log" "epoch 1: 32/64"
kill -STOP "$r1"
t0=$(date +%s.%N)
sleep 2
c0=$(cpu_ticks "$r0")
sleep 4
c1=$(cpu_ticks "$r0")
hz=$(getconf CLK_TCK)
# a spinning wait takes about 4 s of CPU here (less on a loaded machine, never more)
[ $((c1 - c0)) -le $((hz * 4 / 5)) ] || fail "rank 0 used $(((c1 - c0) * 100 / hz)) cs of CPU in 4 s of waiting: it spins"
finish $pid 45 "a hung rank with --comm-timeout 8" "$t0"
[ "$RC" -ne 0 ] || fail "a hung rank: the job exited 0"
grep -q "dltrain: rank 0 ($HOST): no message from rank 1 ($HOST) for [89] s in .* (--comm-timeout 8)" "$T/hang.log" \
  || { cat "$T/hang.log"; fail "no timeout message naming rank 1 and its host"; }
grep -q "resume from the last checkpoint: add --resume $T/hang/last.h5 to the same command" "$T/hang.log" \
  || fail "the timeout message does not name the checkpoint to resume from"
echo "cli_failures: a hung rank ended the job in $TOOK s (--comm-timeout 8), rank 0 used $(((c1 - c0) * 100 / hz)) cs of CPU in 4 s of waiting"

# SIGTERM to rank 0 (as SLURM signals every task) while it waits on a hung
# rank 1, with a long --comm-timeout: rank 0 gives up after the 10 s grace
"${MPI[@]}" -np 2 "$BUILD/dltrain" train "${ARGS[@]}" --epochs 3 --comm-timeout 600 --out "$T/term" > "$T/term.log" 2>&1 &
pid=$!
r0=$(rank_pid $pid 0); r1=$(rank_pid $pid 1)
wait_for "$T/term.log" "epoch 2: 16/64"   # epoch 1's last.h5 is complete
kill -STOP "$r1"
sleep 1
t0=$(date +%s.%N)
kill -TERM "$r0"
finish $pid 60 "SIGTERM while waiting on a hung rank" "$t0"
[ "$RC" -eq 3 ] || { cat "$T/term.log"; fail "SIGTERM while waiting on a hung rank: exit status $RC, expected 3"; }
grep -q "dltrain: rank 0 ($HOST): stopped by SIGTERM while waiting for rank 1 ($HOST) in the gradient exchange" "$T/term.log" \
  || { cat "$T/term.log"; fail "no message for SIGTERM while waiting"; }
grep -q "add --resume $T/term/last.h5" "$T/term.log" || fail "SIGTERM while waiting: no checkpoint named"
echo "cli_failures: SIGTERM while waiting on a hung rank ended the job in $TOOK s, status 3"

# a read error on one rank mid-step: the training file (gzip'd chunks,
# streamed: 1 MiB budget) is cut short under the run, so a chunk no longer
# inflates; the job ends and names the rank
h5repack -f GZIP=1 "$T/train.h5" "$T/cut.h5"
"${MPI[@]}" -np 2 "$BUILD/dltrain" train "${ARGS[@]}" --train "$T/cut.h5" --memory-budget 1 --epochs 3 \
  --out "$T/cut" > "$T/cut.log" 2>&1 &
pid=$!
wait_for "$T/cut.log" "epoch 1: 16/64"
truncate -s $(($(stat -c %s "$T/cut.h5") / 2)) "$T/cut.h5"
finish $pid 60 "a file cut short under the run" "$(date +%s.%N)"
[ "$RC" -ne 0 ] || fail "a file cut short under the run: the job exited 0"
grep -q "dltrain: rank [01] ($HOST): .*$T/cut.h5" "$T/cut.log" || { cat "$T/cut.log"; fail "the read error does not name the rank, host and file"; }
echo "cli_failures: passed"
