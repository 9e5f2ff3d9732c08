#!/usr/bin/env bash
# aeeval's anomaly detection end to end: a small VAE and AE trained on the
# zeros of MNIST only, the test images scored: every score column present
# and finite, --contamination flags exactly the quantile's count, --threshold
# is applied as given, --fit-threshold gives the quantile of the training
# data's own scores (computed here again with numpy), the per-feature file
# sums to the reconstruction error, the default score ranks the other digits
# above the zeros, and bad usage gets one clear message.
source "$(dirname "$0")/lib.sh"
need_mnist
AEEVAL=$AE_BUILD/aeeval
TEST_X=$MNIST/t10k-images-idx3-ubyte.gz
TEST_Y=$MNIST/t10k-labels-idx1-ubyte.gz

# the first 2,000 zeros of the training set, as an IDX file
"$PY" - "$MNIST" <<'PY' || fail "writing the zeros"
import gzip, sys
import numpy as np
m = sys.argv[1]
x = np.frombuffer(gzip.open(m + "/train-images-idx3-ubyte.gz").read(), np.uint8, offset=16).reshape(-1, 784)
y = np.frombuffer(gzip.open(m + "/train-labels-idx1-ubyte.gz").read(), np.uint8, offset=8)
zeros = x[y == 0][:2000]
head = bytes([0, 0, 8, 3]) + np.array([len(zeros), 28, 28], ">u4").tobytes()
open("zeros.idx", "wb").write(head + zeros.tobytes())
PY
one=(--set data.train=zeros.idx --set data.train_labels= --set data.test= --set data.test_labels=
     --set train.batch_size=50 --set output.images=false --threads 1 --quiet)
"$AETRAIN" --config "$AE_SOURCE/configs/vae.json" "${one[@]}" --epochs 3 --out vae || fail "aetrain vae"
"$AETRAIN" --config "$AE_SOURCE/configs/ae.json" "${one[@]}" --epochs 3 --out ae || fail "aetrain ae"
run=(--data "$TEST_X" --labels "$TEST_Y" --limit 1000 --iw 10 --no-pca --threads 1)

# --- contamination: the 0.95 quantile of the data's own scores ---
"$AEEVAL" --model vae/model.safetensors "${run[@]}" --contamination 0.05 --scores s.csv \
    --per-feature pf.csv --json >s.json 2>s.err || fail "aeeval --contamination: $(cat s.err)"
"$PY" - s.csv s.json pf.csv <<'PY' && ok || fail "scores, contamination or per-feature file: see above"
import csv, json, math, sys
import numpy as np
from collections import Counter
rows = list(csv.reader(open(sys.argv[1])))
head, body = rows[0], rows[1:]
want = ["index", "label", "recon_error", "neg_elbo", "iwae_nll", "neg_elbo_ic", "iwae_nll_ic",
        "maha", "zerr", "complexity", "score", "is_anomaly"]
assert head == want, head
assert len(body) == 1000 and all(len(r) == len(want) for r in body)
v = np.array([[float(c) for c in r] for r in body])
col = {n: v[:, i] for i, n in enumerate(want)}
assert np.isfinite(v).all(), "a score is not finite"
assert (col["index"] == np.arange(1000)).all()
assert (col["score"] == col["zerr"]).all(), "the default score is zerr"
for n in ("recon_error", "neg_elbo", "iwae_nll", "maha", "zerr", "complexity"):
    assert (col[n] > 0).all(), n
