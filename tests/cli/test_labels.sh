#!/usr/bin/env bash
# Label names end to end: a CSV whose label column holds words (normal,
# attack, probe) trains every kind of model; the classes are the names in
# byte order, written to config.json and the checkpoint; the latent plot's
# legend, the report, aeencode's and aeeval's label columns, aepredict's
# file and summary, aesearch's neighbours, aesample --class NAME and the
# ONNX files' metadata use the names; a label file (with or without a
# header) gives the same model as the label column, bit for bit; resuming
# stays bit-identical; and the
# refusals: a test name the training data never had (named by line), names
# for a model trained on integers, model.classes that does not match, names
# in a stream (aeconvert).
source "$(dirname "$0")/lib.sh"
AEPREDICT=$AE_BUILD/aepredict
AEEVAL=$AE_BUILD/aeeval

"$PY" - <<'PY'
import numpy as np
rng = np.random.default_rng(7)
names = ["normal", "attack", "probe"]
def write(path, n, kinds=names, header=True):
    y = rng.integers(0, len(kinds), n)
    x = rng.normal(size=(n, 6)) + 2.0 * np.eye(3, 6)[y % 3] * 3
    with open(path, "w") as f:
        if header:
            f.write("a,b,c,d,e,f,kind\n")
        for xi, yi in zip(x, y):
            f.write(",".join(f"{v:.4f}" for v in xi) + "," + kinds[yi] + "\n")
write("train.csv", 400)
write("test.csv", 120)
# line 12 of bad.csv (after the header) is the first 'zombie'
with open("bad.csv", "w") as f:
    f.write("a,b,c,d,e,f,kind\n")
    for i in range(20):
        f.write("0,0,0,0,0,0," + ("zombie" if i in (10, 15) else "normal") + "\n")
PY
cut -d, -f1-6 train.csv >train-x.csv
cut -d, -f7 train.csv >train-y.csv                 # with its header "kind"
tail -n +2 train-y.csv >train-y-nohead.csv
cut -d, -f1-6 test.csv >test-x.csv
cut -d, -f7 test.csv >test-y.csv
base=(--set 'data.train="train.csv"' --set 'data.test="test.csv"' --set 'data.csv.label_column="kind"'
      --set 'data.train_labels=""' --set 'data.test_labels=""' --set 'data.scale="standardize"'
      --set 'model.encoder=[16]' --set train.batch_size=20
      --threads 1 --quiet)
cfg=$AE_SOURCE/configs

# --- an autoencoder: the classes, the legend, the report, aeencode ---
"$AETRAIN" --config "$cfg/ae.json" "${base[@]}" --set model.latent=2 --set model.likelihood='"gaussian"' \
    --epochs 2 --out ae || fail "train ae"
"$PY" - <<'PY' && ok || fail "class names in config.json, the checkpoint, latents.svg, report.html"
import json, re, struct
assert json.load(open("ae/config.json"))["data"]["class_names"] == ["attack", "normal", "probe"]
blob = open("ae/model.safetensors", "rb").read()
n, = struct.unpack("<Q", blob[:8])
spec = json.loads(json.loads(blob[8:8 + n])["__metadata__"]["config"])
assert spec["data"]["class_names"] == ["attack", "normal", "probe"], spec["data"]
svg = open("ae/latents.svg").read()
legend = re.findall(r'fill="#222222">(\w+)</text>', svg)
assert legend[-3:] == ["attack", "normal", "probe"], legend
assert "0&nbsp;attack, 1&nbsp;normal, 2&nbsp;probe" in open("ae/report.html").read()
PY
"$AEENCODE" --model ae/model.safetensors --data test.csv --out codes.csv --plot codes.svg || fail "aeencode"
"$PY" - <<'PY' && ok || fail "aeencode label column and plot"
import csv
want = [r["kind"] for r in csv.DictReader(open("test.csv"))]
got = [r["label"] for r in csv.DictReader(open("codes.csv"))]
assert got == want, (got[:5], want[:5])
assert ">probe</text>" in open("codes.svg").read()
PY

# --- a classifier: from the label column and from label files, the same ---
"$AETRAIN" --config "$cfg/classifier.json" "${base[@]}" --set 'model.init_from=""' --set model.latent=4 --set model.classes=3 \
    --set train.lr=0.01 --epochs 5 --out cls || fail "train classifier"
