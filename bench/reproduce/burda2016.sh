#!/usr/bin/env bash
# bench/reproduce/burda2016.sh [--rows "vae iwae5 iwae50"] [--epochs N] [--eval-limit N]
#                              [--iw K] [--threads T] [--out DIR]
#
# Table 1 of Burda, Grosse and Salakhutdinov (2016), "Importance Weighted
# Autoencoders", one stochastic layer on MNIST: encoder and decoder with two
# hidden layers of 200 tanh units, latent 50, Bernoulli likelihood,
# dynamically binarised training data, batch 20, Adam (0.9, 0.999, 1e-4),
# the paper's schedule (lr 1e-3 * 10^(-i/7) for 3^i epochs, i = 0..7: 3280
# epochs; train.lr_schedule "burda"), Glorot initialisation; test NLL as the
# IWAE bound with K = 5000 (aeeval --iw) on the 10,000 test images (one
# binarised draw).  The spec is bench/reproduce/burda2016.json.
#
#   --rows      which rows: vae (k = 1), iwae5, iwae50 (default "vae iwae5")
#   --epochs    train this many epochs of the schedule (default 3280, the
#               paper's; fewer is a shortened run, and the table says so)
#   --eval-limit  score the first N test images (default all 10,000)
#   --iw        importance samples of the test NLL (default 5000)
#   --threads   BLAS threads of each run (default 1; the rows run one after
#               the other)
#   --out       keep the runs there (default: a temporary folder)
#
# Prints the seconds of the first epochs (to plan a full run), then the
# paper's figure and ours for each row, with the epochs trained.
set -euo pipefail
rows="vae iwae5" epochs=3280 limit=0 iw=5000 threads=1 outdir=""
while (($#)); do
    case $1 in
    --rows) rows=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --eval-limit) limit=$2; shift 2 ;;
    --iw) iw=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --out) outdir=$2; shift 2 ;;
    -h | --help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "burda2016.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
source "$here/../lib.sh"
bench_setup reproduce "$outdir" aetrain aeeval
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads

declare -A paper=([vae]=86.76 [iwae5]=85.54 [iwae50]=84.78)
declare -A type=([vae]=vae [iwae5]=iwae [iwae50]=iwae)
declare -A k=([vae]=1 [iwae5]=5 [iwae50]=50)
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $threads thread(s) per run; $("$root/build/aetrain" --version)"
echo "schedule: $epochs of the paper's 3280 epochs; test NLL: IWAE bound, K = $iw, on $([ "$limit" -gt 0 ] && echo "the first $limit" || echo "all 10,000") test images"
echo
results=()
for row in $rows; do
    [ -n "${paper[$row]:-}" ] || { echo "burda2016.sh: unknown row $row (vae, iwae5, iwae50)" >&2; exit 2; }
    extra=()
    [ "${type[$row]}" = iwae ] && extra=(--set model.type='"iwae"' --set "model.iw_samples=${k[$row]}")
    run=$out/$row
    t0=$(date +%s.%N)
    if [ -f "$run/checkpoint.safetensors" ]; then # a run cut short goes on, in this folder
        "$root/build/aetrain" --resume "$run/checkpoint.safetensors" --epochs "$epochs" --threads "$threads" \
            --out "$run" --quiet
    else
        "$root/build/aetrain" --config "$here/burda2016.json" \
            --set "data.train=\"$M/train-images-idx3-ubyte.gz\"" --set "data.test=\"$M/t10k-images-idx3-ubyte.gz\"" \
            "${extra[@]}" --epochs "$epochs" --threads "$threads" --out "$run" --quiet
    fi
    t1=$(date +%s.%N)
    lim=()
    [ "$limit" -gt 0 ] && lim=(--limit "$limit")
    "$root/build/aeeval" --model "$run/model.safetensors" --data "$M/t10k-images-idx3-ubyte.gz" \
        --iw "$iw" "${lim[@]}" --threads "$threads" --json >"$run/eval.json"
    t2=$(date +%s.%N)
    results+=("$(/usr/bin/python3 - "$run" "$row" "${k[$row]}" "${paper[$row]}" "$epochs" "$t0" "$t1" "$t2" <<'PY'
import csv, json, statistics, sys
run, row, k, paper, epochs = sys.argv[1:6]
t0, t1, t2 = map(float, sys.argv[6:9])
j = json.load(open(run + "/eval.json"))
secs = statistics.median(float(x["seconds"]) for x in csv.DictReader(open(run + "/metrics.csv")))
print(f"| {row} (k = {k}) | {paper} | {j['iwae_nll']:.2f} | {j['neg_elbo']:.2f} | {epochs} | {secs:.1f} "
      f"| {t1 - t0:.0f} | {t2 - t1:.0f} |")
PY
)")
    echo "${row}: done" >&2
done
echo "| row | paper: test NLL | ours: test NLL (IWAE, K = $iw) | ours: test -ELBO | epochs | median s/epoch | training s | evaluation s |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s\n' "${results[@]}"
