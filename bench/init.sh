#!/usr/bin/env bash
# bench/init.sh [--specs "vae cvae ..."] [--epochs N] [--jobs J] [--out DIR]
#
# Which weight initialisation each shipped spec should use: every spec of
# configs/ (but classifier.json, which starts from a pretrained encoder)
# trained as it is, on all of MNIST, once with model.init "auto" (He for
# ReLU-like layers, Glorot for the others: the default) and once with
# "pytorch" (PyTorch's nn.Linear rule, U(-1/sqrt(in), 1/sqrt(in)) for
# weights and biases), seed 1, J runs at a time with one thread each.
# Reports the final test loss of metrics.csv (the spec's own loss: -ELBO
# for the VAE types, reconstruction + penalty for the AEs; lower is better)
# and, for the conditional VAE, the share of its samples that a classifier
# trained from scratch on the MNIST labels (configs/classifier.json without
# a pretrained encoder, 10 epochs, all 60,000 labels) assigns to the class
# the sample was drawn for (aesample --class C --n 200, aepredict).
#
#   --specs   spec names (default: every configs/*.json but classifier)
#   --epochs  override every spec's epochs (default: the spec's own)
#   --jobs    runs at a time (default 2)
#   --out     keep the runs there (default: a temporary folder)
set -euo pipefail
specs="" epochs="" jobs=2 outdir=""
while (($#)); do
    case $1 in
    --specs) specs=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --out) outdir=$2; shift 2 ;;
    -h | --help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "bench/init.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup init "$outdir" aetrain aesample aepredict
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
if [ -z "$specs" ]; then
    specs=$(cd "$root/configs" && ls ./*.json | sed 's#^\./##; s#\.json$##' | grep -vx classifier | tr '\n' ' ')
fi
data=(--set "data.train=\"$M/train-images-idx3-ubyte.gz\"" --set "data.train_labels=\"$M/train-labels-idx1-ubyte.gz\""
      --set "data.test=\"$M/t10k-images-idx3-ubyte.gz\"" --set "data.test_labels=\"$M/t10k-labels-idx1-ubyte.gz\"")
ep=()
[ -n "$epochs" ] && ep=(--epochs "$epochs")
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $jobs runs at a time, 1 thread each; $("$root/build/aetrain" --version)"

one() { # spec init
    "$root/build/aetrain" --config "$root/configs/$1.json" "${data[@]}" --set "model.init=\"$2\"" \
        --set output.images=false --set output.checkpoint_every=0 "${ep[@]}" --threads 1 --out "$out/$1-$2" --quiet
}
# the judge of the conditional samples
"$root/build/aetrain" --config "$root/configs/classifier.json" "${data[@]}" --set 'model.init_from=""' \
    --set data.labeled=0 --set train.freeze_encoder_epochs=0 --set output.images=false \
    --set output.checkpoint_every=0 --epochs 10 --threads 2 --out "$out/judge" --quiet
runs=()
for s in $specs; do
    for init in auto pytorch; do
        runs+=("$s $init")
    done
done
printf '%s\n' "${runs[@]}" | xargs -P "$jobs" -I{} bash -c "$(declare -f one); $(declare -p root out data ep); one {}"
/usr/bin/python3 - "$out" "$root" $specs <<'PY'
import csv, subprocess, sys
out, root, specs = sys.argv[1], sys.argv[2], sys.argv[3:]
def last(run):
    rows = list(csv.DictReader(open(f"{out}/{run}/metrics.csv")))
    return float(rows[-1]["test_loss"]), int(rows[-1]["epoch"])
def judge(run):
    hits = total = 0
    for c in range(10):
        subprocess.run([f"{root}/build/aesample", "--model", f"{out}/{run}/model.safetensors", "--class", str(c),
                        "--n", "200", "--seed", str(c + 1), "--out", f"{out}/{run}/s{c}.png", "--csv",
                        f"{out}/{run}/s{c}.csv"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([f"{root}/build/aepredict", "--model", f"{out}/judge/model.safetensors", "--data",
                        f"{out}/{run}/s{c}.csv", "--out", f"{out}/{run}/p{c}.csv"], check=True,
                       stdout=subprocess.DEVNULL)
        p = list(csv.DictReader(open(f"{out}/{run}/p{c}.csv")))
        hits += sum(int(r["prediction"]) == c for r in p)
        total += len(p)
    return hits / total
acc = [r for r in csv.DictReader(open(f"{out}/judge/metrics.csv"))][-1]["test_accuracy"]
print(f"\njudge: a classifier from scratch, MNIST test accuracy {float(acc):.4f}\n")
print("| spec | epochs | test loss, init auto | test loss, init pytorch | better | cvae: samples judged their class, auto / pytorch |")
print("|---|---|---|---|---|---|")
for s in specs:
    (a, e), (p, _) = last(f"{s}-auto"), last(f"{s}-pytorch")
    extra = ""
    if s == "cvae":
        extra = f"{judge(s + '-auto'):.3f} / {judge(s + '-pytorch'):.3f}"
    print(f"| {s} | {e} | {a:.2f} | {p:.2f} | {'pytorch' if p < a else 'auto'} | {extra} |")
PY
