#!/usr/bin/env bash
# bench/epoch.sh SPEC [--epochs N] [--threads T] [--train N] [--set KEY=VALUE ...]
#
# Trains SPEC for a few epochs on its training data only (no test set, no
# pictures, no periodic checkpoints, so an epoch is one pass of training) and
# reports, from the same run: the median seconds per epoch and examples/s,
# the GEMM-bound time of an epoch's training steps (bench_gemm, the exact
# GEMM calls replayed, median of 5), their ratio, and the peak resident memory
# (/usr/bin/time -v).  Prints one summary line starting with "epoch:".
# Defaults: 4 epochs (the first is reported but not in the median), the
# spec's threads.  Needs build/aetrain and build/bench_gemm.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
spec=${1:?usage: bench/epoch.sh SPEC [--epochs N] [--threads T] [--train N] [--set K=V ...]}
shift
epochs=4 threads=0 train=0
extra=()
while (($#)); do
    case $1 in
    --epochs) epochs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --train) train=$2; shift 2 ;;
    --set) extra+=(--set "$2"); shift 2 ;;
    *) echo "bench/epoch.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
if [ ! -x "$root/build/aetrain" ] || [ ! -x "$root/build/bench_gemm" ]; then
    echo "bench/epoch.sh: build first (cmake -S . -B build && cmake --build build)" >&2
    exit 2
fi
if [ "$threads" = 0 ]; then threads=$(nproc); fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$root"
/usr/bin/time -v "$root/build/aetrain" --config "$spec" --epochs "$epochs" --threads "$threads" \
    --set data.test=\"\" --set data.test_labels=\"\" --set data.validation=0 \
    --set output.images=false --set output.checkpoint_every=0 \
    --set data.train_limit="$train" "${extra[@]}" --out "$out/run" --quiet 2>"$out/time.txt"
rss_kb=$(awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); print $2 }' "$out/time.txt")
# examples per epoch = seconds x examples/s (both printed to 4+ digits)
n=$(awk -F, 'NR == 2 { printf "%d", $(NF - 1) * $NF + 0.5 }' "$out/run/metrics.csv")
# median of the epochs after the first (warm-up)
read -r secs exs < <(awk -F, 'NR > 2 { print $(NF - 1), $NF }' "$out/run/metrics.csv" |
    sort -n | awk '{ s[NR] = $1; e[NR] = $2 } END { m = int((NR + 1) / 2); print s[m], e[m] }')
[ -n "$secs" ] || read -r secs exs < <(awk -F, 'NR == 2 { print $(NF - 1), $NF }' "$out/run/metrics.csv")
# the GEMM floor of the same epoch: median of 5 replays (2-thread BLAS timings vary)
gemm=$(for _ in 1 2 3 4 5; do
    "$root/build/bench_gemm" "$spec" --threads "$threads" --train "${n:-60000}" --test 0 --reps 20 \
        "${extra[@]}" | awk '/GEMM-bound epoch/ { for (i = 1; i <= NF; i++) if ($i == "steps") print $(i + 1) }'
done | sort -n | sed -n 3p)
ratio=$(awk -v a="$secs" -v b="$gemm" 'BEGIN { printf "%.2f", a / b }')
echo "epoch: spec $(basename "$spec") threads $threads examples ${n:-?} seconds $secs examples_per_sec $exs gemm_bound $gemm ratio $ratio peak_rss_mb $((rss_kb / 1024))"
