#!/usr/bin/env bash
# aeimpute end to end: a CSV with a header, a label column and missing cells
# comes back with every observed cell byte for byte and every missing one a
# number; the imputation beats the column means on MNIST pixels removed at
# random (a VAE trained on the complete images); a file with no missing
# values is copied unchanged with a note; a row with every feature missing
# gets the means and a warning; float IDX NaN works; bad usage is refused.
source "$(dirname "$0")/lib.sh"
need_mnist
AEIMPUTE=$AE_BUILD/aeimpute

"$AETRAIN" --config "$AE_SOURCE/configs/vae.json" "${MNIST_SET[@]}" --set data.train_limit=10000 \
    --set data.test_limit=300 --set output.images=false --epochs 4 --threads 1 --out vae --quiet || fail "train"
"$PY" - "$MNIST/t10k-images-idx3-ubyte.gz" "$MNIST/t10k-labels-idx1-ubyte.gz" <<'PY' || fail "make data"
import gzip, random, struct, sys
x = gzip.open(sys.argv[1]).read()[16:16 + 500 * 784]
y = gzip.open(sys.argv[2]).read()[8:8 + 500]
random.seed(2)
miss = [[random.random() < 0.3 for _ in range(784)] for _ in range(500)]
miss[7] = [True] * 784  # a row with nothing left
names = [f"p{j}" for j in range(784)]
with open("holes.csv", "w") as f, open("truth.csv", "w") as t:
    f.write(",".join(names[:5] + ["digit"] + names[5:]) + "\n")
    for i in range(500):
        v = [(" NA" if miss[i][j] else str(x[i * 784 + j])) for j in range(784)]
        f.write(",".join(v[:5] + [str(y[i])] + v[5:]) + "\n")
        t.write(",".join(str(x[i * 784 + j]) for j in range(784)) + "\n")
with open("complete.csv", "w") as f:
    for i in range(20):
        f.write(",".join(str(x[i * 784 + j]) for j in range(784)) + "\r\n")
with open("holes.idx", "wb") as f:
    f.write(bytes([0, 0, 0x0D, 2]) + struct.pack(">II", 50, 784))
    for i in range(50):
        f.write(b"".join(struct.pack(">f", float("nan") if miss[i][j] else float(x[i * 784 + j])) for j in range(784)))
PY
# the model was trained without a label column: this file has one, named digit
"$AETRAIN" --config vae/config.json --set data.train=\"holes.csv\" --set 'data.train_labels=""' --set data.csv.label_column=\"digit\" --set data.scale=\"standardize\" --set model.likelihood=\"gaussian\" \
    --set data.missing=\"allow\" --set 'data.test=""' --set 'data.test_labels=""' --epochs 1 --out vae-csv --quiet \
    || fail "train on the csv"
"$AEIMPUTE" --model vae-csv/model.safetensors --data holes.csv --out filled.csv >imp.log 2>imp.err \
    || fail "aeimpute: $(cat imp.err)"
grep -Eq "^aeimpute: 500 examples of 784 features, [0-9]* missing values \(3[0-9].[0-9]%\) filled after ([0-9]|10) iterations?" imp.log \
    && ok || fail "summary: $(cat imp.log)"
# the rounds chosen are the ones whose reconstruction of the hidden cells was closest
"$PY" - imp.log <<'PY' && ok || fail "check line: $(cat imp.log)"
import re, sys
log = open(sys.argv[1]).read()
rounds = int(re.search(r"filled after (\d+) iteration", log).group(1))
m = re.search(r"(\d+) observed values hidden to check the iterations: RMSE \(scaled\) (\S+) after 0, "
              r"(\S+) after (\d+) \(the least\), (\S+) after 10", log)
assert m and int(m.group(4)) == rounds and int(m.group(1)) > 0, log
assert float(m.group(3)) <= min(float(m.group(2)), float(m.group(5))), log
PY
# --check 0: exactly the rounds asked, no check
"$AEIMPUTE" --model vae-csv/model.safetensors --data holes.csv --out filled3.csv --iterations 3 --check 0 >imp3.log \
    || fail "aeimpute --check 0"
grep -q "filled after 3 iterations; written to filled3.csv" imp3.log && ! grep -q "hidden to check" imp3.log && ok \
    || fail "--check 0: $(cat imp3.log)"
grep -q "warning: 1 row of holes.csv had every feature missing and got the feature means" imp.err && ok \
    || fail "all-missing warning: $(cat imp.err)"
"$PY" - holes.csv filled.csv <<'PY' && ok || fail "observed cells changed or missing ones not filled"
import sys
a = open(sys.argv[1]).read().split("\n"); b = open(sys.argv[2]).read().split("\n")
assert len(a) == len(b) and a[0] == b[0]
for la, lb in zip(a[1:], b[1:]):
    ca, cb = la.split(","), lb.split(",")
    assert len(ca) == len(cb)
    for u, v in zip(ca, cb):
        if u.strip() == "NA":
            assert -100 < float(v) < 355, v  # a number, near the pixels' range (a Gaussian model)
        else:
            assert u == v, (u, v)
