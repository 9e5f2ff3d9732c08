#!/usr/bin/env bash
# A fingerprint of what the trainer computes, to prove that a refactor changed
# nothing for users: every shipped spec in configs/ trained for 1 epoch on
# 5,000 MNIST training and 1,000 test images, 1 thread, seed 1; for each, the
# final train and test loss as metrics.csv prints them and the SHA-256 of
# every tensor of model.safetensors.  Bits depend on the machine (CPU, BLAS
# kernels), so compare two fingerprints taken on the same machine.
#
# usage: scripts/fingerprint.sh [-h|--help] [--build DIR] [--out FILE] [--compare FILE]
#                                [--set KEY=VALUE]...
#   --build DIR     the build to use (default build/; needs aetrain)
#   --set KEY=VAL   a spec override for every run, e.g. train.backend=openblas
#                   (a build from before train.backend existed takes no such key)
#   --out FILE      write the fingerprint there (default: standard output)
#   --compare FILE  also compare with an earlier fingerprint: exit 1 and show
#                   the differences if any line differs
#
# Before a refactor:  scripts/fingerprint.sh --out /tmp/before.txt
# After it:           scripts/fingerprint.sh --compare /tmp/before.txt
# (or build the old commit in a git worktree and point --build at it).
#
# MNIST comes from scripts/get-mnist.sh (data/mnist/).  Uses /usr/bin/python3's
# standard library only.

set -euo pipefail
AE_PROG=fingerprint
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deps.sh
source "$here/deps.sh"

usage() { printf 'usage: scripts/fingerprint.sh [-h|--help] [--build DIR] [--out FILE] [--compare FILE] [--set KEY=VALUE]...\n' >&2; exit 2; }
build=$AE_ROOT/build out='' compare='' sets=()
while (($# > 0)); do
    case $1 in
    -h | --help)
        sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
        exit 0
        ;;
    --build) build=$(cd -- "${2:?--build needs a folder}" && pwd); shift ;;
    --out) out=${2:?--out needs a file}; shift ;;
    --compare) compare=${2:?--compare needs a file}; shift ;;
    --set) sets+=(--set "${2:?--set needs KEY=VALUE}"); shift ;;
    *) usage ;;
    esac
    shift
done
[[ -x $build/aetrain ]] || ae_die "$build/aetrain not found: build first (cmake -S . -B build && cmake --build build)"
[[ -z $compare || -f $compare ]] || ae_die "$compare: no such file"
py=/usr/bin/python3
[[ -x $py ]] || py=python3

bash "$AE_ROOT/scripts/get-mnist.sh" >/dev/null
mnist=$AE_ROOT/data/mnist
work=$(mktemp -d "${TMPDIR:-/tmp}/ae-fingerprint.XXXXXX")
trap 'rm -rf "$work"' EXIT

result=$work/fingerprint.txt
for spec in "$AE_ROOT"/configs/*.json; do
    name=$(basename "$spec" .json)
    # Labels only where the spec has them (the cvae needs them; others ignore them).
    OPENBLAS_NUM_THREADS=1 "$build/aetrain" --config "$spec" --epochs 1 --seed 1 --threads 1 --quiet \
        --set "data.train=\"$mnist/train-images-idx3-ubyte.gz\"" \
        --set "data.train_labels=\"$mnist/train-labels-idx1-ubyte.gz\"" \
        --set "data.test=\"$mnist/t10k-images-idx3-ubyte.gz\"" \
        --set "data.test_labels=\"$mnist/t10k-labels-idx1-ubyte.gz\"" \
        --set data.train_limit=5000 --set data.test_limit=1000 --set output.images=false \
        "${sets[@]}" --out "$work/$name" || ae_die "training $name failed"
    "$py" - "$name" "$work/$name/metrics.csv" "$work/$name/model.safetensors" >>"$result" <<'PY'
import csv, hashlib, json, struct, sys
name, metrics, model = sys.argv[1:]
rows = list(csv.DictReader(open(metrics)))
last = rows[-1]
print(f"{name} train_loss {last['train_loss']} test_loss {last['test_loss']}")
blob = open(model, "rb").read()
n, = struct.unpack("<Q", blob[:8])
header = json.loads(blob[8:8 + n])
header.pop("__metadata__", None)
data = blob[8 + n:]
for t, info in sorted(header.items()):
    a, b = info["data_offsets"]
    print(f"{name} {t} {info['dtype']} {info['shape']} {hashlib.sha256(data[a:b]).hexdigest()}")
PY
    ae_msg "$name: done" >&2
done

if [[ -n $out ]]; then cp -- "$result" "$out"; elif [[ -z $compare ]]; then cat -- "$result"; fi
if [[ -n $compare ]]; then
    if diff -u -- "$compare" "$result" >"$work/diff"; then
        ae_msg "identical to $compare ($(wc -l <"$result") lines)"
    else
        cat -- "$work/diff"
        ae_die "differs from $compare"
    fi
fi
