#!/usr/bin/env bash
# bench/mpi.sh [SPEC] [--epochs N] [--runs R] [--np N]
#
# Data-parallel scaling on this machine, measured side by side: trains SPEC
# (default configs/vae.json, training pass only: no test set, pictures or
# periodic checkpoints) in turn as
#   one process, 1 BLAS thread       build-mpi/aetrain --threads 1
#   one process, N BLAS threads      build-mpi/aetrain --threads N
#   N MPI ranks, 1 thread each       mpirun -np N build-mpi/aetrain --threads 1
# R times each (default 3), and prints the median seconds per epoch of each
# (epochs after the first of every run), examples/s and the speed-up over
# one process with one thread.  Needs build-mpi/ (scripts/test.sh --mpi, or
# cmake -S . -B build-mpi -DAE_MPI=ON && cmake --build build-mpi).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
spec=$root/configs/vae.json
epochs=3 runs=3 np=2
while (($#)); do
    case $1 in
    --epochs) epochs=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --np) np=$2; shift 2 ;;
    -*) echo "bench/mpi.sh: unknown option $1" >&2; exit 2 ;;
    *) spec=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); shift ;;
    esac
done
bin=$root/build-mpi/aetrain
[ -x "$bin" ] || { echo "bench/mpi.sh: build build-mpi/ first (scripts/test.sh --mpi)" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$root"
common=(--config "$spec" --epochs "$epochs" --set data.test='""' --set data.test_labels='""'
        --set data.validation=0 --set output.images=false --set output.checkpoint_every=0 --quiet)
for r in $(seq 1 "$runs"); do
    "$bin" "${common[@]}" --threads 1 --out "$out/p1t1-$r"
    "$bin" "${common[@]}" --threads "$np" --out "$out/p1t$np-$r"
    mpirun --oversubscribe --allow-run-as-root -np "$np" "$bin" "${common[@]}" --threads 1 \
        --out "$out/p${np}t1-$r"
done
median() { # the seconds of every epoch after the first, over all runs of a setting
    cat "$out"/"$1"-*/metrics.csv | awk -F, '$1 > 1 { print $(NF - 1) }' | sort -n |
        awk '{ s[NR] = $1 } END { print s[int((NR + 1) / 2)] }'
}
n=$(awk -F, 'NR == 2 { printf "%d", $(NF - 1) * $NF + 0.5 }' "$out/p1t1-1/metrics.csv")
base=$(median p1t1)
printf '%-28s %10s %12s %9s\n' setting s/epoch examples/s speed-up
for s in p1t1 "p1t$np" "p${np}t1"; do
    m=$(median "$s")
    case $s in
    p1t1) what="1 process, 1 thread" ;;
    p1t*) what="1 process, $np threads" ;;
    *) what="$np MPI ranks, 1 thread each" ;;
    esac
    awk -v w="$what" -v m="$m" -v n="$n" -v b="$base" \
        'BEGIN { printf "%-28s %10.2f %12.0f %8.2fx\n", w, m, n / m, b / m }'
done