for lf in train-y.csv train-y-nohead.csv; do
    "$AETRAIN" --config "$cfg/classifier.json" "${base[@]}" --set 'model.init_from=""' --set model.latent=4 --set model.classes=3 \
        --set 'data.train="train-x.csv"' --set "data.train_labels=\"$lf\"" --set 'data.test="test-x.csv"' \
        --set 'data.test_labels="test-y.csv"' --set 'data.csv.label_column=""' --set train.lr=0.01 --epochs 5 --out "cls-$lf" \
        || fail "train with $lf"
done
"$PY" - cls/model.safetensors cls-train-y.csv/model.safetensors cls-train-y-nohead.csv/model.safetensors <<'PY' \
    && ok || fail "label files give the label column's model"
import json, struct, sys
def load(path):
    blob = open(path, "rb").read()
    n, = struct.unpack("<Q", blob[:8])
    head = json.loads(blob[8:8 + n])
    spec = json.loads(head["__metadata__"]["config"])
    return blob[8 + n:], spec["data"]["class_names"]
a, b, c = (load(p) for p in sys.argv[1:])
assert a[1] == b[1] == c[1] == ["attack", "normal", "probe"]
assert a[0] == b[0] == c[0], "the tensors differ"
PY
"$AEPREDICT" --model cls/model.safetensors --data test.csv --out pred.csv >pred.log || fail "aepredict"
"$PY" - <<'PY' && ok || fail "aepredict names"
import csv, re
rows = list(csv.reader(open("pred.csv")))
assert rows[0] == ["index", "prediction", "p_attack", "p_normal", "p_probe", "label"], rows[0]
want = [r["kind"] for r in csv.DictReader(open("test.csv"))]
names = ["attack", "normal", "probe"]
right = 0
for i, r in enumerate(rows[1:]):
    p = [float(v) for v in r[2:5]]
    assert r[1] == names[max(range(3), key=lambda k: (p[k], -k))], r
    assert r[5] == want[i], (i, r)
    right += r[1] == r[5]
log = open("pred.log").read()
assert re.search(r"^ *label +attack +normal +probe$", log, re.M), log
m = re.search(r"^accuracy [0-9.]+ \(([0-9]+) of 120\)$", log, re.M)
assert m and int(m.group(1)) == right and right > 80, (log, right)  # chance is 40
PY
"$AEPREDICT" --model cls/model.safetensors --data test.csv --out pred2.csv --json >pred.json || fail "--json"
"$PY" -c 'import json; j = json.load(open("pred.json")); assert j["class_names"] == ["attack", "normal", "probe"], j' \
    && ok || fail "aepredict --json class_names"

# --- resuming a run with names is bit-identical to running through ---
"$AETRAIN" --config "$cfg/classifier.json" "${base[@]}" --set 'model.init_from=""' --set model.latent=4 --set model.classes=3 \
    --set train.lr=0.01 --epochs 1 --out cls-resumed || fail "train 1 epoch"
"$AETRAIN" --resume cls-resumed/checkpoint.safetensors --epochs 5 --threads 1 --quiet || fail "resume"
"$PY" - <<'PY' && ok || fail "resume with names"
import struct
def data(p):
    b = open(p, "rb").read()
    return b[8 + struct.unpack("<Q", b[:8])[0]:]
assert data("cls/model.safetensors") == data("cls-resumed/model.safetensors")
PY

# --- a conditional VAE: aesample --class NAME is the class's number ---
"$AETRAIN" --config "$cfg/cvae.json" "${base[@]}" --set model.latent=2 --set model.classes=3 \
    --set 'model.decoder=[16]' --set model.likelihood='"gaussian"' --set output.images=false \
    --epochs 2 --out cvae || fail "train cvae"
"$AESAMPLE" --model cvae/model.safetensors --class probe --n 4 --seed 3 --out probe.png --csv probe.csv \
    || fail "aesample --class probe"
"$AESAMPLE" --model cvae/model.safetensors --class 2 --n 4 --seed 3 --out two.png --csv two.csv \
    || fail "aesample --class 2"
cmp -s probe.csv two.csv && cmp -s probe.png two.png && ok || fail "--class probe is not --class 2"
# the ONNX files say which label number is which
"$AE_BUILD/aeexport" --model cvae/model.safetensors --encoder cvae-enc.onnx --decoder cvae-dec.onnx \
    || fail "aeexport"
