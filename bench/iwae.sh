#!/usr/bin/env bash
# bench/iwae.sh [--epochs N] [--iw K] [--limit N] [--out DIR]
#
# The IWAE against the VAE of docs/models.md, side by side in one run: the
# networks of configs/vae.json (784-400-20-400-784, Bernoulli on [0, 1]
# pixels, Adam 1e-3, batch 128, seed 1) trained on all 60,000 MNIST training
# images for N epochs (default 10) as model.type vae and as model.type iwae
# with model.iw_samples 5 (configs/iwae.json), one thread each, both at once;
# then aeeval on the first N test images (--limit, default all 10,000) with
# K importance samples (default 5000, as Burda et al. report): -ELBO, the
# IWAE bound of each model, and the active units.  Prints a markdown table
# and the seconds each stage took; the runs stay in DIR (default a temporary
# folder, removed).  MNIST from scripts/get-mnist.sh (data/mnist/).
set -euo pipefail
epochs=10 iw=5000 limit=0 out=''
while (($#)); do
    case $1 in
    --epochs) epochs=$2; shift 2 ;;
    --iw) iw=$2; shift 2 ;;
    --limit) limit=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "bench/iwae.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup iwae "$out" aetrain aeeval
lim=()
((limit > 0)) && lim=(--limit "$limit")

one() {
    local name=$1 t0 t1 t2
    t0=$(date +%s.%N)
    "$root/build/aetrain" --config "$root/configs/$name.json" \
        --set "data.train=\"$M/train-images-idx3-ubyte.gz\"" \
        --set "data.train_labels=\"$M/train-labels-idx1-ubyte.gz\"" \
        --set "data.test=\"$M/t10k-images-idx3-ubyte.gz\"" \
        --set "data.test_labels=\"$M/t10k-labels-idx1-ubyte.gz\"" \
        --set output.images=false --set output.checkpoint_every=0 \
        --epochs "$epochs" --threads 1 --quiet --out "$out/$name" 2>"$out/$name.train.log"
    t1=$(date +%s.%N)
    "$root/build/aeeval" --model "$out/$name/model.safetensors" \
        --data "$M/t10k-images-idx3-ubyte.gz" "${lim[@]}" --iw "$iw" --no-pca --threads 1 --json \
        >"$out/$name.json" 2>"$out/$name.eval.log"
    t2=$(date +%s.%N)
    echo "$t0 $t1 $t2" >"$out/$name.times"
}
one vae &
a=$!
one iwae &
b=$!
wait "$a" "$b"

echo "| model | train loss, last epoch | test -ELBO | test IWAE bound (K=$iw) | active units | training s | eval s |"
echo "|---|---|---|---|---|---|---|"
for name in vae iwae; do
    train=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i } END { printf "%.2f", $c["train_loss"] }' "$out/$name/metrics.csv")
    read -r t0 t1 t2 <"$out/$name.times"
    /usr/bin/python3 - "$out/$name.json" "$name" "$train" "$t0" "$t1" "$t2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
t0, t1, t2 = map(float, sys.argv[4:7])
print(f"| {sys.argv[2]} | {sys.argv[3]} | {d['neg_elbo']:.2f} | {d['iwae_nll']:.2f} | "
      f"{d['active_units']} | {t1 - t0:.0f} | {t2 - t1:.0f} |")
PY
done
