#!/usr/bin/env bash
# bench/anomaly.sh [--epochs E] [--iw K] [--digits "0 1 ... 9"] [--threads T] [--out DIR]
#
# One-class anomaly detection on MNIST (docs/anomaly.md), the protocol of
# Ruff et al. (2018): for each digit d, train on the training images of d
# only (about 6,000), score the whole test set (10,000 images), and measure
# how well each score ranks "is not d" above "is d": AUROC and average
# precision (anomalies the positive class), with sklearn.metrics from the
# scores files.  Side by side:
#   - aeeval's scores of configs/vae.json (784-400-20, Bernoulli) trained E
#     epochs (default 20): recon, elbo, iwae (K importance samples, default
#     100), elbo-ic, iwae-ic, maha, zerr, the reference being the training
#     images (--fit-threshold);
#   - aeeval's recon, maha and zerr of configs/ae.json, trained E epochs;
#   - scikit-learn on the raw pixels in [0, 1], fitted on the same training
#     images: IsolationForest (100 trees, seed 1), OneClassSVM (RBF kernel,
#     gamma "scale", nu 0.1), the squared reconstruction error of PCA with
#     20 components (the latent size), and the mean Euclidean distance to
#     the 5 nearest training images.
# Prints the CPU, one line per digit as it goes (to stderr), then markdown
# tables:
#   1, 2. AUROC and AP: one row per score, one column per digit, the mean;
#   3. how each score separates the digit's own test images from 1,500
#      made-up inputs the model never saw (synthetic.idx, seed 1): 500
#      "sparse" ones, blank but for 5 white pixels (simple inputs, where
#      likelihoods fail, Nalisnick et al. 2019), 500 of uniform noise and
#      500 of one random grey level; AUROC, mean and lowest over the digits;
#   4. the shares of the test images of the digit and of the other digits
#      that the default score flags at the threshold --fit-threshold gives
#      (contamination 0.1);
#   5. the mean input complexity L(x) of each digit's test images and of
#      the made-up inputs.
# Needs python3-sklearn.
set -euo pipefail
epochs=20 iw=100 digits="0 1 2 3 4 5 6 7 8 9" threads=1 outdir=""
while (($#)); do
    case $1 in
    --epochs) epochs=$2; shift 2 ;;
    --iw) iw=$2; shift 2 ;;
    --digits) digits=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --out) outdir=$2; shift 2 ;;
    *) echo "bench/anomaly.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup anomaly "$outdir" aetrain aeeval
py=/usr/bin/python3
"$py" -c 'import sklearn' 2>/dev/null || { echo "bench/anomaly.sh: needs python3-sklearn (apt-get install python3-sklearn)" >&2; exit 2; }
# the machine's cores before OMP_NUM_THREADS limits what nproc reports
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $threads threads; $("$root/build/aetrain" --version)"
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
T10K=$M/t10k-images-idx3-ubyte.gz
T10KL=$M/t10k-labels-idx1-ubyte.gz

echo "epochs $epochs, IWAE K = $iw, digits $digits"
echo
"$py" - "$out/synthetic.idx" <<'PY'
import sys
import numpy as np
rng = np.random.default_rng(1)
n = 500
sparse = np.zeros((n, 784), np.uint8)
for i in range(n):
    sparse[i, rng.choice(784, 5, replace=False)] = 255
noise = rng.integers(0, 256, (n, 784)).astype(np.uint8)
grey = np.repeat(rng.integers(0, 256, (n, 1)), 784, axis=1).astype(np.uint8)
x = np.concatenate([sparse, noise, grey])
with open(sys.argv[1], "wb") as f:
    f.write(bytes([0, 0, 8, 3]) + np.array([len(x), 28, 28], ">u4").tobytes() + x.tobytes())
PY
for d in $digits; do
    dir=$out/digit$d
    mkdir -p "$dir"
    start=$SECONDS
    # the digit's training images as an IDX file, and the baselines' scores
    "$py" - "$M" "$dir" "$d" "$out/synthetic.idx" <<'PY'
import gzip, sys, time
import numpy as np
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import NearestNeighbors
from sklearn.svm import OneClassSVM

m, out, digit = sys.argv[1], sys.argv[2], int(sys.argv[3])
def idx(name, offset):
    return np.frombuffer(gzip.open("%s/%s" % (m, name)).read(), np.uint8, offset=offset)
