#!/usr/bin/env bash
# aeexport end to end: for every model family and the options that change
# the graphs (activations, code activation, top-k, tied weights, each
# likelihood, standardised scaling, fixed binarisation, missing values
# filled with the training means), the exported
# encoder and decoder run in ONNX Runtime (npm package onnxruntime-node) on
# 300 MNIST test images and give aeencode's codes and aesample
# --from-codes's decodings to 1e-5: |onnx - toolkit| <= 1e-5 * max(1, |toolkit|)
# (absolute below 1, relative above), the decodings compared in the model's
# units (the data's units * scale + shift: [0, 1] for MNIST pixels), both
# the graph's mean and its x mapped there; Debian's python3-onnx checker
# accepts both files; bad usage gets one clear message.
#
# ONNX Runtime is installed with npm into $AE_BUILD/onnxruntime-node once
# and reused; without it (npm cannot reach its registry) the test fails.
source "$(dirname "$0")/lib.sh"
need_mnist
AEEXPORT=$AE_BUILD/aeexport
RUNNER=$AE_SOURCE/tests/cli/onnx_run.js
ONNX_PY=/usr/bin/python3 # Debian's, with python3-onnx
ORT_VERSION=1.31.1

# --- ONNX Runtime for node, cached under the build folder ---
# cli_test_errors_doc runs this script too, at the same time as ctest runs
# it: the check and the install hold a lock, so one never runs node on the
# other's half-installed package
ORT_DIR=$AE_BUILD/onnxruntime-node
exec 9>"$AE_BUILD/onnxruntime-node.lock"
flock 9
if ! NODE_PATH=$ORT_DIR/node_modules node -e "require('onnxruntime-node');
        process.exit(require('onnxruntime-node/package.json').version === '$ORT_VERSION' ? 0 : 1)" 2>/dev/null; then
    mkdir -p "$ORT_DIR"
    # the package's install script fetches GPU builds from elsewhere; the
    # CPU runtime this test needs is in the package itself
    (cd "$ORT_DIR" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --loglevel=error \
        "onnxruntime-node@$ORT_VERSION") >npm.log 2>&1 || {
        echo "FAIL: npm install onnxruntime-node@$ORT_VERSION: $(tail -5 npm.log)" >&2
        exit 1
    }
fi
flock -u 9
export NODE_PATH=$ORT_DIR/node_modules
"$ONNX_PY" -c 'import onnx' 2>/dev/null || { echo "FAIL: $ONNX_PY cannot import onnx (apt-get install python3-onnx)" >&2; exit 1; }

# --- 300 test images as IDX (for the toolkit) and raw float32/int64 (for ORT) ---
N=300
"$PY" - "$MNIST/t10k-images-idx3-ubyte.gz" "$MNIST/t10k-labels-idx1-ubyte.gz" $N <<'PY' || fail "make inputs"
import gzip, struct, sys
import numpy as np
n = int(sys.argv[3])
img = np.frombuffer(gzip.open(sys.argv[1]).read()[16:], np.uint8)[:n * 784]
lab = np.frombuffer(gzip.open(sys.argv[2]).read()[8:], np.uint8)[:n]
open("t.idx", "wb").write(struct.pack(">IIII", 0x803, n, 28, 28) + img.tobytes())
open("l.idx", "wb").write(struct.pack(">II", 0x801, n) + lab.tobytes())
img.astype("<f4").tofile("x.f32")
lab.astype("<i8").tofile("label.i64")
np.full(n, 3, "<i8").tofile("class3.i64")
# missing values: float32 IDX in [0, 1] with a tenth of the pixels NaN, the
# training set's too (so the model has a fill: the training means)
rng = np.random.default_rng(1)
def holes(x):
    x = x.astype(np.float32) / 255
    x[rng.random(x.shape) < 0.1] = np.nan
    return x
tr = np.frombuffer(gzip.open(sys.argv[1].replace("t10k", "train")).read()[16:], np.uint8)[:1000 * 784]
for fname, x, rows in (("train-nan.idx", holes(tr), 1000), ("t-nan.idx", holes(img), n)):
    open(fname, "wb").write(struct.pack(">IIII", 0xD03, rows, 28, 28) + x.astype(">f4").tobytes())
    if rows == n:
        x.astype("<f4").tofile("x-nan.f32")
