#!/usr/bin/env bash
# Classifiers end to end: a small autoencoder and VAE pretrained on an MNIST
# subset, a classifier started from each (model.init_from copies exactly
# their encoder tensors and data scaling: compared with numpy), a frozen
# encoder stays unchanged for train.freeze_encoder_epochs and trains after,
# data.labeled trains on that many examples, aepredict's file (its shape,
# probabilities summing to 1, the prediction their argmax) and its accuracy
# (the printed one and the JSON's are the file's, and far above chance);
# and the refusals: missing or out-of-range labels, a checkpoint of the
# wrong family or shape for init_from or aepredict, a classifier given to
# the programs that decode.
source "$(dirname "$0")/lib.sh"
need_mnist
AEPREDICT=$AE_BUILD/aepredict
T10K=$MNIST/t10k-images-idx3-ubyte.gz
T10KL=$MNIST/t10k-labels-idx1-ubyte.gz

loud=("${MNIST_SET[@]}" --set data.train_limit=3000 --set data.test_limit=500 --set train.batch_size=100
      --set output.images=false --threads 1)
small=("${loud[@]}" --quiet)
net=(--set 'model.encoder=[64]' --set model.latent=16)
"$AETRAIN" --config "$AE_SOURCE/configs/ae.json" "${small[@]}" "${net[@]}" --epochs 2 --out ae \
    || fail "pretrain ae"
"$AETRAIN" --config "$AE_SOURCE/configs/vae.json" "${small[@]}" "${net[@]}" --set 'model.decoder=[64]' \
    --epochs 1 --out vae || fail "pretrain vae"
cls=("${small[@]}" "${net[@]}" --set model.init_from=ae/model.safetensors)

# --- init_from and freezing: after 1 frozen epoch the encoder is the
# pretrained one, bit for bit; resumed for 2 more it has trained ---
"$AETRAIN" --config "$AE_SOURCE/configs/classifier.json" "${cls[@]}" --set data.labeled=0 \
    --set train.freeze_encoder_epochs=1 --epochs 1 --out frozen || fail "train frozen"
"$AETRAIN" --resume frozen/checkpoint.safetensors --epochs 3 --out tuned --threads 1 --quiet \
    || fail "resume unfrozen"
"$AETRAIN" --config "$AE_SOURCE/configs/classifier.json" "${small[@]}" "${net[@]}" \
    --set model.init_from=vae/model.safetensors --set train.freeze_encoder_epochs=1 --epochs 1 \
    --out from-vae || fail "train from vae"
"$PY" - <<'PY' && ok || fail "init_from / freeze tensors"
import json, struct, sys
import numpy as np

def load(path):
    blob = open(path, "rb").read()
    n, = struct.unpack("<Q", blob[:8])
    head = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    return {k: np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], "<f4").reshape(v["shape"])
            for k, v in head.items() if k != "__metadata__"}

ae, vae = load("ae/model.safetensors"), load("vae/model.safetensors")
fr, tu, fv = load("frozen/model.safetensors"), load("tuned/model.safetensors"), load("from-vae/model.safetensors")
enc = ["encoder.0.weight", "encoder.0.bias", "encoder.1.weight", "encoder.1.bias"]
expect = sorted(enc + ["head.0.weight", "head.0.bias", "data.scale", "data.shift"])
assert sorted(fr) == expect, sorted(fr)
assert fr["head.0.weight"].shape == (10, 16), fr["head.0.weight"].shape
for k in enc + ["data.scale", "data.shift"]:
    assert np.array_equal(fr[k], ae[k]), ("frozen epoch changed or did not copy", k)
    # after the frozen epoch the encoder trains (the scaling stays)
    assert np.array_equal(tu[k], ae[k]) == k.startswith("data."), ("unfrozen", k)
assert not np.array_equal(tu["head.0.weight"], fr["head.0.weight"]), "the head did not train"
# a VAE's code layer is its mean head
for k in ["encoder.0.weight", "encoder.0.bias"]:
    assert np.array_equal(fv[k], vae[k]), k
assert np.array_equal(fv["encoder.1.weight"], vae["encoder.mu.weight"])
assert np.array_equal(fv["encoder.1.bias"], vae["encoder.mu.bias"])
PY
head -1 tuned/metrics.csv | grep -q ',examples_per_sec,lr,train_accuracy,test_accuracy$' && ok \
    || fail "metrics header: $(head -1 tuned/metrics.csv)"
