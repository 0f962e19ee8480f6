#!/usr/bin/env bash
# cli_ranks.sh BUILD SRC: any number of ranks that divides --groups, with
# real MPI ranks (oversubscribed) on real Fashion-MNIST images.
#  - --groups 12 on -np 1, 2, 3, 4 and 6 (augmentation and dropout on)
#    writes bitwise identical checkpoints and metrics; 2 threads per rank
#    (other runs of groups per thread) too;
#  - a run started on 2 ranks resumes on 3 exactly;
#  - --profile counts the bytes each rank sends per step: the README's
#    formula, exactly, and at most 1.5x a ring allreduce's;
#  - -np that does not divide --groups is refused with the -np and the
#    --groups that work.
set -euo pipefail
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
source "$SRC/tests/lib/common.sh"
export OPENBLAS_NUM_THREADS=1

fm_train 1152 "$T/train.h5"
fm_test 128 "$T/valid.h5"
small_net "$T/net.txt" 0.3
ARGS=(--train "$T/train.h5" --valid "$T/valid.h5" --batch 48 --groups 12 --lr 0.05 --no-progress
      --augment hflip,translate=2,brightness=0.1)

train() {  # train NP OUT [extra flags...]
  local np=$1 out=$2; shift 2
  "${MPI[@]}" -np "$np" "$BUILD/dltrain" train "${ARGS[@]}" --out "$out" "$@" > "$out.log" 2>&1 \
    || { cat "$out.log"; fail "train -np $np failed"; }
}

for np in 1 2 3 4 6; do train "$np" "$T/np$np" --model "$T/net.txt" --epochs 2 --profile; done
OPENBLAS_NUM_THREADS=2 train 1 "$T/np1t2" --model "$T/net.txt" --epochs 2
OPENBLAS_NUM_THREADS=2 train 2 "$T/np2t2" --model "$T/net.txt" --epochs 2
for run in np2 np3 np4 np6 np1t2 np2t2; do same_run "$T/np1" "$T/$run"; done
# the comparison can fail: 6 groups instead of 12 (other batch-norm groups) gives other bytes
train 2 "$T/g6" --model "$T/net.txt" --epochs 2 --groups 6
h5diff -q "$T/np1/last.h5" "$T/g6/last.h5" >/dev/null && fail "--groups 6 gave the same weights as --groups 12"

# one epoch on 2 ranks, the second on 3, resumed from last.h5
train 2 "$T/split" --model "$T/net.txt" --epochs 1
train 3 "$T/split" --epochs 2 --resume "$T/split/last.h5"
grep -q "resuming $T/split/last.h5: epoch 2, step 0" "$T/split.log" || fail "resume not reported: $(cat "$T/split.log")"
same_run "$T/np1" "$T/split"

# traffic: n floats per buffer; rank r sends 4 (k_r (n - n_r) + (N - 1) n_r)
# bytes (k_r: its subtrees; n_r: its slice, n/N rounded), a ring 8 (N-1) n / N.
# G = 12: N = 2 has k = 1 on both ranks (4 n), N = 3 has k = 2 on ranks 1, 2 (8 n).
n=$(grep -o "([0-9]* floats" "$T/np2.log" | head -1 | tr -dc 0-9)
[ -n "$n" ] || fail "no exchange line in --profile: $(cat "$T/np2.log")"
for np in 2 3 4 6; do
  line=$(grep "exchange:" "$T/np$np.log" | head -1)
  ratio=$(grep -o "[0-9.]*x a ring" <<<"$line" | tr -dc 0-9.)
  awk -v r="$ratio" 'BEGIN { exit !(r > 0.99 && r <= 1.5) }' || fail "-np $np: $ratio x a ring's bytes: $line"
done
grep -q "exchange: $((4 * n)) bytes sent per rank per step" "$T/np2.log" || fail "np 2: expected $((4 * n)) bytes: $(grep exchange: "$T/np2.log")"
grep -q "exchange: $((8 * n)) bytes sent per rank per step" "$T/np3.log" || fail "np 3: expected $((8 * n)) bytes: $(grep exchange: "$T/np3.log")"
grep -q "2 subtrees per rank at most" "$T/np4.log" || fail "np 4: expected 2 subtrees"

expect_error "5 ranks cannot share 12 groups with identical results: run with -np 1, 2, 3, 4, 6, 12, or with --groups 5, 10, 15, 20, 30, 60 for -np 5 (--batch 60)" \
  "${MPI[@]}" -np 5 "$BUILD/dltrain" train "${ARGS[@]}" --batch 60 --model "$T/net.txt" --out "$T/x"
expect_error "--groups must be 1 ... 1024 (got 2000)" \
  "$BUILD/dltrain" train "${ARGS[@]}" --batch 4000 --groups 2000 --model "$T/net.txt" --out "$T/x"
echo "cli_ranks: 1 passed, 0 failed"
