#!/usr/bin/env bash
# bench/compare.sh [--runs N] [--threads T] [--epochs E]
#
# Ours against PyTorch on configs/vae.json (784-400-20, batch 128, Adam 1e-3,
# Bernoulli likelihood), side by side in one run: aetrain and
# bench/torch_vae.py take turns, N times each, at the same thread count, each
# training E epochs on the 60,000 MNIST training images.  Both time the
# training loop only (aetrain's metrics "seconds", torch_vae.py's
# "seconds"); the first epoch of every run is a warm-up and left out.
# Prints the median seconds per epoch of each and the ratio.  PyTorch is
# Debian's python3-torch run with /usr/bin/python3; without it the PyTorch
# side is skipped with a message.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=3 threads=1 epochs=3
while (($#)); do
    case $1 in
    --runs) runs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    *) echo "bench/compare.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
cd "$root"
[ -x build/aetrain ] || { echo "bench/compare.sh: build first" >&2; exit 2; }
py=/usr/bin/python3
have_torch=1
if ! "$py" -c 'import torch' 2>/dev/null; then
    echo "bench/compare.sh: PyTorch is not installed (apt-get install python3-torch): only ours is timed" >&2
    have_torch=0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/ours"
: >"$tmp/torch"
for ((r = 1; r <= runs; r++)); do
    build/aetrain --config configs/vae.json --epochs "$epochs" --threads "$threads" \
        --set data.test=\"\" --set data.test_labels=\"\" --set output.images=false \
        --set output.checkpoint_every=0 --out "$tmp/run" --quiet
    awk -F, 'NR > 2 { print $(NF - 1) }' "$tmp/run/metrics.csv" >>"$tmp/ours"
    if ((have_torch)); then
        OMP_NUM_THREADS=$threads "$py" bench/torch_vae.py --epochs "$epochs" --threads "$threads" \
            --no-test | awk '$1 == "epoch" && $2 > 1 { print $NF }' >>"$tmp/torch"
    fi
done
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
ours=$(median "$tmp/ours")
echo "ours:    median $ours s/epoch over $(wc -l <"$tmp/ours") epochs ($threads thread(s))"
if ((have_torch)); then
    torch=$(median "$tmp/torch")
    echo "pytorch: median $torch s/epoch over $(wc -l <"$tmp/torch") epochs ($threads thread(s))"
    awk -v a="$torch" -v b="$ours" 'BEGIN { printf "speed-up: %.2fx (PyTorch time / ours)\n", a / b }'
fi
