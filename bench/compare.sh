#!/usr/bin/env bash
# bench/compare.sh [--runs N] [--threads "1 2"] [--epochs E]
#
# Ours against PyTorch on configs/vae.json (784-400-20, batch 128, Adam 1e-3,
# Bernoulli likelihood), side by side in one run, at each thread count T:
#   - aetrain on each GEMM backend of this build (train.backend onednn and
#     openblas) in fp32, and with train.precision bf16 (oneDNN) where this
#     CPU runs bf16 (natively, or emulated on plain AVX-512),
#   - PyTorch (Debian's python3-torch, /usr/bin/python3, bench/torch_vae.py)
#     in fp32 and with bf16 autocast (--bf16), each in both thread setups:
#     "1 OpenMP thread, OpenBLAS T" (torch.set_num_threads(1),
#     OMP_NUM_THREADS=1, OPENBLAS_NUM_THREADS=T) and "T OpenMP threads,
#     OpenBLAS 1".  fp32 GEMMs go to OpenBLAS and bf16 ones to oneDNN, which
#     runs on PyTorch's OpenMP pool, so the best setup can differ by
#     precision; at T = 1 the two setups are the same and run once.  Both
#     pools at T threads spin against each other (2.5-3x slower; see
#     docs/performance.md), so that setup is not offered.
# They take turns, N times each (default 3), each training E epochs (default
# 3) on the 60,000 MNIST training images; the first epoch of every run is a
# warm-up and left out.  Each times its training loop only (aetrain's
# metrics "seconds", torch_vae.py's "seconds").  Prints a markdown table:
# median seconds per epoch, the speed-up against PyTorch's best setup in
# fp32 and in bf16 at that thread count (the faster of its two setups), and
# peak RSS (/usr/bin/time).  Without PyTorch its rows are skipped with a
# message.
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
bench_setup compare "" aetrain aeencode bench_step bench_gemm
py=/usr/bin/python3
have_torch=1
if ! "$py" -c 'import torch' 2>/dev/null; then
    echo "bench/compare.sh: PyTorch is not installed (apt-get install python3-torch): only ours is timed" >&2
    have_torch=0
fi
# ours: "backend:precision" pairs
ours_runs=(openblas:fp32)
if "$root/build/aetrain" --version | grep -q 'backend onednn'; then
    ours_runs=(onednn:fp32 openblas:fp32)
    if "$root/build/aetrain" --version | grep -Eq 'bf16 (native|emulated)'; then
        ours_runs=(onednn:fp32 onednn:bf16 openblas:fp32)
    fi
fi
M=$root/data/mnist

# ours BACKEND:PRECISION T -> appends epoch seconds to $out/ours-B-P-T, peak KB to .rss
ours() {
    local b=${1%:*} p=${1#*:} t=$2
    /usr/bin/time -f '%M' -o "$out/time" "$root/build/aetrain" --config "$root/configs/vae.json" \
        --set "data.train=\"$M/train-images-idx3-ubyte.gz\"" --set 'data.train_labels=""' \
        --set 'data.test=""' --set 'data.test_labels=""' --set output.images=false \
        --set output.checkpoint_every=0 --set train.backend="$b" --precision "$p" \
        --epochs "$epochs" --threads "$t" --out "$out/run" --quiet
    awk -F, 'NR > 2 { print $(NF - 1) }' "$out/run/metrics.csv" >>"$out/ours-$b-$p-$t"
    tail -1 "$out/time" >>"$out/ours-$b-$p-$t.rss"
}
# torch PRECISION SETUP T: SETUP omp1 = 1 OpenMP thread + OpenBLAS T;
# ompT = T OpenMP threads + OpenBLAS 1
torch() {
    local p=$1 s=$2 t=$3 omp blas flag=()
    if [ "$s" = omp1 ]; then omp=1 blas=$t; else omp=$t blas=1; fi
    [ "$p" = bf16 ] && flag=(--bf16)
    OMP_NUM_THREADS=$omp OPENBLAS_NUM_THREADS=$blas /usr/bin/time -f '%M' -o "$out/time" \
        "$py" "$root/bench/torch_vae.py" --epochs "$epochs" --threads "$omp" --no-test \
        "${flag[@]}" --mnist "$M" | awk '$1 == "epoch" && $2 > 1 { print $NF }' >>"$out/torch-$p-$s-$t"
    tail -1 "$out/time" >>"$out/torch-$p-$s-$t.rss"
}
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(grep -o -E 'amx_bf16|avx512_bf16|avx512f' /proc/cpuinfo | sort -u | tr '\n' ' ')"
"$root/build/aetrain" --version
echo "$epochs epochs x $runs runs each, first epoch of each run left out"
echo
echo "| threads | what | median s/epoch | vs PyTorch best fp32 | vs PyTorch best bf16 | peak RSS MB |"
echo "|---|---|---|---|---|---|"
for t in $threads; do
    setups=(omp1)
    ((t == 1)) || setups=(omp1 ompT)
    for ((r = 1; r <= runs; r++)); do
        for o in "${ours_runs[@]}"; do ours "$o" "$t"; done
        if ((have_torch)); then
            for p in fp32 bf16; do
                for s in "${setups[@]}"; do torch "$p" "$s" "$t"; done
            done
        fi
    done
    best32='' best16=''
    if ((have_torch)); then
        for p in fp32 bf16; do
            b=''
            for s in "${setups[@]}"; do
                m=$(median "$out/torch-$p-$s-$t")
                if [ -z "$b" ] || awk -v m="$m" -v b="$b" 'BEGIN { exit !(m < b) }'; then b=$m; fi
            done
            if [ "$p" = fp32 ]; then best32=$b; else best16=$b; fi
        done
    fi
    row() { # label file
        local m rss
        m=$(median "$2")
        rss=$(median "$2.rss")
        awk -v t="$t" -v l="$1" -v m="$m" -v b="$best32" -v c="$best16" -v r="$rss" 'BEGIN {
            s = b == "" ? "" : sprintf("%.2fx", b / m)
            u = c == "" ? "" : sprintf("%.2fx", c / m)
            printf "| %s | %s | %.3f | %s | %s | %.0f |\n", t, l, m, s, u, r / 1024 }'
    }
    for o in "${ours_runs[@]}"; do
        row "aetrain, train.backend ${o%:*}, precision ${o#*:}" "$out/ours-${o%:*}-${o#*:}-$t"
    done
    if ((have_torch)); then
        v=$("$py" -c 'import torch; print(torch.__version__)')
        for p in fp32 bf16; do
            for s in "${setups[@]}"; do
                if [ "$s" = omp1 ]; then d="1 OpenMP thread, OpenBLAS $t"; else d="$t OpenMP threads, OpenBLAS 1"; fi
                l="PyTorch $v fp32: $d"
                [ "$p" = bf16 ] && l="PyTorch $v bf16 autocast: $d"
                row "$l" "$out/torch-$p-$s-$t"
            done
        done
    fi
