#!/usr/bin/env bash
# bench/impute.sh [--epochs E] [--threads T] [--rates "0.1 0.3 0.5"] [--out DIR]
#
# Missing-value imputation, side by side in one run (docs/impute.md).  Cells
# are removed completely at random (each with probability RATE, seed 1)
# from
#   - MNIST: the 60,000 training images (the incomplete training data) and
#     the 10,000 test images (the data to impute), pixels in [0, 1];
#   - a tabular set: scikit-learn's breast cancer data (569 x 30,
#     standardised), split 455 / 114 at random (seed 1);
# and the RMSE on the removed cells of the test part (MNIST in pixel units,
# 0-255; the tabular set in standard deviations) is measured for
#   - column means of the incomplete training data,
#   - scikit-learn KNNImputer (k = 5; on MNIST with 5,000 reference rows of
#     the incomplete training data, as a full search would take too long),
#   - scikit-learn IterativeImputer (the tabular set only: on 784 columns it
#     is impractical),
#   - iterative PCA: missing cells start at the means, then PCA with as
#     many components as the model's latent is fitted to the training data
#     and the missing cells replaced by its reconstruction, 10 times; the
#     test rows are then filled the same way with the fitted components,
#   - aeimpute (at most 10 iterations, the count checked on 10% of the
#     observed cells hidden) with a model trained with data.missing "allow"
#     on the incomplete training data:
#       MNIST: configs/ae.json (784-400-20), E epochs (default 10), as it is,
#       and with masking noise (p 0.3, hiding values as missing) and
#       model.missing_indicators;
#       tabular: a 30-32-8 Gaussian AE (data.scale standardize, batch 32,
#       100 epochs) with the same masking noise and indicators,
# with the seconds each takes to fit and impute.  Needs python3-sklearn.
set -euo pipefail
epochs=10 threads=2 rates="0.1 0.3 0.5" outdir=""
while (($#)); do
    case $1 in
    --epochs) epochs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --rates) rates=$2; shift 2 ;;
    --out) outdir=$2; shift 2 ;;
    *) echo "bench/impute.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup impute "$outdir" aetrain aeimpute
py=/usr/bin/python3
"$py" -c 'import sklearn' 2>/dev/null || { echo "bench/impute.sh: needs python3-sklearn (apt-get install python3-sklearn)" >&2; exit 2; }
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $threads threads; $("$root/build/aetrain" --version)"
echo
echo "| data | removed | method | RMSE on the removed cells | seconds |"
echo "|---|---|---|---|---|"
for rate in $rates; do
    # the incomplete files, and the baselines' rows of the table
    "$py" - "$M" "$out" "$rate" <<'PY'
import gzip, struct, sys, time
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.decomposition import PCA
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer

m, out, rate = sys.argv[1], sys.argv[2], float(sys.argv[3])
rng = np.random.default_rng(1)

def idx(path):
    raw = gzip.open(path).read()
    nd = raw[3]
    dims = struct.unpack(">" + "I" * nd, raw[4:4 + 4 * nd])
    return np.frombuffer(raw[4 + 4 * nd:], np.uint8).reshape(dims[0], -1).astype(np.float32) / 255

def write_idx(path, x):
    with open(path, "wb") as f:
        f.write(bytes([0, 0, 0x0D, 2]) + struct.pack(">II", *x.shape))
        f.write(x.astype(">f4").tobytes())

def iterative_pca(train, test, k, rounds=10):
    t0 = time.perf_counter()
    mean = np.nanmean(train, axis=0)
    mean = np.where(np.isnan(mean), 0, mean)
    fill = lambda x: np.where(np.isnan(x), mean, x)
    a, mask = fill(train), np.isnan(train)
    for _ in range(rounds):
        pca = PCA(n_components=k, random_state=0).fit(a)
        a = np.where(mask, pca.inverse_transform(pca.transform(a)), train)
    b, tmask = fill(test), np.isnan(test)
    for _ in range(rounds):
        b = np.where(tmask, pca.inverse_transform(pca.transform(b)), test)
    return b, time.perf_counter() - t0

def report(name, method, truth, holes, filled, secs, unit):
    miss = np.isnan(holes)
    rmse = float(np.sqrt(np.mean((filled[miss] - truth[miss]) ** 2))) * unit
    print(f"| {name} | {rate:.0%} | {method} | {rmse:.2f} | {secs:.1f} |", flush=True)

def baselines(name, train, truth, holes, k, unit, knn_rows, iterative):
    t0 = time.perf_counter()
    mean = np.nanmean(train, axis=0)
    filled = np.where(np.isnan(holes), np.where(np.isnan(mean), 0, mean), holes)
    report(name, "column means", truth, holes, filled, time.perf_counter() - t0, unit)
    t0 = time.perf_counter()
    ref = train[:knn_rows]
    filled = KNNImputer(n_neighbors=5).fit(ref).transform(holes)
    label = f"KNNImputer, k = 5 ({len(ref)} reference rows)"
    report(name, label, truth, holes, filled, time.perf_counter() - t0, unit)
    if iterative:
        t0 = time.perf_counter()
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            filled = IterativeImputer(random_state=0, max_iter=10).fit(train).transform(holes)
        report(name, "IterativeImputer", truth, holes, filled, time.perf_counter() - t0, unit)
    filled, secs = iterative_pca(train, holes, k)
    report(name, f"iterative PCA, {k} components", truth, holes, filled, secs, unit)

def remove(x):
    return np.where(rng.random(x.shape) < rate, np.nan, x).astype(np.float32)

