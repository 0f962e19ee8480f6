#!/usr/bin/env bash
# scaling_model.sh BUILD: the README's scaling model (a benchmark, not a test).
#  1. measures the exchange on 2 ranks (one per core) for --groups 2
#     (recursive halving) and --groups 6 (the tree exchange), sizes from
#     4 KB to 47 MB, REPEAT rounds alternating (best per point), and the
#     sums' cost per float (gamma);
#  2. fits t = 2 alpha + bytes / beta + adds * gamma for this machine
#     (least squares of relative errors over the points, gamma measured);
#  3. evaluates the model for N = 8 ... 512 on a 100 Gb/s, 5 us network
#     (alpha 5 us, beta 12.5 GB/s, gamma as measured) for resnet18's and
#     mobilenet_v2's gradients (11.7M and 3.5M floats):
#       ring:                 2 (N-1) alpha + 2 (N-1)/N 4n/beta + (N-1)/N n gamma
#       power-of-two G:       2 log2(N) alpha + 2 (N-1)/N 4n/beta + (N-1)/N n gamma
#       other G, k subtrees:  2 (N-1) alpha + (k+1) (N-1)/N 4n/beta + (kN-1)/N n gamma
#     and the step time with COMPUTE_MS (per rank, optional: "name=ms,...").
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
REPEAT=${REPEAT:-2}
MPI=(mpirun --bind-to core -np 2)
[ "$(id -u)" -eq 0 ] && MPI+=(--allow-run-as-root)
SIZES=${SIZES:-0.004 0.04 0.4 1 4 16 46.8}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
for r in $(seq "$REPEAT"); do
  for g in 2 6; do
    "${MPI[@]}" "$BUILD/tests/bench_allreduce" --groups $g $SIZES > "$T/g$g.$r"
  done
done
gamma=$(cat "$T"/g2.* | awk '/local sum:/ { v = $3; if (best == "" || v < best) best = v } END { print best }')
echo "gamma (local sum): $gamma ns per float"
echo "measured on 2 ranks (best of $REPEAT): groups MB floats bytes_sent ms"
for g in 2 6; do
  cat "$T"/g$g.* | awk -v g=$g '$1 ~ /^[0-9.]+$/ && NF == 7 { k = $1; if (!(k in best) || $7 < best[k]) { best[k] = $7; n[k] = $2; s[k] = $3 } }
    END { for (k in best) printf "%d %s %s %s %s\n", g, k, n[k], s[k], best[k] }' | sort -k2 -g
done > "$T/points"
cat "$T/points"
# least squares of y = t - adds*gamma (adds: n/2 on 2 ranks) on x = bytes, y = a + x / beta,
# weighted by 1/y^2 (relative errors: the points span 5 decades)
read -r alpha beta < <(awk -v gm="$gamma" '{ x = $4; y = $5 * 1e-3 - $3 / 2 * gm * 1e-9; if (y <= 0) next; w = 1 / (y * y)
    sw += w; sx += w * x; sy += w * y; sxx += w * x * x; sxy += w * x * y }
  END { b = (sw * sxy - sx * sy) / (sw * sxx - sx * sx); a = (sy - b * sx) / sw; printf "%g %g\n", a / 2, 1 / b }' "$T/points")
echo "fit on this machine: alpha $(awk -v a="$alpha" 'BEGIN { printf "%.1f us", a * 1e6 }'), beta $(awk -v b="$beta" 'BEGIN { printf "%.2f GB/s", b / 1e9 }')"
awk -v a="$alpha" -v b="$beta" -v gm="$gamma" '{ n = $3; p = 2 * a + $4 / b + n / 2 * gm * 1e-9; printf "  groups %d, %s MB: measured %.3f ms, model %.3f ms\n", $1, $2, $5, p * 1e3 }' "$T/points"
echo
echo "model on 100 Gb/s, 5 us (gamma as measured): exchange ms per step; step = compute + exchange"
awk -v gm="$gamma" -v cms="${COMPUTE_MS:-}" 'BEGIN {
  a = 5e-6; b = 12.5e9; g = gm * 1e-9
  split("resnet18 11.7e6 mobilenet_v2 3.5e6", m, " ")
  nc = split(cms, cc, ","); for (i = 1; i <= nc; i++) { split(cc[i], kv, "="); comp[kv[1]] = kv[2] }
  for (j = 1; j <= 3; j += 2) {
    name = m[j]; n = m[j + 1]
    printf "%s (%.1fM floats)%s\n", name, n / 1e6, (name in comp) ? sprintf(", compute %s ms per step per rank", comp[name]) : ""
    printf "%6s %10s %12s %12s %12s", "N", "ring", "ours pow2 G", "ours k=2", "k=2 / ring"
    if (name in comp) printf " %10s %10s", "eff ring", "eff k=2"
    printf "\n"
    for (N = 8; N <= 512; N *= 2) {
      ring = 2 * (N - 1) * a + 2 * (N - 1) / N * 4 * n / b + (N - 1) / N * n * g
      p2 = 2 * log(N) / log(2) * a + 2 * (N - 1) / N * 4 * n / b + (N - 1) / N * n * g
      k2 = 2 * (N - 1) * a + 3 * (N - 1) / N * 4 * n / b + (2 * N - 1) / N * n * g
      printf "%6d %10.2f %12.2f %12.2f %12.2f", N, ring * 1e3, p2 * 1e3, k2 * 1e3, k2 / ring
      if (name in comp) { c = comp[name]; printf " %10.2f %10.2f", c / (c + ring * 1e3), c / (c + k2 * 1e3) }
      printf "\n"
    }
  }
}'