done

# The GEMMs inside a training step (bench_step: each call's wall time summed,
# median of 300 steps) against the same calls replayed on their own
# (bench_gemm: median of 30 per call), and what the rest of the step costs.
echo
echo "| threads | backend, precision | step ms | GEMMs in the step ms | GEMM replay ms | in-step / replay | rest of the step ms |"
echo "|---|---|---|---|---|---|---|"
for t in $threads; do
    for o in "${ours_runs[@]}"; do
        set_=(--set train.backend="${o%:*}" --set train.precision="${o#*:}")
        s=$("$root/build/bench_step" "$root/configs/vae.json" --threads "$t" "${set_[@]}" | tail -1)
        g=$("$root/build/bench_gemm" "$root/configs/vae.json" --threads "$t" "${set_[@]}" |
            sed -n 's/^GEMM time per training step *\([0-9.]*\) ms.*/\1/p')
        awk -v t="$t" -v o="${o%:*}, ${o#*:}" -v s="$s" -v g="$g" 'BEGIN {
            match(s, /step [0-9.]+ ms/); st = substr(s, RSTART + 5, RLENGTH - 8) + 0
            match(s, /step [0-9.]+ ms, the rest/); i = substr(s, RSTART, RLENGTH)
            match(s, /GEMMs within the step [0-9.]+/); gi = substr(s, RSTART + 22, RLENGTH - 22) + 0
            printf "| %s | %s | %.3f | %.3f | %.3f | %.2fx | %.3f |\n", t, o, st, gi, g, gi / g, st - gi }'
    done
done

# aeencode: the 10,000 test images through a model trained for one epoch,
# wall time of the whole program (median of 5) and peak RSS.
"$root/build/aetrain" --config "$root/configs/vae.json" --set "data.train=\"$M/train-images-idx3-ubyte.gz\"" \
    --set 'data.train_labels=""' --set 'data.test=""' --set 'data.test_labels=""' \
    --set output.images=false --epochs 1 --out "$out/enc" --quiet
echo
echo "| threads | aeencode of the 10,000 test images, precision | median s | peak RSS MB |"
echo "|---|---|---|---|"
precs=(fp32)
for o in "${ours_runs[@]}"; do [ "$o" = onednn:bf16 ] && precs=(fp32 bf16); done
for t in $threads; do
    for p in "${precs[@]}"; do
        : >"$out/enc-s"
        : >"$out/enc-s.rss"
        for ((r = 1; r <= 5; r++)); do
            /usr/bin/time -f '%e %M' -o "$out/time" "$root/build/aeencode" --model "$out/enc/model.safetensors" \
                --data "$M/t10k-images-idx3-ubyte.gz" --out "$out/codes.npy" --threads "$t" --precision "$p"
            awk '{ print $1 }' "$out/time" >>"$out/enc-s"
            awk '{ print $2 }' "$out/time" >>"$out/enc-s.rss"
        done
        awk -v t="$t" -v p="$p" -v s="$(median "$out/enc-s")" -v r="$(median "$out/enc-s.rss")" \
            'BEGIN { printf "| %s | %s | %.2f | %.0f |\n", t, p, s, r / 1024 }'
    done
done
