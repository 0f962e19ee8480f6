#!/usr/bin/env bash
# cli_resume.sh BUILD SRC: exact resume and signals, with real processes.
#  - 4 epochs straight == 2 epochs, then --resume for 2 more on another -np
#    (bitwise: parameters, batch-norm statistics, momentum; metrics columns);
#  - SIGTERM mid-epoch: the step finishes, last.h5 is written, exit status 3,
#    and resuming finishes with the same bytes as the uninterrupted run;
#  - SIGKILL while checkpoints are being written: last.h5 is always whole;
#  - resuming onto another model or dataset fails with a clear message.
set -euo pipefail
KEEP=${KEEP:-}
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
T=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; [ -n "$KEEP" ] || rm -rf "$T"' EXIT
source "$SRC/tests/lib/common.sh"
export OPENBLAS_NUM_THREADS=1
fm_train 2048 "$T/train.h5"
fm_test 256 "$T/valid.h5"
small_net "$T/net.txt" 0.3
BASE=(--train "$T/train.h5" --valid "$T/valid.h5" --batch 32 --groups 4 --lr 0.05)
ARGS=("${BASE[@]}" --no-progress)

# straight run, 4 epochs, 1 rank
"$BUILD/dltrain" train "${ARGS[@]}" --model "$T/net.txt" --epochs 4 --out "$T/straight" > "$T/straight.log"
# 2 epochs on 2 ranks, then 2 more on 4 ranks from last.h5 (model, seed, batch from the checkpoint)
"${MPI[@]}" -np 2 "$BUILD/dltrain" train "${ARGS[@]}" --model "$T/net.txt" --epochs 2 --out "$T/split" > "$T/split1.log"
"${MPI[@]}" -np 4 "$BUILD/dltrain" train "${ARGS[@]}" --epochs 4 --out "$T/split" --resume "$T/split/last.h5" > "$T/split2.log"
grep -q "resuming $T/split/last.h5: epoch 3, step 0" "$T/split2.log" || fail "resume not reported: $(cat "$T/split2.log")"
[ "$(wc -l < "$T/split/metrics.csv")" -eq 5 ] || fail "metrics.csv after resume should have 4 rows"
same_run "$T/straight" "$T/split"
[ -f "$T/split/best.h5" ] || fail "no best.h5"
grep -q '"event":"resume"' "$T/split/events.jsonl" || fail "events.jsonl lacks the resume event"

# the same with AdamW, a one-cycle schedule and clipping: optimizer moments
# and the schedule position travel in the checkpoint
OPT=(--optimizer adamw --lr 0.003 --weight-decay 0.01 --schedule onecycle --clip 1.0)
"$BUILD/dltrain" train "${ARGS[@]}" "${OPT[@]}" --model "$T/net.txt" --epochs 3 --out "$T/adam" > "$T/adam.log"
"${MPI[@]}" -np 4 "$BUILD/dltrain" train "${ARGS[@]}" "${OPT[@]}" --model "$T/net.txt" --epochs 3 --out "$T/adam2" \
  --checkpoint-every 50 > "$T/adam2a.log" &
"${MPI[@]}" -np 2 "$BUILD/dltrain" train "${ARGS[@]}" "${OPT[@]}" --model "$T/net.txt" --epochs 3 --stop-after 1 \
  --out "$T/adam1" > "$T/adam1.log"
grep -q "stopped after epoch 1 of 3 (--stop-after)" "$T/adam1.log" || fail "--stop-after not reported"
wait
"$BUILD/dltrain" train "${ARGS[@]}" "${OPT[@]}" --epochs 3 --out "$T/adam1" --resume "$T/adam1/last.h5" > "$T/adam1b.log"
same_run "$T/adam" "$T/adam1"
same_run "$T/adam" "$T/adam2"
h5ls -r "$T/adam/last.h5" | grep -q "/optim/exp_avg_sq/fc2/bias" || fail "AdamW state not in the checkpoint"
expect_error "holds adamw optimizer state, this run uses sgd" \
  "$BUILD/dltrain" train "${ARGS[@]}" --epochs 4 --out "$T/x" --resume "$T/adam/last.h5"

# SIGTERM in the middle of epoch 2 (a quarter-epoch progress line is printed
# at step 16 of 64), on a bare process as SLURM signals it
"$BUILD/dltrain" train "${BASE[@]}" --model "$T/net.txt" --epochs 4 --out "$T/term" > "$T/term.log" 2>&1 &
pid=$!
for _ in $(seq 3000); do grep -q "epoch 2: 16/64" "$T/term.log" && break; sleep 0.01; done
kill -TERM $pid
rc=0; wait $pid || rc=$?
[ "$rc" -eq 3 ] || { cat "$T/term.log"; fail "SIGTERM: exit status $rc, expected 3"; }
grep -q "stopped by SIGTERM after epoch 2 step" "$T/term.log" || fail "no stop message: $(cat "$T/term.log")"
grep -q "resume: add --resume $T/term/last.h5" "$T/term.log" || fail "no resume hint"
step=$(grep -o "after epoch 2 step [0-9]*" "$T/term.log" | grep -o "[0-9]*$")
[ "$step" -gt 0 ] && [ "$step" -lt 64 ] || fail "stopped at step $step, not mid-epoch"
"${MPI[@]}" -np 2 "$BUILD/dltrain" train "${ARGS[@]}" --epochs 4 --out "$T/term" --resume "$T/term/last.h5" > "$T/term2.log"
grep -q "resuming $T/term/last.h5: epoch 2, step $step of it" "$T/term2.log" || fail "mid-epoch resume not reported"
same_run "$T/straight" "$T/term"