print("observed cells byte for byte, missing cells numbers")
PY
# quality: the model of complete images against the column means
"$AEIMPUTE" --model vae/model.safetensors --data holes.csv --out filled2.csv >/dev/null 2>&1 \
    && fail "a model without a label column took a file with one" || ok
cut -d, -f6 --complement holes.csv | tail -n +2 >holes-nolabel.csv
"$AEIMPUTE" --model vae/model.safetensors --data holes-nolabel.csv --out filled2.csv >/dev/null 2>&1 || fail "impute"
"$PY" - holes-nolabel.csv filled2.csv truth.csv <<'PY' && ok || fail "aeimpute is no better than the column means"
import sys
rows = lambda p: [l.split(",") for l in open(p).read().split("\n") if l]
h, f, t = rows(sys.argv[1]), rows(sys.argv[2]), rows(sys.argv[3])
cols = list(zip(*[[float(c) for c in r] if True else 0 for r in t]))
means = [sum(float(r[j]) for r in h if r[j].strip() != "NA") / max(1, sum(r[j].strip() != "NA" for r in h)) for j in range(784)]
se = sm = n = 0
for i, (rh, rf, rt) in enumerate(zip(h, f, t)):
    if i == 7:
        continue
    for j in range(784):
        if rh[j].strip() == "NA":
            se += (float(rf[j]) - float(rt[j])) ** 2
            sm += (means[j] - float(rt[j])) ** 2
            n += 1
print(f"RMSE on the removed pixels: aeimpute {(se / n) ** .5:.1f}, column means {(sm / n) ** .5:.1f}")
sys.exit(0 if se < 0.6 * sm else 1)
PY
# complete file: unchanged, with a note
"$AEIMPUTE" --model vae/model.safetensors --data complete.csv --out same.csv >note.log || fail "complete"
cmp -s complete.csv same.csv && grep -q "has no missing values; same.csv is written unchanged" note.log && ok \
    || fail "complete file: $(cat note.log)"
# float IDX with NaN, to IDX
"$AEIMPUTE" --model vae/model.safetensors --data holes.idx --out filled.idx >/dev/null || fail "idx"
"$PY" - filled.idx <<'PY' && ok || fail "idx output"
import math, struct, sys
b = open(sys.argv[1], "rb").read()
assert b[:4] == bytes([0, 0, 0x0D, 2]) and struct.unpack(">II", b[4:12]) == (50, 784)
v = struct.unpack(f">{50 * 784}f", b[12:])
assert all(math.isfinite(a) for a in v)
PY

# model.missing_indicators with masking noise (which hides values as missing
# on incomplete data): the encoder takes the values and the mask, 2 x 784
"$AETRAIN" --config vae-csv/config.json --set model.missing_indicators=true \
    --set 'model.noise={"type": "masking", "p": 0.2}' --epochs 1 --out vae-ind --quiet || fail "train with indicators"
"$PY" "$AE_SOURCE/scripts/read_checkpoint.py" vae-ind/model.safetensors >ind.txt 2>&1 || fail "read the checkpoint"
grep -q "^encoder.0.weight F32 \[400, 1568\]" ind.txt && ok || fail "indicators: encoder.0.weight is not [400 x 1568]: $(head -3 ind.txt)"
"$AEIMPUTE" --model vae-ind/model.safetensors --data holes.csv --out filled-ind.csv >/dev/null || fail "impute with indicators"
"$PY" - holes.csv filled-ind.csv <<'PY' && ok || fail "indicators: observed cells changed or missing ones not filled"
import math, sys
a = open(sys.argv[1]).read().split("\n"); b = open(sys.argv[2]).read().split("\n")
assert len(a) == len(b) and a[0] == b[0]
for la, lb in zip(a[1:], b[1:]):
    for u, v in zip(la.split(","), lb.split(",")):
        assert (u.strip() == "NA" and math.isfinite(float(v))) or u == v, (u, v)
PY

errors_section "aeimpute"
expect 2 "--model, --data and --out are required" -- "$AEIMPUTE" --model vae/model.safetensors --data holes.csv
expect 2 "--out x.txt: expected a name ending in .csv or .idx" -- \
    "$AEIMPUTE" --model vae/model.safetensors --data holes.csv --out x.txt
expect 2 "--iterations" -- "$AEIMPUTE" --model vae/model.safetensors --data holes.csv --out x.csv --iterations -1
expect 2 "--check" -- "$AEIMPUTE" --model vae/model.safetensors --data holes.csv --out x.csv --check 0.9
printf 'a,b\n1,NA\n' >narrow.csv
expect 2 "narrow.csv" -- "$AEIMPUTE" --model vae/model.safetensors --data narrow.csv --out x.csv
finish
