#!/usr/bin/env bash
# bench/classify.sh [--labels "100 1000 10000 60000"] [--seeds "100:3 1000:3 10000:2 60000:1"]
#                   [--pretrain-epochs 10] [--steps 2000] [--finetune-lr LR] [--threads T] [--out DIR]
#
# Few labels, with and without pretraining (docs/classify.md).  One
# autoencoder is pretrained without labels on all 60,000 MNIST training
# images: configs/dae-masking.json (784-400-64, masking noise 0.5) for
# --pretrain-epochs epochs.  Then for each count N of --labels and each seed
# s (--seeds N:S gives S seeds, 1..S), a random subset of N labelled
# training images (numpy, seed s; the same subset for every method) trains
#   - logistic regression on the pixels (scikit-learn, lbfgs, C = 1),
#   - the same MLP from scratch: configs/classifier.json without init_from
#     and with no frozen epochs (784-400-64-softmax(10), the pretrained
#     model's encoder shape),
#   - a linear probe: scikit-learn logistic regression on the frozen codes
#     aeencode gives of the pretrained model (standardised),
#   - the pretrained encoder fine-tuned: configs/classifier.json with
#     model.init_from, the head alone for the first tenth of the epochs
#     (train.freeze_encoder_epochs), then the whole network, with the
#     learning rate --finetune-lr (default 1e-3, the from-scratch one),
# and the accuracy on the 10,000 test images is measured (aepredict for
# the networks).  The networks train for about --steps Adam steps (lr 1e-3,
# batch 64) whatever N is: their training file holds the N examples
# repeated ceil(6400 / N) times (so that an aetrain epoch, with its metrics
# row, is at least 100 steps; it visits each example that many times in a
# shuffled order), for ceil(steps * 64 / rows) epochs, at least 5; no early
# stopping (there is no labelled validation set to stop on with 100
# labels).  With --out DIR, a finished pretraining of the same length in
# DIR/pretrain is reused (it is deterministic: the same bits again).  Prints
# the per-run rows, then mean and standard deviation over the seeds as a
# markdown table.  Needs python3-sklearn.
set -euo pipefail
labels="100 1000 10000 60000" seeds="100:3 1000:3 10000:2 60000:1"
pre_epochs=10 steps=2000 ft_lr=0.001 threads=2 outdir=""
while (($#)); do
    case $1 in
    --labels) labels=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --pretrain-epochs) pre_epochs=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --finetune-lr) ft_lr=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --out) outdir=$2; shift 2 ;;
    *) echo "bench/classify.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup classify "$outdir" aetrain aeencode aepredict
py=/usr/bin/python3
"$py" -c 'import sklearn' 2>/dev/null || { echo "bench/classify.sh: needs python3-sklearn (apt-get install python3-sklearn)" >&2; exit 2; }
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
B=$root/build
quiet=(--threads "$threads" --quiet --set output.images=false --set output.checkpoint_every=0)
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
seeds_for() { # the seed count of N in --seeds (1 when not given)
    local kv
    for kv in $seeds; do [[ ${kv%%:*} == "$1" ]] && { echo "${kv#*:}"; return; }; done
    echo 1
}

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $threads threads; $("$B/aetrain" --version)"
echo "pretraining: configs/dae-masking.json, $pre_epochs epochs on the 60,000 training images (no labels); networks: about $steps steps; fine-tuning lr $ft_lr"
pre=$out/pretrain/model.safetensors
last=$(awk -F, 'NR > 1 { e = $1 } END { print e }' "$out/pretrain/metrics.csv" 2>/dev/null || true)
if [[ -f $pre && $last == "$pre_epochs" ]]; then
    echo "pretraining: reusing $pre ($pre_epochs epochs)"
else
    t0=$(date +%s.%N)
    "$B/aetrain" --config "$root/configs/dae-masking.json" --set data.train="$M/train-images-idx3-ubyte.gz" \
        --set data.train_labels= --set data.test= --set data.test_labels= --epochs "$pre_epochs" \
        --out "$out/pretrain" "${quiet[@]}"
    echo "pretraining took $(since "$t0") s"
fi
"$B/aeencode" --model "$pre" --data "$M/t10k-images-idx3-ubyte.gz" --out "$out/test-codes.npy" --threads "$threads"

results=$out/results.tsv
printf 'labels\tseed\tmethod\taccuracy\tseconds\n' >"$results"
# one run of a network: train, then the test accuracy from aepredict's JSON
network() { # NAME N SEED EPOCHS BATCH [aetrain options...]
    local name=$1 n=$2 s=$3 e=$4 b=$5 t1 acc
    shift 5
    t1=$(date +%s.%N)
    "$B/aetrain" --config "$root/configs/classifier.json" --set data.train="$sub-train-images.idx" \
        --set data.train_labels="$sub-train-labels.idx" --set data.test= --set data.test_labels= \
        --set data.labeled=0 --set train.batch_size="$b" --epochs "$e" --seed "$s" \
        --out "$out/$name-$n-$s" "${quiet[@]}" "$@"
    "$B/aepredict" --model "$out/$name-$n-$s/model.safetensors" --data "$M/t10k-images-idx3-ubyte.gz" \
        --labels "$M/t10k-labels-idx1-ubyte.gz" --out "$out/$name-$n-$s/predictions.csv" --json \
        --threads "$threads" >"$out/$name-$n-$s/predict.json"
    acc=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["accuracy"])' "$out/$name-$n-$s/predict.json")
    printf '%s\t%s\t%s\t%s\t%s\n' "$n" "$s" "$name" "$acc" "$(since "$t1")" | tee -a "$results"
}
for n in $labels; do
    for s in $(seq 1 "$(seeds_for "$n")"); do
        sub=$out/sub-$n-$s
        # the labelled subset, and the two scikit-learn rows
        "$py" - "$M" "$n" "$s" "$sub" "$pre" "$B/aeencode" "$out/test-codes.npy" "$threads" <<'PY' | tee -a "$results"
