#!/usr/bin/env bash
# bench/search.sh [--epochs E] [--threads T] [--out DIR]
#
# Similarity search on MNIST, side by side in one run (docs/search.md): the
# 10,000 test images as queries against the 60,000 training images, k = 10,
# Euclidean distance; precision@10 (the mean fraction of a query's 10
# neighbours with its label) and queries per second (the search alone:
# distances and top-k, after the features are computed) of
#   - pixel space: scikit-learn NearestNeighbors(algorithm="brute"),
#   - PCA space (scikit-learn, fitted on the training images) with 20
#     components, as many as the models' latent: scikit-learn's brute force,
#     and aesearch on the same PCA codes (--index-codes/--query-codes),
#   - the latent space (z = mu) of the reference VAE (configs/vae.json) and
#     AE (configs/ae.json), each trained E epochs (default 10): aesearch.
# scikit-learn's runs use /usr/bin/python3 with OMP/OpenBLAS threads = T.
set -euo pipefail
epochs=10 threads=2 outdir=""
while (($#)); do
    case $1 in
    --epochs) epochs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --out) outdir=$2; shift 2 ;;
    *) echo "bench/search.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup search "$outdir" aetrain aesearch
py=/usr/bin/python3
"$py" -c 'import sklearn' 2>/dev/null || { echo "bench/search.sh: needs python3-sklearn (apt-get install python3-sklearn)" >&2; exit 2; }
TR=$M/train-images-idx3-ubyte.gz TRL=$M/train-labels-idx1-ubyte.gz
TE=$M/t10k-images-idx3-ubyte.gz TEL=$M/t10k-labels-idx1-ubyte.gz

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $threads threads; $("$root/build/aetrain" --version)"
echo
echo "| space | searched by | precision@10 | queries/s |"
echo "|---|---|---|---|"
OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads "$py" - "$M" "$out" <<'PY'
import gzip, sys, time
import numpy as np
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

def idx(path):
    raw = gzip.open(path).read()
    nd = raw[3]
    dims = np.frombuffer(raw[4:4 + 4 * nd], ">u4")
    return np.frombuffer(raw[4 + 4 * nd:], np.uint8).reshape(int(dims[0]), -1)

m, out = sys.argv[1:3]
xtr = idx(m + "/train-images-idx3-ubyte.gz").astype(np.float32) / 255
xte = idx(m + "/t10k-images-idx3-ubyte.gz").astype(np.float32) / 255
ytr = idx(m + "/train-labels-idx1-ubyte.gz").ravel()
yte = idx(m + "/t10k-labels-idx1-ubyte.gz").ravel()

def search(name, a, b):
    nn = NearestNeighbors(n_neighbors=10, algorithm="brute").fit(a)
    t0 = time.perf_counter()
    _, ind = nn.kneighbors(b)
    s = time.perf_counter() - t0
    p = np.mean(ytr[ind] == yte[:, None])
    print(f"| {name} | scikit-learn NearestNeighbors, brute | {p:.4f} | {len(b) / s:.0f} |", flush=True)

search("pixels (784)", xtr, xte)
pca = PCA(n_components=20, random_state=0).fit(xtr)
ptr, pte = pca.transform(xtr).astype(np.float32), pca.transform(xte).astype(np.float32)
np.save(out + "/pca-train.npy", ptr)
np.save(out + "/pca-test.npy", pte)
search("PCA, 20 components", ptr, pte)
PY
# aesearch's line: "... s (N queries/s); precision@10 P"
ours() { # LABEL ARGS...
    local label=$1 line
    shift
    line=$("$root/build/aesearch" "$@" --index-labels "$TRL" --query-labels "$TEL" --k 10 --threads "$threads" \
        --out "$out/nn.csv" 2>&1 >/dev/null | tail -1)
    awk -v l="$label" -v s="$line" 'BEGIN {
        match(s, /\([0-9]+ queries\/s\)/); q = substr(s, RSTART + 1, RLENGTH - 12)
        match(s, /precision@10 [0-9.]+/); p = substr(s, RSTART + 13, RLENGTH - 13)
        printf "| %s | aesearch | %s | %s |\n", l, p, q }'
}
ours "PCA, 20 components" --index-codes "$out/pca-train.npy" --query-codes "$out/pca-test.npy"
for spec in vae ae; do
    "$root/build/aetrain" --config "$root/configs/$spec.json" --set "data.train=\"$TR\"" --set "data.train_labels=\"$TRL\"" \
        --set "data.test=\"$TE\"" --set "data.test_labels=\"$TEL\"" --set output.images=false \
        --epochs "$epochs" --threads "$threads" --out "$out/$spec" --quiet
    ours "latent of configs/$spec.json (20), $epochs epochs" --model "$out/$spec/model.safetensors" --index "$TR" --query "$TE"
done
