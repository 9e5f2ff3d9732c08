#!/usr/bin/env bash
# bench/denoise.sh [--epochs E] [--threads T] [--out DIR]
#
# Denoising MNIST, side by side in one run (docs/recon.md): the 10,000 test
# images corrupted three ways (gaussian:0.5, masking:0.5, salt_pepper:0.3,
# in the [0, 1] units the models see; seed 1), and the mean squared error
# and PSNR against the clean images, in pixel units (0-255), of
#   - the corrupted input itself,
#   - PCA (scikit-learn, fitted on the 60,000 clean training images) with as
#     many components as the models' latent (64), reconstructing the
#     corrupted input,
#   - a plain AE of the denoising AEs' shape (configs/dae-*.json with
#     model.noise none), and
#   - the denoising AE trained with that corruption (configs/dae-gaussian,
#     dae-masking, dae-saltpepper.json),
# each model trained E epochs (default 10, the specs' own) on the training
# set, reconstructing with aerecon.  Prints a markdown table.
set -euo pipefail
epochs=10 threads=0 outdir=""
while (($#)); do
    case $1 in
    --epochs) epochs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --out) outdir=$2; shift 2 ;;
    *) echo "bench/denoise.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup denoise "$outdir" aetrain aerecon
py=/usr/bin/python3
"$py" -c 'import sklearn' 2>/dev/null || { echo "bench/denoise.sh: needs python3-sklearn (apt-get install python3-sklearn)" >&2; exit 2; }

train() { # NAME SPEC [--set ...]
    local name=$1 spec=$2
    shift 2
    "$root/build/aetrain" --config "$root/configs/$spec.json" \
        --set "data.train=\"$M/train-images-idx3-ubyte.gz\"" --set 'data.train_labels=""' \
        --set "data.test=\"$M/t10k-images-idx3-ubyte.gz\"" --set 'data.test_labels=""' \
        --set output.images=false --epochs "$epochs" --threads "$threads" --out "$out/$name" --quiet "$@"
}
train plain dae-gaussian --set 'model.noise={"type": "none"}'
train gaussian dae-gaussian
train masking dae-masking
train salt_pepper dae-saltpepper

# the errors aerecon prints: "reconstruction MSE X (PSNR Y dB), the corrupted input's MSE X (PSNR Y dB)"
recon() { # MODEL CORRUPT -> "mse psnr cmse cpsnr"
    "$root/build/aerecon" --model "$out/$1/model.safetensors" --data "$M/t10k-images-idx3-ubyte.gz" \
        --corrupt "$2" --seed 1 --corrupted-out "$out/corrupted-${2%%:*}.idx" --out "$out/recon.idx" \
        --threads "$threads" |
        sed -E 's/.*reconstruction MSE ([0-9.e+-]+) \(PSNR ([0-9.]+) dB\), the corrupted input.s MSE ([0-9.e+-]+) \(PSNR ([0-9.]+) dB\).*/\1 \2 \3 \4/'
}
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $epochs epochs each; $("$root/build/aetrain" --version)"
echo
echo "| corruption | corrupted input MSE (PSNR) | PCA, 64 components | plain AE, latent 64 | denoising AE, latent 64 |"
echo "|---|---|---|---|---|"
for c in gaussian:0.5 masking:0.5 salt_pepper:0.3; do
    read -r pm pp cm cp <<<"$(recon plain "$c")"
    read -r dm dp _ _ <<<"$(recon "${c%%:*}" "$c")"
    read -r am ap <<<"$("$py" - "$M" "$out/corrupted-${c%%:*}.idx" <<'PY'
import gzip, sys
import numpy as np
from sklearn.decomposition import PCA

def idx(path):
    raw = (gzip.open if path.endswith(".gz") else open)(path, "rb").read()
    kind, nd = raw[2], raw[3]
    dims = np.frombuffer(raw[4:4 + 4 * nd], ">u4")
    dt = {8: np.uint8, 13: ">f4"}[kind]
    return np.frombuffer(raw[4 + 4 * nd:], dt).reshape(int(dims[0]), -1).astype(np.float64)

xtr = idx(sys.argv[1] + "/train-images-idx3-ubyte.gz") / 255.0
xte = idx(sys.argv[1] + "/t10k-images-idx3-ubyte.gz")
cor = idx(sys.argv[2]) / 255.0
pca = PCA(n_components=64, random_state=0).fit(xtr)
rec = pca.inverse_transform(pca.transform(cor)) * 255.0
mse = float(np.mean((rec - xte) ** 2))
print(f"{mse:.6g} {10 * np.log10(255.0 ** 2 / mse):.2f}")
PY
)"
    printf '| %s | %.1f (%.2f dB) | %.1f (%.2f dB) | %.1f (%.2f dB) | %.1f (%.2f dB) |\n' \
        "$c" "$cm" "$cp" "$am" "$ap" "$pm" "$pp" "$dm" "$dp"
done