assert (col["iwae_nll"] < col["neg_elbo"] + 50).all()
assert np.allclose(col["neg_elbo_ic"], col["neg_elbo"] - col["complexity"], rtol=0, atol=1e-4)
assert np.allclose(col["iwae_nll_ic"], col["iwae_nll"] - col["complexity"], rtol=0, atol=1e-4)
d = json.load(open(sys.argv[2]))["anomaly"]
q = np.quantile(col["score"], 0.95)
assert d["score"] == "zerr" and d["contamination"] == 0.05 and d["reference"].endswith("t10k-images-idx3-ubyte.gz"), d
assert abs(d["threshold"] - q) <= 1e-6 * abs(q), (d["threshold"], q)
flag = col["is_anomaly"] == 1
# numpy's linear quantile of 1000 distinct scores at 0.95 lies between the
# 950th and 951st order statistics: exactly 50 above it
assert flag.sum() == 50 == d["flagged"], (flag.sum(), d["flagged"])
assert (flag == (col["score"] > q)).all()
pf = list(csv.reader(open(sys.argv[3])))
assert pf[0] == ["index", "label"] + ["x%d" % j for j in range(784)], pf[0][:5]
assert len(pf) == 1001 and all(len(r) == 786 for r in pf)
e = np.array([[float(c) for c in r[2:]] for r in pf[1:]])
assert (e >= 0).all() and e.shape == (1000, 784)
assert np.allclose(e.sum(axis=1), col["recon_error"], rtol=1e-4, atol=1e-4), "row sums != recon_error"
assert [r[1] for r in pf[1:]] == [r[1] for r in body]
PY
[ ! -s s.err ] && ok || fail "aeeval printed to stderr: $(cat s.err)"

# --- one class: the zeros score lower than the other digits ---
"$PY" - s.csv <<'PY' && ok || fail "the default score does not separate the zeros"
import csv, sys
import numpy as np
r = list(csv.DictReader(open(sys.argv[1])))
y = np.array([x["label"] != "0" for x in r])
s = np.array([float(x["score"]) for x in r])
# AUROC as the Mann-Whitney statistic (numpy alone: the tests do not need scikit-learn)
pos, neg = s[y][:, None], s[~y][None, :]
auc = ((pos > neg).sum() + 0.5 * (pos == neg).sum()) / (pos.size * neg.size)
print("AUROC of the default score, zeros against the rest: %.3f" % auc)
assert auc > 0.9, auc
PY

# --- --threshold is applied as given; the table prints it ---
"$AEEVAL" --model vae/model.safetensors "${run[@]}" --score recon --threshold 30 --scores t.csv \
    >t.txt || fail "aeeval --threshold"
"$PY" - t.csv <<'PY' && ok || fail "--threshold 30 not applied"
import csv, sys
r = list(csv.DictReader(open(sys.argv[1])))
assert all(x["score"] == x["recon_error"] for x in r)
assert all(x["is_anomaly"] == ("1" if float(x["score"]) > 30 else "0") for x in r)
assert 0 < sum(x["is_anomaly"] == "1" for x in r) < 1000
PY
grep -Eq '^threshold +30\.0000  given \(--threshold\)$' t.txt && ok || fail "table threshold: $(cat t.txt)"
"$AEEVAL" --model vae/model.safetensors "${run[@]}" --threshold -2.5 --json >t.json || fail "--threshold --json"
"$AEEVAL" --model vae/model.safetensors "${run[@]}" --json >plain.json || fail "aeeval --json"
"$PY" - t.json plain.json <<'PY' && ok || fail "JSON anomaly object: $(cat t.json)"
import json, sys
d = json.load(open(sys.argv[1]))["anomaly"]
assert d["threshold"] == -2.5 and d["contamination"] is None and d["threshold_data"] is None, d
assert d["score"] == "zerr" and d["flagged"] == 1000, d  # every score is above -2.5
assert json.load(open(sys.argv[2]))["anomaly"] is None  # no anomaly option: no anomaly part
PY
flagged=$(awk -F, 'NR > 1 && $NF == 1' t.csv | wc -l)
grep -Eq "^flagged as anomalous +$flagged  of 1000 " t.txt && ok || fail "table flagged count: $(cat t.txt)"

# --- --fit-threshold: the quantile of the training data's own scores ---
for score in recon zerr maha iwae; do
    "$AEEVAL" --model vae/model.safetensors "${run[@]}" --score "$score" --fit-threshold zeros.idx \
        --contamination 0.02 --scores fit.csv --json >fit.json || fail "--fit-threshold ($score)"
    # the zeros scored on their own (then they are the reference too)
    "$AEEVAL" --model vae/model.safetensors --data zeros.idx --iw 10 --no-pca --threads 1 \
        --score "$score" --scores own.csv >/dev/null || fail "scoring the zeros ($score)"
    "$PY" - fit.json own.csv fit.csv <<'PY' && ok || fail "--fit-threshold $score: see above"
