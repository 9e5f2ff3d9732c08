#!/usr/bin/env bash
# Training on incomplete data: missing CSV cells (data.csv.missing tokens) and
# float IDX NaN are refused by default with a message naming data.missing;
# with data.missing "allow" the model trains, its missing inputs get the
# training means (the checkpoint's data.fill, checked against the data),
# missing targets leave the loss, and resume stays bit for bit.
source "$(dirname "$0")/lib.sh"
need_mnist

"$PY" - "$MNIST/train-images-idx3-ubyte.gz" <<'PY' || fail "make data"
import gzip, random, struct, sys
x = gzip.open(sys.argv[1]).read()[16:16 + 1500 * 784]
random.seed(1)
miss = [[random.random() < 0.3 for _ in range(784)] for _ in range(1500)]
with open("holes.csv", "w") as f:
    f.write(",".join(f"p{j}" for j in range(784)) + "\n")
    for i in range(1500):
        f.write(",".join("NA" if miss[i][j] else f"{x[i * 784 + j] / 255:.6g}" for j in range(784)) + "\n")
with open("full.csv", "w") as f:
    for i in range(300):
        f.write(",".join(f"{x[i * 784 + j] / 255:.6g}" for j in range(784)) + "\n")
# float32 IDX [300 x 784] with NaN where missing
with open("holes.idx", "wb") as f:
    f.write(bytes([0, 0, 0x0D, 2]) + struct.pack(">II", 300, 784))
    for i in range(300):
        f.write(b"".join(struct.pack(">f", float("nan") if miss[i][j] else x[i * 784 + j] / 255) for j in range(784)))
# the fill aetrain must find: each feature's mean over the values present
with open("fill.txt", "w") as f:
    for j in range(784):
        v = [float(f"{x[i * 784 + j] / 255:.6g}") for i in range(1500) if not miss[i][j]]
        f.write(f"{sum(v) / len(v) if v else 0.0}\n")
PY
base=(--config "$AE_SOURCE/configs/vae.json" --set 'data.train_labels=""' --set 'data.test=""'
      --set 'data.test_labels=""' --set output.images=false --set train.batch_size=100 --threads 1 --quiet)

errors_section "missing values"
expect 2 "holes.csv: line [0-9]+, column [0-9]+ \('p[0-9]+'\): missing value 'NA' \(data.missing \"allow\" accepts missing values\)" -- \
    "$AETRAIN" "${base[@]}" --set data.train=\"holes.csv\" --epochs 1 --out refused
expect 2 "holes.idx: element [0-9]+ \(example 0\) is NaN \(a missing value: data.missing \"allow\" accepts them\)" -- \
    "$AETRAIN" "${base[@]}" --set data.train=\"holes.idx\" --epochs 1 --out refused
expect 2 "data.missing" -- "$AETRAIN" "${base[@]}" --set data.train=\"holes.csv\" --set data.missing=\"maybe\" --out refused
expect 2 "data.csv.missing" -- "$AETRAIN" "${base[@]}" --set data.train=\"holes.csv\" --set 'data.csv.missing="NA"' --out refused
expect 2 "model.missing_indicators: does not combine with model.tied" -- "$AETRAIN" "${base[@]}" --set data.train=\"holes.csv\" \
    --set data.missing=\"allow\" --set model.tied=true --set model.missing_indicators=true --out refused

allow=("${base[@]}" --set data.missing=\"allow\")
"$AETRAIN" "${allow[@]}" --set data.train=\"holes.csv\" --epochs 2 --out run || fail "train with missing values"
cp run/model.safetensors two.safetensors
awk -F, 'NR > 1 && !($2 + 0 > 20 && $2 + 0 < 600) { bad = 1 } END { exit bad }' run/metrics.csv && ok \
    || fail "losses: $(cat run/metrics.csv)"
"$PY" - run/model.safetensors fill.txt <<'PY' && ok || fail "data.fill is not the training means"
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
t = h["data.fill"]
lo, hi = t["data_offsets"]
fill = struct.unpack(f"<{(hi - lo) // 4}f", b[8 + n + lo:8 + n + hi])
want = [float(v) for v in open(sys.argv[2])]
worst = max(abs(a - w) for a, w in zip(fill, want))
print(f"data.fill: {len(fill)} values, largest difference from the means {worst:.2e}")
sys.exit(0 if len(fill) == 784 and worst < 1e-5 else 1)
PY
# resume within incomplete data: bit for bit
"$AETRAIN" "${allow[@]}" --set data.train=\"holes.csv\" --epochs 1 --out run || fail "1 epoch"
"$AETRAIN" --resume run/checkpoint.safetensors --epochs 2 --quiet || fail "resume"
cmp -s run/model.safetensors two.safetensors && ok || fail "1 epoch + resume differs from 2 with missing values"
# float IDX with NaN
"$AETRAIN" "${allow[@]}" --set data.train=\"holes.idx\" --epochs 1 --out idx || fail "train on NaN IDX"
# complete data: no fill, even when missing values are allowed
"$AETRAIN" "${allow[@]}" --set data.train=\"full.csv\" --epochs 1 --out full || fail "complete data"
grep -aq 'data.fill' full/model.safetensors && fail "a model of complete data has a data.fill" || ok
# the programs read incomplete data with the model's settings: aeencode encodes it
"$AEENCODE" --model run/model.safetensors --data holes.csv --out codes.csv 2>enc.log || fail "aeencode: $(cat enc.log)"
[ "$(wc -l <codes.csv)" -eq 1501 ] && ! grep -qi nan codes.csv && ok || fail "codes of incomplete data"
# aeeval and aerecon score the values present; PCA needs complete data and is left out
"$AE_BUILD/aeeval" --model run/model.safetensors --data holes.csv --iw 5 --json >ev.json 2>ev.log || fail "aeeval: $(cat ev.log)"
"$PY" - ev.json <<'PY' && ok || fail "aeeval on incomplete data: $(cat ev.json)"
import json, math, sys
e = json.load(open(sys.argv[1]))
assert all(math.isfinite(e[k]) for k in ("neg_elbo", "recon", "sse", "iwae_nll")), e
assert e["pca_recon"] is None, e["pca_recon"]
PY
"$AE_BUILD/aerecon" --model run/model.safetensors --data holes.csv --out filled.csv >rec.log || fail "aerecon"
grep -Eq 'reconstruction MSE [0-9]' rec.log && ! grep -qi nan rec.log && ok || fail "aerecon on incomplete data: $(cat rec.log)"
finish