PY

small=("${MNIST_SET[@]}" --set data.train_limit=1000 --set data.test_limit=100 --set train.batch_size=100
       --set output.images=false --threads 1 --quiet --epochs 1)

# check NAME CONFIG [--set ...]: train, export, run both graphs, compare;
# on the examples of $TIDX (IDX), $XF32 for ORT.
TIDX=t.idx XF32=x.f32
check() {
    local name=$1 config=$2
    shift 2
    "$AETRAIN" --config "$AE_SOURCE/configs/$config" "${small[@]}" "$@" --out "$name" 2>"$name.log" \
        || { fail "$name: train: $(cat "$name.log")"; return; }
    local m=$name/model.safetensors
    "$AEEXPORT" --model "$m" --encoder "$name.enc.onnx" --decoder "$name.dec.onnx" \
        || { fail "$name: aeexport"; return; }
    "$ONNX_PY" - "$name.enc.onnx" "$name.dec.onnx" <<'PY' && ok || fail "$name: onnx.checker"
import sys, onnx
for f in sys.argv[1:]:
    m = onnx.load(f)
    onnx.checker.check_model(m, full_check=True)
    assert m.opset_import[0].version >= 13
PY
    local cvae=0 lab=() cls=() elab=() dlab=()
    if grep -Eq '"type":[[:space:]]*"cvae"' "$name/config.json"; then
        cvae=1 lab=(--labels l.idx) cls=(--class 3) elab=("label=label.i64:int64:$N") dlab=("label=class3.i64:int64:$N")
    fi
    "$AEENCODE" --model "$m" --data "$TIDX" "${lab[@]}" --logvar --precision fp32 --out "$name.codes.csv" \
        || { fail "$name: aeencode"; return; }
    "$AESAMPLE" --model "$m" --from-codes "$name.codes.csv" "${cls[@]}" --precision fp32 \
        --csv "$name.dec.csv" --out "$name.dec.png" 2>/dev/null || { fail "$name: aesample"; return; }
    local L
    L=$(head -1 "$name.codes.csv" | tr , '\n' | grep -c '^z')
    # the codes the toolkit decoded, as ORT's decoder input
    "$PY" - "$name.codes.csv" "$name.z.f32" "$L" "$cvae" <<'PY' || fail "$name: codes"
import csv, sys
import numpy as np
rows = list(csv.reader(open(sys.argv[1])))
head, rows = rows[0], rows[1:]
z0 = head.index("z0")
np.array([[float(v) for v in r[z0:z0 + int(sys.argv[3])]] for r in rows], "<f4").tofile(sys.argv[2])
PY
    node "$RUNNER" "$name.enc.onnx" "$name.ort" "x=$XF32:float32:${N}x784" "${elab[@]}" >"$name.enc.out" 2>&1 \
        || { fail "$name: ORT encoder: $(cat "$name.enc.out")"; return; }
    node "$RUNNER" "$name.dec.onnx" "$name.ort" "z=$name.z.f32:float32:${N}x$L" "${dlab[@]}" >"$name.dec.out" 2>&1 \
        || { fail "$name: ORT decoder: $(cat "$name.dec.out")"; return; }
    "$PY" - "$name" "$L" $N <<'PY' && ok || fail "$name: ONNX Runtime differs from the toolkit"
import csv, json, os, struct, sys
import numpy as np
name, L, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
# the model's data scaling from its safetensors file: model = data * scale + shift
blob = open(name + "/model.safetensors", "rb").read()
hlen, = struct.unpack("<Q", blob[:8])
header = json.loads(blob[8:8 + hlen])
def tensor(key):
    a, b = header[key]["data_offsets"]
    return np.frombuffer(blob[8 + hlen + a:8 + hlen + b], "<f4").astype(np.float64)
scale, shift = tensor("data.scale"), tensor("data.shift")
rows = list(csv.reader(open(name + ".codes.csv")))
head, codes = rows[0], np.array([[float(v) for v in r] for r in rows[1:]])
z0 = head.index("z0")
mu, lv = codes[:, z0:z0 + L], codes[:, z0 + L:z0 + 2 * L]
dec = np.array([[float(v) for v in r] for r in list(csv.reader(open(name + ".dec.csv")))[1:]])
def got(out, cols):
    return np.fromfile(f"{name}.ort.{out}", "<f4").astype(np.float64).reshape(n, cols)
dec = dec * scale + shift
pairs = [("mean", got("mean", 784), dec), ("x", got("x", 784) * scale + shift, dec)]
if os.path.exists(name + ".ort.code"):
    pairs.append(("code", got("code", L), mu))
else:
    pairs += [("mu", got("mu", L), mu), ("logvar", got("logvar", L), lv)]
worst = 0.0
for what, a, b in pairs:
    assert a.shape == b.shape, (what, a.shape, b.shape)
    err = np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b)))
    print(f"{name}: {what} {a.shape}: largest difference {err:.2e}")
    worst = max(worst, err)