xtr = idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 784)
ytr = idx("train-labels-idx1-ubyte.gz", 8)
# the test images, then the made-up inputs (labels 10 sparse, 11 noise, 12 grey)
syn = np.frombuffer(open(sys.argv[4], "rb").read(), np.uint8, offset=16).reshape(-1, 784)
xte = np.concatenate([idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784), syn]) / 255.0
yte = np.concatenate([idx("t10k-labels-idx1-ubyte.gz", 8), np.repeat([10, 11, 12], len(syn) // 3)])
own = xtr[ytr == digit]
head = bytes([0, 0, 8, 3]) + np.array([len(own), 28, 28], ">u4").tobytes()
with gzip.open("%s/train.idx.gz" % out, "wb", compresslevel=1) as f:
    f.write(head + own.tobytes())
x = own / 255.0
scores, secs = {}, {}
t = time.time()
scores["iforest"] = -IsolationForest(n_estimators=100, random_state=1).fit(x).score_samples(xte)
secs["iforest"] = time.time() - t
t = time.time()
scores["ocsvm"] = -OneClassSVM(kernel="rbf", gamma="scale", nu=0.1).fit(x).decision_function(xte)
secs["ocsvm"] = time.time() - t
t = time.time()
pca = PCA(n_components=20, random_state=1).fit(x)
scores["pca"] = ((xte - pca.inverse_transform(pca.transform(xte))) ** 2).sum(axis=1)
secs["pca"] = time.time() - t
t = time.time()
dist, _ = NearestNeighbors(n_neighbors=5).fit(x).kneighbors(xte)
scores["knn"] = dist.mean(axis=1)
secs["knn"] = time.time() - t
names = list(scores)
with open("%s/baselines.csv" % out, "w") as f:
    f.write("index,label," + ",".join(names) + "\n")
    for i in range(len(yte)):
        f.write("%d,%d,%s\n" % (i, yte[i], ",".join("%.9g" % scores[n][i] for n in names)))
print(" ".join("%s %.0fs" % (n, secs[n]) for n in names), file=sys.stderr)
PY
    for fam in vae ae; do
        "$root/build/aetrain" --config "$root/configs/$fam.json" \
            --set "data.train=\"$dir/train.idx.gz\"" --set data.train_labels= \
            --set data.test= --set data.test_labels= --set output.images=false \
            --epochs "$epochs" --threads "$threads" --quiet --out "$dir/$fam"
        "$root/build/aeeval" --model "$dir/$fam/model.safetensors" --data "$T10K" --labels "$T10KL" \
            --fit-threshold "$dir/train.idx.gz" --iw "$iw" --no-pca --threads "$threads" \
            --scores "$dir/$fam.csv" >"$dir/$fam.txt"
        "$root/build/aeeval" --model "$dir/$fam/model.safetensors" --data "$out/synthetic.idx" \
            --fit-threshold "$dir/train.idx.gz" --iw "$iw" --no-pca --threads "$threads" \
            --scores "$dir/$fam-synthetic.csv" >/dev/null
    done
    echo "digit $d: $((SECONDS - start)) s" >&2
done

"$py" - "$out" "$digits" <<'PY'
import csv, sys
import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

out, digits = sys.argv[1], [int(d) for d in sys.argv[2].split()]
rows = [("VAE recon (squared error)", "vae", "recon_error"), ("VAE negative ELBO", "vae", "neg_elbo"),
        ("VAE IWAE bound", "vae", "iwae_nll"), ("VAE ELBO - L(x) (elbo-ic)", "vae", "neg_elbo_ic"),
        ("VAE IWAE - L(x) (iwae-ic)", "vae", "iwae_nll_ic"), ("VAE Mahalanobis (maha)", "vae", "maha"),
        ("VAE standardised error (zerr)", "vae", "zerr"), ("AE recon (squared error)", "ae", "recon_error"),
        ("AE Mahalanobis (maha)", "ae", "maha"), ("AE standardised error (zerr)", "ae", "zerr"),
        ("IsolationForest", "baselines", "iforest"), ("OneClassSVM", "baselines", "ocsvm"),
        ("PCA recon, 20 components", "baselines", "pca"), ("5-NN mean distance", "baselines", "knn")]
auc = np.zeros((len(rows), len(digits)))
ap = np.zeros_like(auc)
for j, d in enumerate(digits):
    cache = {}
    for i, (_, f, col) in enumerate(rows):
        if f not in cache:
            cache[f] = list(csv.DictReader(open("%s/digit%d/%s.csv" % (out, d, f))))
        r = [x for x in cache[f] if int(x["label"]) <= 9]  # the test images
        y = np.array([int(x["label"]) != d for x in r])
        s = np.array([float(x[col]) for x in r])
        auc[i, j] = roc_auc_score(y, s)
        ap[i, j] = average_precision_score(y, s)
for name, t in (("AUROC", auc), ("average precision", ap)):
    print("\n%s, anomaly = not the training digit\n" % name)
    print("| score | " + " | ".join(str(d) for d in digits) + " | mean |")
    print("|---|" + "---|" * (len(digits) + 1))
    # the best of each column (and of the means) in bold, at the precision shown
    shown = np.round(np.column_stack([t, t.mean(axis=1)]), 3)
    best = shown.max(axis=0)
    for i, (label, _, _) in enumerate(rows):
        cells = ["**%.3f**" % v if v == best[j] else "%.3f" % v for j, v in enumerate(shown[i])]
        print("| %s | %s |" % (label, " | ".join(cells)))

# the digit's own test images against the made-up inputs
kinds = ("sparse", "noise", "grey")
syn = np.zeros((len(rows), len(kinds), len(digits)))
for j, d in enumerate(digits):
    cache = {}
    for i, (_, f, col) in enumerate(rows):
        if f not in cache:
            cache[f] = list(csv.DictReader(open("%s/digit%d/%s.csv" % (out, d, f))))
            if f != "baselines":  # the made-up inputs' own file, in order
                extra = list(csv.DictReader(open("%s/digit%d/%s-synthetic.csv" % (out, d, f))))
                for q, x in enumerate(extra):
                    x["label"] = str(10 + q * 3 // len(extra))
                cache[f] += extra
        lab = np.array([int(x["label"]) for x in cache[f]])
        s = np.array([float(x[col]) for x in cache[f]])
        for k in range(len(kinds)):
            m = (lab == d) | (lab == 10 + k)
            syn[i, k, j] = roc_auc_score(lab[m] == 10 + k, s[m])
print("\nAUROC, the digit's test images against 500 made-up inputs of each kind: mean and"
      " lowest over the digits\n")
print("| score | " + " | ".join("%s mean | %s lowest" % (k, k) for k in kinds) + " |")
print("|---|" + "---|" * (2 * len(kinds)))
for i, (label, _, _) in enumerate(rows):
    print("| %s | %s |" % (label, " | ".join("%.3f | %.3f" % (syn[i, k].mean(), syn[i, k].min())
                                              for k in range(len(kinds)))))

# what the threshold of --fit-threshold (the 0.9 quantile of the training
# digit's own scores, contamination 0.1) does on the test set
first = list(csv.DictReader(open("%s/digit%d/vae.csv" % (out, digits[0]))))
default = [c for c in ("recon_error", "neg_elbo", "iwae_nll", "neg_elbo_ic", "iwae_nll_ic", "maha",
                       "zerr") if all(x[c] == x["score"] for x in first)][0]
print("\nthe default score (%s) at the threshold --fit-threshold gives (contamination 0.1):"
      " share of the test images flagged\n" % default)
print("| model | flagged | " + " | ".join(str(d) for d in digits) + " | mean |")
print("|---|---|" + "---|" * (len(digits) + 1))
for f in ("vae", "ae"):
    normal, other = [], []
    for d in digits:
        r = list(csv.DictReader(open("%s/digit%d/%s.csv" % (out, d, f))))
        r = [x for x in r if int(x["label"]) <= 9]
        flag = np.array([x["is_anomaly"] == "1" for x in r])
        y = np.array([int(x["label"]) != d for x in r])
        normal.append(flag[~y].mean())
        other.append(flag[y].mean())
    for what, v in (("the digit (false alarms)", normal), ("the other digits (recall)", other)):
        print("| %s | %s | %s | %.3f |" % (f.upper(), what, " | ".join("%.3f" % x for x in v),
                                          np.mean(v)))

# L(x) depends on the input only: the same in every scores file
r = list(csv.DictReader(open("%s/digit%d/vae.csv" % (out, digits[0]))))
lab = np.array([int(x["label"]) for x in r])
c = np.array([float(x["complexity"]) for x in r])
extra = list(csv.DictReader(open("%s/digit%d/vae-synthetic.csv" % (out, digits[0]))))
ce = np.array([float(x["complexity"]) for x in extra]).reshape(len(kinds), -1)
print("\nmean input complexity L(x) of the test images of each digit and of the made-up"
      " inputs, nats\n")
print("| | " + " | ".join([str(d) for d in range(10)] + list(kinds)) + " |")
print("|---|" + "---|" * (10 + len(kinds)))
print("| L(x) | " + " | ".join(["%.0f" % c[lab == d].mean() for d in range(10)] +
                              ["%.0f" % v for v in ce.mean(axis=1)]) + " |")
PY
echo
echo "total $SECONDS s (training, scoring and the baselines)"