[ "$(awk -F, 'NR > 1 { n++ } END { print n }' tuned/metrics.csv)" = 3 ] && ok || fail "metrics rows"
"$PY" - tuned/metrics.csv <<'PY' && ok || fail "accuracy columns"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for r in rows:
    assert 0 <= float(r["train_accuracy"]) <= 1 and 0 <= float(r["test_accuracy"]) <= 1, r
assert float(rows[-1]["test_accuracy"]) > 0.5, rows[-1]
PY

# --- data.labeled: a subset of that many training examples ---
"$AETRAIN" --config "$AE_SOURCE/configs/classifier.json" "${loud[@]}" "${net[@]}" \
    --set model.init_from=ae/model.safetensors --set data.labeled=200 --epochs 1 --out labeled \
    2>labeled.log || fail "train labeled: $(cat labeled.log)"
grep -q '^aetrain: 200 training, 500 test examples' labeled.log && ok || fail "labeled: $(head -1 labeled.log)"

# --- aepredict: the file and the accuracy it implies ---
"$AEPREDICT" --model tuned/model.safetensors --data "$T10K" --labels "$T10KL" --limit 500 --out p.csv \
    --threads 1 >p.log || fail "aepredict: $(cat p.log)"
[ "$(head -1 p.csv)" = "index,prediction,$(seq -s, -f 'p%g' 0 9),label" ] && ok || fail "header $(head -1 p.csv)"
"$PY" - p.csv p.log "$T10KL" <<'PY' && ok || fail "aepredict file and accuracy"
import csv, gzip, re, sys
rows = list(csv.reader(open(sys.argv[1])))[1:]
labels = gzip.open(sys.argv[3]).read()[8:]
assert len(rows) == 500, len(rows)
right = 0
for i, r in enumerate(rows):
    assert len(r) == 13 and int(r[0]) == i, r
    p = [float(v) for v in r[2:12]]
    assert abs(sum(p) - 1) < 1e-5 and min(p) >= 0, (i, sum(p))
    assert int(r[1]) == max(range(10), key=lambda k: (p[k], -k)), (i, r)
    assert int(r[12]) == labels[i], i
    right += int(r[1]) == int(r[12])
log = open(sys.argv[2]).read()
m = re.search(r"^accuracy ([0-9.]+) \(([0-9]+) of 500\)$", log, re.M)
assert m and int(m.group(2)) == right and abs(float(m.group(1)) - right / 500) < 1e-4, (log, right)
assert right / 500 > 0.6, right  # chance is 0.1
conf = [l.split() for l in log.splitlines()[4:14]]
assert sum(int(v) for row in conf for v in row[1:]) == 500
assert sum(int(conf[k][k + 1]) for k in range(10)) == right
PY
"$AEPREDICT" --model tuned/model.safetensors --data "$T10K" --labels "$T10KL" --limit 500 --out p2.csv \
    --json --threads 1 >p.json || fail "aepredict --json"
cmp -s p.csv p2.csv && ok || fail "--json changed the predictions"
"$PY" - p.json p.csv <<'PY' && ok || fail "aepredict --json"
import csv, json, sys
j = json.load(open(sys.argv[1]))
rows = list(csv.reader(open(sys.argv[2])))[1:]
right = sum(r[1] == r[12] for r in rows)
assert j["examples"] == 500 and j["classes"] == 10 and j["correct"] == right, j
assert abs(j["accuracy"] - right / 500) < 1e-6
assert sum(map(sum, j["confusion"])) == 500 and sum(j["confusion"][k][k] for k in range(10)) == right
PY
"$AEPREDICT" --model tuned/model.safetensors --data "$T10K" --limit 5 --out - >nolab.csv 2>nolab.log \
    || fail "aepredict without labels"
[ "$(head -1 nolab.csv)" = "index,prediction,$(seq -s, -f 'p%g' 0 9)" ] && [ "$(wc -l <nolab.csv)" = 6 ] \
    && grep -q 'no labels, so no accuracy' nolab.log && ok || fail "no labels: $(head -2 nolab.csv)"
# the codes of a classifier are its code layer's: aeencode works
"$AEENCODE" --model tuned/model.safetensors --data "$T10K" --out codes.csv 2>/dev/null \
    && [ "$(head -1 codes.csv | tr ',' '\n' | wc -l)" = 17 ] && ok || fail "aeencode of a classifier"

