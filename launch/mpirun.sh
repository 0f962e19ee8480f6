#!/usr/bin/env bash
# mpirun.sh: mpirun with the settings dltrain wants on one machine or a
# cluster: one rank per core block, bound to its cores, and each rank's BLAS
# threads set to its share of the node's cores (dltrain does that itself
# when OPENBLAS_NUM_THREADS is unset). Usage: launch/mpirun.sh -np N CMD...
# Extra mpirun flags go in MPIRUN_FLAGS (e.g. "--hostfile hosts"); when it is
# set, the mapping and binding are left to those flags.
set -euo pipefail
extra=()
[ "$(id -u)" -eq 0 ] && extra+=(--allow-run-as-root)
np=1
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  [ "${args[$i]}" = "-np" ] && np=${args[$((i + 1))]}
done
# More ranks than cores (a laptop test): allow it, and do not bind.
if [ "$np" -gt "$(nproc)" ] && [ -z "${MPIRUN_FLAGS:-}" ]; then
  extra+=(--oversubscribe --bind-to none)
elif [ -z "${MPIRUN_FLAGS:-}" ]; then
  # one machine: each rank gets an equal block of cores for its BLAS threads
  extra+=(--map-by "slot:PE=$(( $(nproc) / np ))" --bind-to core)
fi   # with MPIRUN_FLAGS (a cluster) the placement is the caller's: nothing is added
# Ranks cannot see whether mpirun's stdout is a terminal: tell them, for the
# progress bar (plain progress lines otherwise).
if [ -t 1 ]; then export DLTRAIN_TTY=1; else export DLTRAIN_TTY=0; fi
extra+=(-x DLTRAIN_TTY)
# mpirun passes its environment to the ranks on this host only: a thread
# count set here reaches ranks on other hosts only through -x.
for v in OPENBLAS_NUM_THREADS OMP_NUM_THREADS; do
  [ -n "${!v:-}" ] && extra+=(-x "$v")
done
# On SIGTERM/SIGINT mpirun would kill the ranks; it forwards SIGUSR1, which
# dltrain treats like SIGTERM (finish the step, save last.h5, exit 3). So
# run mpirun in the background and turn our TERM/INT into its USR1.
# shellcheck disable=SC2086
mpirun "${extra[@]}" ${MPIRUN_FLAGS:-} "$@" &
pid=$!
trap 'kill -USR1 $pid 2>/dev/null' TERM INT
while :; do
  rc=0
  wait $pid || rc=$?
  kill -0 $pid 2>/dev/null || break   # interrupted by the trap while mpirun runs on: wait again
done
exit $rc