import gzip, struct, subprocess, sys, time
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

m, n, seed, sub, pre, aeencode, test_codes, threads = sys.argv[1:]
n, seed = int(n), int(seed)

def idx(path):
    raw = gzip.open(path).read()
    nd = raw[3]
    dims = struct.unpack(">" + "I" * nd, raw[4:4 + 4 * nd])
    return np.frombuffer(raw[4 + 4 * nd:], np.uint8).reshape(dims)

def write_idx(path, a):
    with open(path, "wb") as f:
        f.write(bytes([0, 0, 0x08, a.ndim]) + struct.pack(">" + "I" * a.ndim, *a.shape))
        f.write(a.astype(np.uint8).tobytes())

xtr, ytr = idx(m + "/train-images-idx3-ubyte.gz"), idx(m + "/train-labels-idx1-ubyte.gz")
xte, yte = idx(m + "/t10k-images-idx3-ubyte.gz"), idx(m + "/t10k-labels-idx1-ubyte.gz")
pick = np.sort(np.random.default_rng(seed).choice(len(ytr), size=n, replace=False))
write_idx(sub + "-images.idx", xtr[pick])
write_idx(sub + "-labels.idx", ytr[pick])
reps = -(-6400 // n)  # the networks' training file: the subset repeated
write_idx(sub + "-train-images.idx", np.tile(xtr[pick], (reps, 1, 1)))
write_idx(sub + "-train-labels.idx", np.tile(ytr[pick], reps))

def fit(name, a, b):
    t = time.perf_counter()
    clf = LogisticRegression(max_iter=1000).fit(a, ytr[pick])
    acc = float((clf.predict(b) == yte).mean())
    print(f"{n}\t{seed}\t{name}\t{acc:.4f}\t{time.perf_counter() - t + extra:.1f}", flush=True)

extra = 0.0
fit("logreg_pixels", xtr[pick].reshape(n, -1) / 255.0, xte.reshape(len(yte), -1) / 255.0)
t = time.perf_counter()
subprocess.run([aeencode, "--model", pre, "--data", sub + "-images.idx", "--out", sub + "-codes.npy",
                "--threads", threads], check=True)
extra = time.perf_counter() - t  # encoding counts in the probe's time
sc = StandardScaler().fit(np.load(sub + "-codes.npy"))
fit("linear_probe", sc.transform(np.load(sub + "-codes.npy")), sc.transform(np.load(test_codes)))
PY
        b=64 rows=$(( n * ((6400 + n - 1) / n) ))
        e=$(( (steps * b + rows - 1) / rows ))
        ((e >= 5)) || e=5
        network mlp_scratch "$n" "$s" "$e" "$b" --set model.init_from= --set train.freeze_encoder_epochs=0
        network fine_tuned "$n" "$s" "$e" "$b" --set model.init_from="$pre" \
            --set train.freeze_encoder_epochs=$(( (e + 9) / 10 )) --set train.lr="$ft_lr"
    done
done

echo
echo "MNIST test accuracy (10,000 images), mean ± standard deviation over the seeds:"
"$py" - "$results" <<'PY'
import sys
from collections import defaultdict
import numpy as np

rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])][1:]
acc, sec = defaultdict(list), defaultdict(list)
for n, seed, method, a, s in rows:
    acc[int(n), method].append(float(a))
    sec[int(n), method].append(float(s))
methods = ["logreg_pixels", "mlp_scratch", "linear_probe", "fine_tuned"]
names = ["logistic regression, pixels", "MLP from scratch", "linear probe on codes",
         "pretrained, fine-tuned"]
print("| labelled examples | seeds | " + " | ".join(names) + " | fine-tuned minus scratch |")
print("|---|---|" + "---|" * (len(names) + 1))
for n in sorted({k[0] for k in acc}):
    cells = []
    for mth in methods:
        v = np.array(acc.get((n, mth), []))
        cells.append(f"{v.mean():.4f} ± {v.std(ddof=1) if len(v) > 1 else 0:.4f}" if len(v) else "")
    d = np.array(acc[n, "fine_tuned"]) - np.array(acc[n, "mlp_scratch"])
    print(f"| {n:,} | {len(acc[n, 'fine_tuned'])} | " + " | ".join(cells) +
          f" | {d.mean():+.4f} |")
print()
print("Mean seconds per run (training and testing; the probe's include encoding the subset):")
print("| labelled examples | " + " | ".join(names) + " |")
print("|---|" + "---|" * len(names))
for n in sorted({k[0] for k in sec}):
    print(f"| {n:,} | " + " | ".join(f"{np.mean(sec[n, m]):.1f}" for m in methods) + " |")
PY
