# common.sh: helpers sourced by the tests/cli_*.sh scripts.
FM=/usr/share/datasets/fashion-mnist
MPI=(mpirun --oversubscribe --bind-to none)
[ "$(id -u)" -eq 0 ] && MPI+=(--allow-run-as-root)

fail() { echo "FAIL: $*" >&2; exit 1; }

# fm_train N OUT [FLAGS...] / fm_test N OUT [FLAGS...]: the first N Fashion-MNIST
# training / test images as a dataset file (dlprep idx; $BUILD set by the caller)
fm_train() { "$BUILD/dlprep" idx --images $FM/train-images-idx3-ubyte.gz --labels $FM/train-labels-idx1-ubyte.gz --limit "$1" -o "$2" "${@:3}" >/dev/null; }
fm_test() { "$BUILD/dlprep" idx --images $FM/t10k-images-idx3-ubyte.gz --labels $FM/t10k-labels-idx1-ubyte.gz --limit "$1" -o "$2" "${@:3}" >/dev/null; }

# expect_error "message part" command...: non-zero exit, message contains the part
expect_error() {
  local want=$1; shift
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  [ "$rc" -ne 0 ] || fail "expected failure: $*"
  grep -qF -- "$want" <<<"$out" || fail "message for '$*' lacks '$want': $out"
}

# same_run RUN_A RUN_B: the checkpoints hold identical bytes in every tensor
# (parameters, batch-norm statistics, optimizer state) and the same position
# attributes, and metrics.csv agrees in epoch, train_loss, valid_loss and
# accuracy (time and images/s differ from run to run).
same_run() {
  local a=$1/last.h5 b=$2/last.h5
  h5diff --exclude-attribute / "$a" "$b" >/dev/null \
    || { h5diff -r --exclude-attribute / "$a" "$b" | grep -v "^0 differences" | head -8 || true; fail "$b differs from $a"; }
  local attr
  for attr in epoch step epoch_step epoch_loss_sum seed batch groups best_value model; do
    [ "$(h5dump -a "/$attr" "$a" | tail -n +2)" = "$(h5dump -a "/$attr" "$b" | tail -n +2)" ] \
      || fail "attribute $attr differs: $a vs $b"
  done
  diff <(cut -d, -f1-4 "$1/metrics.csv") <(cut -d, -f1-4 "$2/metrics.csv") >/dev/null \
    || { diff <(cut -d, -f1-4 "$1/metrics.csv") <(cut -d, -f1-4 "$2/metrics.csv"); fail "$2/metrics.csv differs from $1"; }
}

# small_net FILE [DROPOUT]: two conv + batch-norm blocks and two dense layers
# (every kind of state), with a dropout layer before the head when given
small_net() {
  {
    printf 'conv    name=conv1 filters=8 size=3 pad=same\nbn      name=bn1\nrelu\nmaxpool size=2\n'
    printf 'conv    name=conv2 filters=16 size=3 pad=same\nbn      name=bn2\nrelu\nmaxpool size=2\n'
    printf 'dense   name=fc1 units=32\nrelu\n'
    [ -n "${2:-}" ] && printf 'dropout rate=%s\n' "$2"
    printf 'dense   name=fc2 units=classes\n'
  } > "$1"
}

# fm_tags_csv IMGDIR: a Planet-style multi-label list (image_name,tags) for a
# folder of Fashion-MNIST class folders (dlprep export), with made-up tags
# per class; Bag gets none
fm_tags_csv() {
  echo "image_name,tags"
  local dir cls tags f
  for dir in "$1"/*/; do
    cls=$(basename "$dir")
    case $cls in
      T-shirt_top|Shirt) tags="clothing upper" ;;  Trouser) tags="clothing lower" ;;  Dress) tags="clothing" ;;
      Pullover|Coat) tags="clothing upper warm" ;;  Sandal) tags="footwear summer" ;;  Sneaker) tags="footwear" ;;
      "Ankle boot") tags="footwear warm" ;;  Bag) tags="" ;;
    esac
    for f in "$dir"*.jpg; do echo "$cls/$(basename "$f" .jpg),$tags"; done
  done
}
