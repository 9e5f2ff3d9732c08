#!/usr/bin/env bash
# bench/likelihoods.sh [--epochs N] [--iw K] [--out DIR]
#
# The likelihoods of docs/models.md, measured side by side in one run: the
# VAE of configs/vae.json (784-400-20-400-784, Adam 1e-3, batch 128, seed 1)
# trained on all 60,000 MNIST training images for N epochs (default 10) with
#   - gaussian (std 1) and gaussian_learned on standardized pixels
#     (data.scale=standardize) with train.lr=1e-4: at the spec's 1e-3 both
#     diverge within 4 epochs (standardizing makes the rare pixels that are
#     almost always 0 into values in the hundreds), and
#   - bernoulli and continuous_bernoulli on the same [0, 1] pixels
#     (data.scale=unit, not binarized),
# then aeeval on the 10,000 test images: -ELBO and the IWAE bound with K
# samples (default 200), each in nats under the model's own likelihood, and
# the squared error of the decoded mean.  Two runs at a time, one thread
# each.  Prints a markdown table; the runs stay in DIR (default a temporary
# folder, removed).  MNIST from scripts/get-mnist.sh (data/mnist/).
set -euo pipefail
epochs=10 iw=200 out=''
while (($#)); do
    case $1 in
    --epochs) epochs=$2; shift 2 ;;
    --iw) iw=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "bench/likelihoods.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup likelihoods "$out" aetrain aeeval

# name likelihood scale lr
runs=("gaussian gaussian standardize 0.0001"
      "gaussian_learned gaussian_learned standardize 0.0001"
      "bernoulli bernoulli unit 0.001"
      "continuous_bernoulli continuous_bernoulli unit 0.001")
one() {
    local name=$1 lik=$2 scale=$3 lr=$4
    "$root/build/aetrain" --config "$root/configs/vae.json" \
        --set "data.train=\"$M/train-images-idx3-ubyte.gz\"" \
        --set "data.train_labels=\"$M/train-labels-idx1-ubyte.gz\"" \
        --set "data.test=\"$M/t10k-images-idx3-ubyte.gz\"" \
        --set "data.test_labels=\"$M/t10k-labels-idx1-ubyte.gz\"" \
        --set "model.likelihood=\"$lik\"" --set "data.scale=\"$scale\"" --set train.lr="$lr" \
        --set output.images=false --set output.checkpoint_every=0 \
        --epochs "$epochs" --threads 1 --quiet --out "$out/$name" 2>"$out/$name.train.log"
    "$root/build/aeeval" --model "$out/$name/model.safetensors" \
        --data "$M/t10k-images-idx3-ubyte.gz" --iw "$iw" --no-pca --threads 1 --json \
        >"$out/$name.json" 2>"$out/$name.eval.log"
}
pids=()
for i in "${!runs[@]}"; do
    # shellcheck disable=SC2086
    one ${runs[$i]} &
    pids+=($!)
    if ((${#pids[@]} == 2)); then
        wait "${pids[@]}"
        pids=()
    fi
done
((${#pids[@]} == 0)) || wait "${pids[@]}"

echo "| likelihood | data.scale | train.lr | train loss, last epoch | test -ELBO | test IWAE bound (K=$iw) | squared error of the mean (model units) |"
echo "|---|---|---|---|---|---|---|"
for r in "${runs[@]}"; do
    read -r name lik scale lr <<<"$r"
    train=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i } END { printf "%.1f", $c["train_loss"] }' "$out/$name/metrics.csv")
    /usr/bin/python3 - "$out/$name.json" "$lik" "$scale" "$lr" "$train" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"| {sys.argv[2]} | {sys.argv[3]} | {sys.argv[4]} | {sys.argv[5]} | {d['neg_elbo']:.1f} | {d['iwae_nll']:.1f} | {d['sse']:.2f} |")
PY
done