# MNIST
xtr, xte = idx(m + "/train-images-idx3-ubyte.gz"), idx(m + "/t10k-images-idx3-ubyte.gz")
htr, hte = remove(xtr), remove(xte)
write_idx(f"{out}/mnist-train-{rate}.idx", htr)
write_idx(f"{out}/mnist-test-{rate}.idx", hte)
np.save(f"{out}/mnist-truth.npy", xte)
baselines("MNIST", htr, xte, hte, 20, 255.0, 5000, False)
# the tabular set
d = load_breast_cancer().data
perm = np.random.default_rng(1).permutation(len(d))
d = (d - d.mean(0)) / d.std(0)
ttr, tte = d[perm[:455]].astype(np.float32), d[perm[455:]].astype(np.float32)
gtr, gte = remove(ttr), remove(tte)
for path, x in ((f"{out}/tab-train-{rate}.csv", gtr), (f"{out}/tab-test-{rate}.csv", gte)):
    with open(path, "w") as f:
        f.write(",".join(f"f{j}" for j in range(x.shape[1])) + "\n")
        for row in x:
            f.write(",".join("NA" if np.isnan(v) else f"{v:.7g}" for v in row) + "\n")
np.save(f"{out}/tab-truth.npy", tte)
baselines("breast cancer", gtr, tte, gte, 8, 1.0, len(gtr), True)
PY
    # aeimpute, with models trained on the incomplete training data
    mask=(--set 'model.noise={"type": "masking", "p": 0.3}' --set model.missing_indicators=true)
    times=()
    for variant in plain masked; do
        extra=()
        [[ $variant == masked ]] && extra=("${mask[@]}")
        t0=$(date +%s.%N)
        "$root/build/aetrain" --config "$root/configs/ae.json" --set "data.train=\"$out/mnist-train-$rate.idx\"" \
            --set 'data.train_labels=""' --set 'data.test=""' --set 'data.test_labels=""' --set data.missing=\"allow\" \
            --set output.images=false --set output.checkpoint_every=0 --epochs "$epochs" --threads "$threads" \
            "${extra[@]}" --out "$out/mnist-$variant-$rate" --quiet
        t1=$(date +%s.%N)
        "$root/build/aeimpute" --model "$out/mnist-$variant-$rate/model.safetensors" --data "$out/mnist-test-$rate.idx" \
            --out "$out/mnist-filled-$variant-$rate.idx" --threads "$threads" >"$out/mnist-impute-$variant-$rate.log"
        t2=$(date +%s.%N)
        times+=("$t0" "$t1" "$t2")
    done
    t0=$(date +%s.%N)
    "$root/build/aetrain" --config "$root/configs/ae.json" --set "data.train=\"$out/tab-train-$rate.csv\"" \
        --set 'data.train_labels=""' --set 'data.test=""' --set 'data.test_labels=""' --set data.missing=\"allow\" \
        --set 'model.encoder=[32]' --set model.latent=8 --set 'model.likelihood="gaussian"' \
        --set 'data.scale="standardize"' --set train.batch_size=32 --set output.images=false \
        --set output.checkpoint_every=0 --epochs 100 "${mask[@]}" \
        --threads "$threads" --out "$out/tab-$rate" --quiet
    t1=$(date +%s.%N)
    "$root/build/aeimpute" --model "$out/tab-$rate/model.safetensors" --data "$out/tab-test-$rate.csv" \
        --out "$out/tab-filled-$rate.csv" --threads "$threads" >"$out/tab-impute-$rate.log"
    t2=$(date +%s.%N)
    times+=("$t0" "$t1" "$t2")
    "$py" - "$out" "$rate" "$epochs" "${times[@]}" <<'PY'
import re, struct, sys
import numpy as np
out, rate, epochs = sys.argv[1], float(sys.argv[2]), sys.argv[3]
t = list(map(float, sys.argv[4:13]))
def idx(path):
    b = open(path, "rb").read()
    n, d = struct.unpack(">II", b[4:12])
    return np.frombuffer(b[12:], ">f4").reshape(n, d).astype(np.float64)
def csv(path):
    rows = [l.split(",") for l in open(path).read().split("\n")[1:] if l]
    return np.array([[np.nan if c.strip() == "NA" else float(c) for c in r] for r in rows])
def rounds(log):
    m = re.search(r"filled after (\d+) iteration", open(log).read())
    return m.group(1) if m else "?"
masked = "masking 0.3 + missing_indicators"
mt = np.load(f"{out}/mnist-truth.npy")
for name, holes, filled, truth, unit, (a, b, c), model, log in (
        ("MNIST", idx(f"{out}/mnist-test-{rate}.idx"), idx(f"{out}/mnist-filled-plain-{rate}.idx"), mt, 255.0,
         t[0:3], f"configs/ae.json, {epochs} epochs", f"{out}/mnist-impute-plain-{rate}.log"),
        ("MNIST", idx(f"{out}/mnist-test-{rate}.idx"), idx(f"{out}/mnist-filled-masked-{rate}.idx"), mt, 255.0,
         t[3:6], f"configs/ae.json + {masked}, {epochs} epochs", f"{out}/mnist-impute-masked-{rate}.log"),
        ("breast cancer", csv(f"{out}/tab-test-{rate}.csv"), csv(f"{out}/tab-filled-{rate}.csv"),
         np.load(f"{out}/tab-truth.npy"), 1.0, t[6:9], f"30-32-8 Gaussian AE + {masked}, 100 epochs",
         f"{out}/tab-impute-{rate}.log")):
    miss = np.isnan(holes)
    rmse = float(np.sqrt(np.mean((filled[miss] - truth[miss]) ** 2))) * unit
    print(f"| {name} | {rate:.0%} | aeimpute ({model}; trained {b - a:.1f} s; {rounds(log)} rounds) "
          f"| {rmse:.2f} | {c - b:.1f} |", flush=True)
PY
done
