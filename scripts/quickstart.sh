#!/usr/bin/env bash
# From a fresh checkout to a trained VAE on MNIST: checks (and as root on
# Debian installs) what building and training need (not the tests' Check,
# numpy or chromium: scripts/test.sh adds those), builds the programs in
# Release into build/, fetches MNIST into data/mnist/ and trains
# configs/vae.json into runs/vae/.
#
# usage: scripts/quickstart.sh [-h|--help] [--mpi [--np N]] [aetrain options...]
#   Options are passed to build/aetrain, e.g. scripts/quickstart.sh --epochs 1
#   --mpi     also installs Open MPI, builds with -DAE_MPI=ON and trains on
#             N MPI ranks (default 2) with mpirun (docs/distributed.md)
#
# Environment: see scripts/deps.sh --help and scripts/get-mnist.sh --help.

set -euo pipefail
AE_PROG=quickstart
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deps.sh
source "$here/deps.sh"

mpi=0 np=2
case ${1:-} in
-h | --help)
    sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
    exit 0
    ;;
--mpi)
    mpi=1
    shift
    if [[ ${1:-} == --np ]]; then
        np=${2:?--np needs a number}
        shift 2
    fi
    ;;
esac
caller_pwd=$PWD
cd "$AE_ROOT"

launch=()
if ((mpi)); then
    ae_deps --mpi
    ae_msg "building Release with Open MPI into build/"
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DAE_MPI=ON -DAE_BUILD_TESTS=OFF
    launch=(mpirun -np "$np")
    # Open MPI refuses root unless told, and more ranks than cores unless told
    [[ $(id -u) -ne 0 ]] || launch+=(--allow-run-as-root)
    ((np <= $(nproc))) || launch+=(--oversubscribe)
else
    ae_deps
    ae_msg "building Release into build/"
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DAE_MPI=OFF -DAE_BUILD_TESTS=OFF
fi
cmake --build build -j"$(nproc)"
[[ -x build/aetrain ]] || ae_die "build/aetrain was not built"

bash scripts/get-mnist.sh

shown=
(($# == 0)) || printf -v shown ' %q' "$@"
ae_msg "training: ${launch[*]}${launch:+ }build/aetrain --config configs/vae.json$shown"
"${launch[@]}" build/aetrain --config configs/vae.json "$@"

ae_msg "done. Outputs in runs/vae/:"
for f in model.safetensors metrics.csv recon.png samples.png config.json; do
    if [[ -e runs/vae/$f ]]; then
        printf '  runs/vae/%s\n' "$f"
    else
        printf '  runs/vae/%s (not written)\n' "$f"
    fi
done
echo "Next, encode the test set to latents and draw new samples:"
[[ $caller_pwd == "$AE_ROOT" ]] || printf '  cd %q\n' "$AE_ROOT"
cat <<'EOF'
  build/aeencode --model runs/vae/model.safetensors --data data/mnist/t10k-images-idx3-ubyte.gz --labels data/mnist/t10k-labels-idx1-ubyte.gz --out latents.csv
  build/aesample --model runs/vae/model.safetensors --n 64 --seed 3 --out samples.png
EOF