sys.exit(0 if worst <= 1e-5 else 1)
PY
}

check vae vae.json
check iwae iwae.json
check cvae cvae.json
check hvae hvae.json
check topk sparse-topk.json --set model.latent=64 --set model.sparsity.k=10
check tied tied-ae.json
check ae-sigmoid ae.json --set model.activation='"elu"' --set model.code_activation='"sigmoid"' \
    --set model.likelihood='"continuous_bernoulli"'
check vae-gl vae.json --set model.activation='"leaky_relu"' --set model.likelihood='"gaussian_learned"' \
    --set data.scale='"standardize"' --set model.encoder='[64,32]'
check vae-bin vae.json --set model.activation='"tanh"' --set data.binarize='"fixed"' --set model.tied=true
TIDX=t-nan.idx XF32=x-nan.f32 check vae-nan vae.json --set data.train='"train-nan.idx"' \
    --set data.test='"t-nan.idx"' --set data.train_labels='""' --set data.test_labels='""' \
    --set data.missing='"allow"'
TIDX=t-nan.idx XF32=x-nan.f32 check ae-ind ae.json --set data.train='"train-nan.idx"' \
    --set data.test='"t-nan.idx"' --set data.train_labels='""' --set data.test_labels='""' \
    --set data.missing='"allow"' --set model.missing_indicators=true \
    --set model.noise='{"type": "masking", "p": 0.2}'
# the top-k graph keeps k units per row, like the toolkit
"$PY" - <<'PY' && ok || fail "top-k: not 10 non-zero units per row"
import numpy as np
c = np.fromfile("topk.ort.code", "<f4").reshape(300, 64)
assert ((c != 0).sum(1) == 10).all()
PY

"$AEEXPORT" --help | grep -q '^usage: aeexport' && ok || fail "aeexport --help"
"$AEEXPORT" --version | grep -Eq '^aeexport [0-9]+\.[0-9]+' && ok || fail "aeexport --version"

errors_section "aeexport"
expect 2 "--model is required" -- "$AEEXPORT" --encoder e.onnx
expect 2 "nothing to write: give --encoder FILE, --decoder FILE or both" -- "$AEEXPORT" --model vae/model.safetensors
expect 2 "--encoder and --decoder name the same file 'e.onnx'" -- \
    "$AEEXPORT" --model vae/model.safetensors --encoder e.onnx --decoder e.onnx
expect 2 "unknown option '--opset'" -- "$AEEXPORT" --model vae/model.safetensors --encoder e.onnx --opset 9
expect 2 "no-model.safetensors" -- "$AEEXPORT" --model no-model.safetensors --encoder e.onnx
printf 'not a checkpoint' >junk.safetensors
expect 2 "junk.safetensors" -- "$AEEXPORT" --model junk.safetensors --encoder e.onnx
expect 2 "no-dir/e.onnx" -- "$AEEXPORT" --model vae/model.safetensors --encoder no-dir/e.onnx
mkdir -p adir
expect 2 "adir" -- "$AEEXPORT" --model vae/model.safetensors --decoder adir
[ ! -e e.onnx ] && ok || fail "a refused export wrote e.onnx"
finish