import csv, json, sys
import numpy as np
d = json.load(open(sys.argv[1]))["anomaly"]
own = np.array([float(x["score"]) for x in csv.DictReader(open(sys.argv[2]))])
q = np.quantile(own, 0.98)
assert abs(d["threshold"] - q) <= 1e-6 * abs(q), (d["threshold"], q)
assert d["threshold_data"] == "zeros.idx" == d["reference"] and d["contamination"] == 0.02, d
s = [float(x["score"]) for x in csv.DictReader(open(sys.argv[3]))]
assert d["flagged"] == sum(v > d["threshold"] for v in s), d
PY
done

# --- a plain autoencoder: no bounds, the other scores ---
"$AEEVAL" --model ae/model.safetensors "${run[@]}" --fit-threshold zeros.idx --scores ae.csv \
    >/dev/null || fail "aeeval on an ae"
[ "$(head -1 ae.csv)" = "index,label,recon_error,maha,zerr,complexity,score,is_anomaly" ] \
    && ok || fail "ae scores header $(head -1 ae.csv)"
"$AEEVAL" --model ae/model.safetensors --data "$TEST_X" --limit 100 --no-pca --score maha \
    --per-feature ae_pf.csv >/dev/null || fail "ae --score maha --per-feature"
[ "$(head -1 ae_pf.csv | cut -d, -f1-3)" = "index,x0,x1" ] && [ "$(wc -l <ae_pf.csv)" -eq 101 ] \
    && ok || fail "unlabelled per-feature file"

# --- bad usage ---
errors_section "aeeval: anomaly detection"
M=vae/model.safetensors
expect 2 "--threshold: expected a number, got 'high'" -- "$AEEVAL" --model $M --data "$TEST_X" --threshold high
expect 2 "--threshold: expected a number, got 'nan'" -- "$AEEVAL" --model $M --data "$TEST_X" --threshold nan
expect 2 "--contamination: expected a fraction in \(0, 0\.5\], got '0'" -- "$AEEVAL" --model $M --data "$TEST_X" \
    --contamination 0
expect 2 "--contamination: expected a fraction in \(0, 0\.5\], got '0\.6'" -- "$AEEVAL" --model $M \
    --data "$TEST_X" --contamination 0.6
expect 2 "--contamination: expected a number, got '5%'" -- "$AEEVAL" --model $M --data "$TEST_X" \
    --contamination 5%
expect 2 "--threshold T is the threshold: it does not go with --contamination" -- "$AEEVAL" --model $M \
    --data "$TEST_X" --threshold 3 --contamination 0.1
expect 2 "--threshold T is the threshold: it does not go with --fit-threshold" -- "$AEEVAL" --model $M \
    --data "$TEST_X" --threshold 3 --fit-threshold zeros.idx
expect 2 "--score: expected recon, elbo, iwae, elbo-ic, iwae-ic, maha or zerr, not 'nll'" -- "$AEEVAL" \
    --model $M --data "$TEST_X" --score nll
expect 2 "--score elbo: the model is an ae, which has no ELBO" -- "$AEEVAL" --model ae/model.safetensors \
    --data "$TEST_X" --score elbo
expect 2 "--score iwae-ic needs the IWAE bound: --iw K with K > 0" -- "$AEEVAL" --model $M --data "$TEST_X" \
    --score iwae-ic --iw 0
expect 2 "--corrupt measures denoising" -- "$AEEVAL" --model $M --data "$TEST_X" --corrupt masking:0.5 \
    --scores s.csv
expect 2 "missing\.idx" -- "$AEEVAL" --model $M --data "$TEST_X" --limit 10 --fit-threshold missing.idx
printf '1,2,3\n4,5,6\n' >narrow.csv
expect 2 "--fit-threshold.*narrow\.csv.*3 features.*784" -- "$AEEVAL" --model $M --data "$TEST_X" --limit 10 \
    --fit-threshold narrow.csv
mkdir -p ro && chmod a-w ro
if [ ! -w ro ]; then
    expect 2 "ro/pf\.csv" -- "$AEEVAL" --model $M --data "$TEST_X" --limit 10 --iw 0 --no-pca \
        --per-feature ro/pf.csv
fi
chmod u+w ro
"$AEEVAL" --help | grep -q -- '--fit-threshold FILE' && ok || fail "--help lacks --fit-threshold"

finish