"$PY" - <<'PY' && ok || fail "ONNX metadata data.class_names"
import json, onnx
for f in ["cvae-enc.onnx", "cvae-dec.onnx"]:
    m = onnx.load(f)
    onnx.checker.check_model(m)
    props = {p.key: p.value for p in m.metadata_props}
    assert json.loads(props["data.class_names"]) == ["attack", "normal", "probe"], props
PY

# --- aesearch and aeeval write the names ---
"$AE_BUILD/aesearch" --model ae/model.safetensors --index train.csv --query test.csv --k 3 --out nn.csv \
    2>/dev/null || fail "aesearch"
"$PY" - <<'PY' && ok || fail "aesearch label columns"
import csv
tr = [r["kind"] for r in csv.DictReader(open("train.csv"))]
te = [r["kind"] for r in csv.DictReader(open("test.csv"))]
rows = list(csv.DictReader(open("nn.csv")))
assert len(rows) == 360
for r in rows:
    assert r["query_label"] == te[int(r["query"])] and r["index_label"] == tr[int(r["index"])], r
PY
# a model that learnt no labels takes a label file's names (--data's; the probe's read against them)
"$AETRAIN" --config "$cfg/ae.json" "${base[@]}" --set 'data.csv.label_column=""' --set 'data.train="train-x.csv"' \
    --set 'data.test="test-x.csv"' --set model.likelihood='"gaussian"' --set model.latent=3 --epochs 1 \
    --out plain || fail "train unlabelled"
"$AEEVAL" --model plain/model.safetensors --data test-x.csv --labels test-y.csv --probe-train train-x.csv \
    --probe-labels train-y.csv --scores scores.csv --no-pca >eval.log 2>&1 || fail "aeeval: $(cat eval.log)"
"$PY" - <<'PY' && ok || fail "aeeval scores label column"
import csv
want = [r["kind"] for r in csv.DictReader(open("test.csv"))]
assert [r["label"] for r in csv.DictReader(open("scores.csv"))] == want
PY
grep -q 'probe' eval.log && ok || fail "aeeval: no linear probe: $(cat eval.log)"

errors_section "Label names (data.class_names)"
ERRORS_ELIDE="${base[*]}"
expect 2 "bad.csv: line 12: label 'zombie' is not one of the 3 classes of the training data \(data.class_names: attack, normal, probe\)" -- \
    "$AETRAIN" --config "$cfg/ae.json" "${base[@]}" --set 'data.test="bad.csv"' --out refused
[ ! -e refused/config.json ] && ok || fail "a refused run wrote its spec"
expect 2 "bad.csv: line 12: label 'zombie' is not one of the 3 classes" -- \
    "$AEPREDICT" --model cls/model.safetensors --data bad.csv --out p.csv
expect 2 "model.classes is 4, but the labels of data.train train.csv are 3 names \(attack, normal, probe\): set model.classes to 3" -- \
    "$AETRAIN" --config "$cfg/classifier.json" "${base[@]}" --set 'model.init_from=""' --set model.classes=4 --out refused
expect 2 "model.classes: is 2, but data.class_names names 3 classes" -- \
    "$AETRAIN" --config "$cfg/classifier.json" "${base[@]}" --set 'model.init_from=""' --set model.classes=2 \
    --set 'data.class_names=["attack", "normal", "probe"]' --out refused
expect 2 "--class: 'zombie' is not one of the model's classes \(attack, normal, probe\), nor a number from 0 to 2" -- \
    "$AESAMPLE" --model cvae/model.safetensors --class zombie --out z.png
# a model trained on integer labels
sed 's/,normal$/,0/; s/,attack$/,1/; s/,probe$/,2/' train.csv >train-int.csv
"$AETRAIN" --config "$cfg/ae.json" "${base[@]}" --set 'data.train="train-int.csv"' --set 'data.test=""' \
    --set model.likelihood='"gaussian"' --epochs 1 --out int || fail "train integer labels"
expect 2 "test.csv: the labels are names \('attack', ...\), but the training data's labels were integers" -- \
    "$AEENCODE" --model int/model.safetensors --data test.csv --out c.csv
expect 2 "train.csv: line 2, column 7 \('kind'\): label '[a-z]+' is not an integer from 0 to 2147483647 \(a file read as a stream needs integer labels" -- \
    "$AE_BUILD/aeconvert" train.csv --label-column kind --out t.idx --labels-out t-labels.idx
[ ! -e t.idx ] && ok || fail "a refused aeconvert wrote t.idx"
finish