# --- refusals ---
errors_section "Classifiers (model.type classifier, aepredict)"
ERRORS_ELIDE="${small[*]}"
expect 2 "data.train .*a classifier \(model.type classifier\) needs a label for every example: set data.train_labels" -- \
    "$AETRAIN" --config "$AE_SOURCE/configs/classifier.json" "${small[@]}" --set data.train_labels= \
    --set model.init_from= --out x
expect 2 "data.train .*train-labels-idx1-ubyte.gz: example 0 has label 5, outside \[0, 5\) \(model.classes = 5\)" -- \
    "$AETRAIN" --config "$AE_SOURCE/configs/classifier.json" "${small[@]}" --set model.classes=5 \
    --set model.init_from= --out x
expect 2 "model.init_from frozen/model.safetensors: the model there is a classifier \(model.type classifier\), not an autoencoder" -- \
    "$AETRAIN" --config "$AE_SOURCE/configs/classifier.json" "${small[@]}" "${net[@]}" \
    --set model.init_from=frozen/model.safetensors --out x
expect 2 "model.init_from ae/model.safetensors: tensor encoder.1.weight is \[16 x 64\] in the checkpoint but \[8 x 64\] in this model" -- \
    "$AETRAIN" --config "$AE_SOURCE/configs/classifier.json" "${cls[@]}" --set model.latent=8 --out x
expect 2 "model.init_from ae/model.safetensors: the pretrained encoder has 1 hidden layer, model.encoder here 2" -- \
    "$AETRAIN" --config "$AE_SOURCE/configs/classifier.json" "${cls[@]}" --set 'model.encoder=[64, 32]' --out x
expect 2 "model.init_from ae/model.safetensors: encoder layer 0 uses activation relu in the checkpoint but tanh here \(model.activation\)" -- \
    "$AETRAIN" --config "$AE_SOURCE/configs/classifier.json" "${cls[@]}" --set model.activation=tanh --out x
expect 2 "model.init_from ae/model.safetensors: the pretrained model's data.scale is unit, this spec's standardize" -- \
    "$AETRAIN" --config "$AE_SOURCE/configs/classifier.json" "${cls[@]}" --set data.scale=standardize --out x
expect 2 "model.init_from: nothere.safetensors" -- \
    "$AETRAIN" --config "$AE_SOURCE/configs/classifier.json" "${cls[@]}" --set model.init_from=nothere.safetensors --out x
expect 2 "model.decoder=\[64\]: not used by model.type classifier" -- \
    "$AETRAIN" --config "$AE_SOURCE/configs/classifier.json" "${cls[@]}" --set 'model.decoder=[64]' --out x
ERRORS_ELIDE=""
expect 2 "ae/model.safetensors: the model has model.type ae \(autoencoder\), not classifier; aepredict needs a model trained with model.type classifier" -- \
    "$AEPREDICT" --model ae/model.safetensors --data "$T10K" --out q.csv
{ echo 7; echo 12; seq 3 10000 | sed 's/.*/1/'; } >bad-labels.csv
expect 2 "bad-labels.csv: example 1 has label 12, outside \[0, 10\) \(model.classes = 10\)" -- \
    "$AEPREDICT" --model tuned/model.safetensors --data "$T10K" --labels bad-labels.csv --out q.csv
expect 2 "--model, --data and --out are required" -- "$AEPREDICT" --model tuned/model.safetensors --data "$T10K"
expect 2 "--json prints to standard output: give --out a file" -- \
    "$AEPREDICT" --model tuned/model.safetensors --data "$T10K" --out - --json
[ -e q.csv ] && fail "a refused aepredict wrote q.csv" || ok
for p in aerecon aeimpute; do
    expect 2 "tuned/model.safetensors: the model is a classifier \(model.type classifier\), which has no decoder for $p to use" -- \
        "$AE_BUILD/$p" --model tuned/model.safetensors --data "$T10K" --out q.csv
done
expect 2 "which has no decoder for aesample to use" -- "$AESAMPLE" --model tuned/model.safetensors --out q.png
expect 2 "which has no decoder for aeeval to use" -- "$AE_BUILD/aeeval" --model tuned/model.safetensors --data "$T10K"
expect 2 "which has no decoder for aeexport to use" -- "$AE_BUILD/aeexport" --model tuned/model.safetensors --encoder q.onnx
[ ! -e q.onnx ] && ok || fail "a refused aeexport wrote q.onnx"
finish
