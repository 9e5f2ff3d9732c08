#!/usr/bin/env bash
# bench/compare.sh [--runs N] [--threads "1 2"] [--epochs E]
#
# Ours against PyTorch on configs/vae.json (784-400-20, batch 128, Adam 1e-3,
# Bernoulli likelihood), side by side in one run, at each thread count T:
#   - aetrain on each GEMM backend of this build (train.backend onednn and
#     openblas),
#   - PyTorch (Debian's python3-torch, /usr/bin/python3, bench/torch_vae.py)
#     in its best thread setup on this machine: torch.set_num_threads(1) with
#     OMP_NUM_THREADS=1 and OPENBLAS_NUM_THREADS=T (its OpenMP pool and
#     OpenBLAS's spin against each other when both have 2 threads: 2.5-3x
#     slower; see docs/performance.md), and as a reference PyTorch with
#     set_num_threads(T), OMP_NUM_THREADS=T and OPENBLAS_NUM_THREADS=1.
# They take turns, N times each (default 3), each training E epochs (default
# 3) on the 60,000 MNIST training images; the first epoch of every run is a
# warm-up and left out.  Each times its training loop only (aetrain's
# metrics "seconds", torch_vae.py's "seconds").  Prints a markdown table:
# median seconds per epoch, speed-up against the best PyTorch setup at that
# thread count, and peak RSS (/usr/bin/time).  Without PyTorch its rows are
# skipped with a message.
set -euo pipefail
runs=3 threads="1 2" epochs=3
while (($#)); do
    case $1 in
    --runs) runs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    *) echo "bench/compare.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup compare "" aetrain
py=/usr/bin/python3
have_torch=1
if ! "$py" -c 'import torch' 2>/dev/null; then
    echo "bench/compare.sh: PyTorch is not installed (apt-get install python3-torch): only ours is timed" >&2
    have_torch=0
fi
backends=(openblas)
if "$root/build/aetrain" --version | grep -q 'backend onednn'; then
    backends=(onednn openblas)
fi
M=$root/data/mnist

# ours BACKEND T -> appends epoch seconds to $out/ours-BACKEND-T, peak KB to .rss
ours() {
    local b=$1 t=$2
    /usr/bin/time -f '%M' -o "$out/time" "$root/build/aetrain" --config "$root/configs/vae.json" \
        --set "data.train=\"$M/train-images-idx3-ubyte.gz\"" --set 'data.train_labels=""' \
        --set 'data.test=""' --set 'data.test_labels=""' --set output.images=false \
        --set output.checkpoint_every=0 --set train.backend="$b" --epochs "$epochs" \
        --threads "$t" --out "$out/run" --quiet
    awk -F, 'NR > 2 { print $(NF - 1) }' "$out/run/metrics.csv" >>"$out/ours-$b-$t"
    tail -1 "$out/time" >>"$out/ours-$b-$t.rss"
}
# torch SETUP T: best = 1 OpenMP thread + OpenBLAS T; omp = T OpenMP threads + OpenBLAS 1
torch() {
    local s=$1 t=$2 omp blas
    if [ "$s" = best ]; then omp=1 blas=$t; else omp=$t blas=1; fi
    OMP_NUM_THREADS=$omp OPENBLAS_NUM_THREADS=$blas /usr/bin/time -f '%M' -o "$out/time" \
        "$py" "$root/bench/torch_vae.py" --epochs "$epochs" --threads "$omp" --no-test \
        --mnist "$M" | awk '$1 == "epoch" && $2 > 1 { print $NF }' >>"$out/torch-$s-$t"
    tail -1 "$out/time" >>"$out/torch-$s-$t.rss"
}
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $epochs epochs x $runs runs each, first epoch of each run left out"
echo
echo "| threads | what | median s/epoch | speed-up vs PyTorch best | peak RSS MB |"
echo "|---|---|---|---|---|"
for t in $threads; do
    for ((r = 1; r <= runs; r++)); do
        for b in "${backends[@]}"; do ours "$b" "$t"; done
        if ((have_torch)); then
            torch best "$t"
            ((t == 1)) || torch omp "$t"
        fi
    done
    best=''
    ((have_torch)) && best=$(median "$out/torch-best-$t")
    row() { # label file
        local m rss
        m=$(median "$2")
        rss=$(median "$2.rss")
        awk -v t="$t" -v l="$1" -v m="$m" -v b="$best" -v r="$rss" 'BEGIN {
            s = b == "" ? "" : sprintf("%.2fx", b / m)
            printf "| %s | %s | %.3f | %s | %.0f |\n", t, l, m, s, r / 1024 }'
    }
    for b in "${backends[@]}"; do row "aetrain, train.backend $b" "$out/ours-$b-$t"; done
    if ((have_torch)); then
        v=$("$py" -c 'import torch; print(torch.__version__)')
        row "PyTorch $v best: 1 OpenMP thread, OpenBLAS $t" "$out/torch-best-$t"
        ((t == 1)) || row "PyTorch $v: $t OpenMP threads, OpenBLAS 1" "$out/torch-omp-$t"
    fi
done