# the same through launch/mpirun.sh on 2 ranks: it turns SIGTERM into the
# SIGUSR1 that mpirun forwards, and both ranks stop after the same step
bash "$SRC/launch/mpirun.sh" -np 2 "$BUILD/dltrain" train "${BASE[@]}" --model "$T/net.txt" --epochs 4 \
  --out "$T/wrap" > "$T/wrap.log" 2>&1 &
pid=$!
for _ in $(seq 3000); do grep -q "epoch 1: 16/64" "$T/wrap.log" && break; sleep 0.01; done
kill -TERM $pid
rc=0; wait $pid || rc=$?
[ "$rc" -eq 3 ] || { cat "$T/wrap.log"; fail "launch/mpirun.sh + SIGTERM: exit status $rc, expected 3"; }
grep -q "stopped by SIGUSR1 after epoch 1 step" "$T/wrap.log" || fail "no stop message through mpirun"
"${MPI[@]}" -np 4 "$BUILD/dltrain" train "${ARGS[@]}" --epochs 4 --out "$T/wrap" --resume "$T/wrap/last.h5" > "$T/wrap2.log"
same_run "$T/straight" "$T/wrap"

# SIGKILL while writing checkpoints every step (fmnist-tfdoc: 13 MB each):
# last.h5 is always a whole, loadable checkpoint
# (the kills come at offsets after the first checkpoint appears, so a loaded
# machine or a slow fsync cannot make the test miss the writes)
for delay in 0.05 0.3 0.7; do
  rm -rf "$T/kill"
  "$BUILD/dltrain" train "${ARGS[@]}" --model fmnist-tfdoc --epochs 1 --checkpoint-every 1 --out "$T/kill" >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 6000); do [ -f "$T/kill/last.h5" ] && break; sleep 0.01; done
  [ -f "$T/kill/last.h5" ] || fail "no checkpoint written in 60 s with --checkpoint-every 1"
  sleep $delay
  kill -KILL $pid; wait $pid 2>/dev/null || true
  h5dump -a /step "$T/kill/last.h5" >/dev/null || fail "last.h5 torn by SIGKILL"
  h5dump -d /params/fc1/weight -c 1,1 "$T/kill/last.h5" >/dev/null || fail "last.h5 params unreadable after SIGKILL"
done
"$BUILD/dltrain" train "${ARGS[@]}" --epochs 1 --out "$T/kill" --resume "$T/kill/last.h5" >/dev/null \
  || fail "cannot resume from the checkpoint left by SIGKILL"

# dltrain eval reproduces the validation figures of the epoch best.h5 was saved at
acc=$(tail -n +2 "$T/straight/metrics.csv" | sort -t, -k4 -g | tail -1 | cut -d, -f4)
"$BUILD/dltrain" eval --checkpoint "$T/straight/best.h5" --data "$T/valid.h5" --csv "$T/eval.csv" > "$T/eval.log"
grep -q "accuracy $(printf %.4f "$acc")" "$T/eval.log" || fail "eval accuracy differs from metrics.csv ($acc): $(head -2 "$T/eval.log")"
grep -q "^9,.*" "$T/eval.csv" && grep -q "^macro_avg," "$T/eval.csv" || fail "eval.csv lacks class rows"

# a numerical fault: lr 1e12 makes the loss NaN within a few steps. The run
# stops naming epoch and step; --skip-nonfinite skips such steps instead
expect_error "at epoch 1 step " "$BUILD/dltrain" train "${ARGS[@]}" --model "$T/net.txt" --epochs 1 --lr 1e12 --out "$T/nan"
expect_error "or --skip-nonfinite" "$BUILD/dltrain" train "${ARGS[@]}" --model "$T/net.txt" --epochs 1 --lr 1e12 --out "$T/nan"
"$BUILD/dltrain" train "${ARGS[@]}" --model "$T/net.txt" --epochs 1 --lr 1e12 --out "$T/nan2" --skip-nonfinite > "$T/nan2.log" \
  || fail "--skip-nonfinite run failed: $(tail -2 "$T/nan2.log")"
grep -q "skipped epoch 1 step [0-9]*: non-finite loss or gradient" "$T/nan2.log" || fail "no skipped step reported"

# wrong resumes
expect_error "was trained with another model than 'fmnist-bn': drop --model" \
  "$BUILD/dltrain" train "${ARGS[@]}" --model fmnist-bn --epochs 5 --out "$T/x" --resume "$T/straight/last.h5"
expect_error "--batch 64 contradicts the checkpoint's batch 32" \
  "$BUILD/dltrain" train "${ARGS[@]}" --batch 64 --epochs 5 --out "$T/x" --resume "$T/straight/last.h5"
fm_train 1024 "$T/other.h5"
expect_error "was trained on 2048 images but this run has 1024" \
  "$BUILD/dltrain" train "${ARGS[@]}" --train "$T/other.h5" --epochs 5 --out "$T/x" --resume "$T/straight/last.h5"
expect_error "has already trained 4 epochs: raise --epochs" \
  "$BUILD/dltrain" train "${ARGS[@]}" --epochs 4 --out "$T/x" --resume "$T/straight/last.h5"
printf 'not a checkpoint' > "$T/bad.h5"
expect_error "cannot open checkpoint '$T/bad.h5'" \
  "$BUILD/dltrain" train "${ARGS[@]}" --epochs 4 --out "$T/x" --resume "$T/bad.h5"
echo "cli_resume: passed"
