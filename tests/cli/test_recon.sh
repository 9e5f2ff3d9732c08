#!/usr/bin/env bash
# aerecon end to end: reconstructions as CSV, IDX and PNG agree with
# aeencode + aesample --from-codes (the same z = mu and decoder mean), IDX
# keeps uint8 and the image shape, --corrupt is reproducible by seed and
# a denoising AE's reconstruction is closer to the clean images than its
# corrupted input; bad usage gets one clear message.
source "$(dirname "$0")/lib.sh"
need_mnist
AERECON=$AE_BUILD/aerecon
T10K=$MNIST/t10k-images-idx3-ubyte.gz
T10KL=$MNIST/t10k-labels-idx1-ubyte.gz

small=("${MNIST_SET[@]}" --set data.train_limit=3000 --set data.test_limit=300 --set train.batch_size=100
       --set output.images=false --threads 1 --quiet)
"$AETRAIN" --config "$AE_SOURCE/configs/dae-masking.json" "${small[@]}" --epochs 3 --out dae || fail "train dae"
"$AETRAIN" --config "$AE_SOURCE/configs/cvae.json" "${small[@]}" --epochs 1 --out cvae || fail "train cvae"

# --- the three outputs, and the same numbers as aeencode + aesample ---
"$AERECON" --model dae/model.safetensors --data "$T10K" --labels "$T10KL" --limit 200 --out r.csv >r.log \
    || fail "aerecon csv: $(cat r.log)"
[ "$(head -1 r.csv)" = "label,$(seq -s, -f 'x%g' 0 783)" ] && ok || fail "csv header $(head -c 80 r.csv)"
[ "$(wc -l <r.csv)" -eq 201 ] && ok || fail "csv rows $(wc -l <r.csv)"
grep -Eq '^aerecon: 200 examples of 784 features; against the clean input, in the data.s units: reconstruction MSE [0-9.e+-]+ \(PSNR [0-9.]+ dB\); PSNR peak 255$' r.log \
    && ok || fail "summary line: $(cat r.log)"
"$AEENCODE" --model dae/model.safetensors --data "$T10K" --out codes.csv 2>/dev/null || fail "aeencode"
head -201 codes.csv >codes200.csv
"$AESAMPLE" --model dae/model.safetensors --from-codes codes200.csv --csv dec.csv --out dec.png 2>/dev/null || fail "aesample --from-codes"
"$PY" - r.csv dec.csv "$T10KL" <<'PY' && ok || fail "aerecon differs from aeencode + aesample --from-codes"
import csv, gzip, sys
r = list(csv.reader(open(sys.argv[1])))[1:]
d = list(csv.reader(open(sys.argv[2])))[1:]
labels = gzip.open(sys.argv[3]).read()[8:]
assert len(r) == len(d) == 200, (len(r), len(d))
worst = 0.0
for i, (a, b) in enumerate(zip(r, d)):
    assert int(a[0]) == labels[i], ("label", i)
    for x, y in zip(a[1:], map(float, b)):
        worst = max(worst, abs(float(x) - y) / (1 + abs(y)))
print(f"largest relative difference {worst:.2e}")
sys.exit(0 if worst < 1e-4 else 1)
PY
"$AERECON" --model dae/model.safetensors --data "$T10K" --limit 200 --out r.idx >/dev/null || fail "aerecon idx"
[ "$(od -An -tx1 -N16 r.idx | tr -d ' \n')" = "0000080300000"'0c8'"0000001c0000001c" ] && ok \
    || fail "idx header $(od -An -tx1 -N16 r.idx)"
[ "$(stat -c %s r.idx)" -eq $((16 + 200 * 784)) ] && ok || fail "idx size $(stat -c %s r.idx)"
"$PY" - r.idx r.csv <<'PY' && ok || fail "idx values are not the csv's rounded"
import csv, sys
b = open(sys.argv[1], "rb").read()[16:]
r = list(csv.reader(open(sys.argv[2])))[1:]
# C's roundf: halves away from zero (the CSV's 7 digits may sit on either side of a half)
bad = sum(1 for i, row in enumerate(r) for j, v in enumerate(row[1:])
          if abs(b[i * 784 + j] - min(255.0, max(0.0, float(v)))) > 0.5 + 1e-4)
sys.exit(0 if bad == 0 else 1)
PY
"$AERECON" --model dae/model.safetensors --data "$T10K" --limit 50 --out r.png --n 16 --cols 8 >/dev/null || fail "aerecon png"
[ "$(png_size r.png)" = "233 117" ] && ok || fail "png size $(png_size r.png)"

# --- a CSV input keeps its header and label column ---
"$PY" - "$T10K" "$T10KL" <<'PY' || fail "make csv"
import gzip, sys
x = gzip.open(sys.argv[1]).read()[16:]; y = gzip.open(sys.argv[2]).read()[8:]
with open("digits.csv", "w") as f:
    names = [f"p{j}" for j in range(784)]
    f.write(",".join(names[:3] + ["digit"] + names[3:]) + "\n")
    for i in range(300):
        v = [f"{b / 255:.4g}" for b in x[i * 784:(i + 1) * 784]]
        f.write(",".join(v[:3] + [str(y[i])] + v[3:]) + "\n")
PY
"$AETRAIN" --config "$AE_SOURCE/configs/ae.json" --set data.train=\"digits.csv\" --set 'data.train_labels=""' \
    --set 'data.test=""' --set 'data.test_labels=""' --set data.csv.label_column=\"digit\" --set output.images=false \
    --epochs 1 --threads 1 --out csvae --quiet || fail "train on csv"
"$AERECON" --model csvae/model.safetensors --data digits.csv --out digits-r.csv >/dev/null || fail "aerecon csv in"
cmp -s <(head -1 digits.csv) <(head -1 digits-r.csv) && ok || fail "header not kept: $(head -c 100 digits-r.csv)"
cmp -s <(cut -d, -f4 digits.csv) <(cut -d, -f4 digits-r.csv) && ok || fail "label column not kept"
[ "$(wc -l <digits-r.csv)" -eq 301 ] && [ "$(head -2 digits-r.csv | tail -1 | tr , '\n' | wc -l)" -eq 785 ] && ok \
    || fail "csv shape"

# --- corruption: reproducible, kept on request, and the DAE removes some ---
"$AERECON" --model dae/model.safetensors --data "$T10K" --limit 1000 --corrupt masking:0.5 --seed 3 \
    --corrupted-out c1.idx --out d1.idx >c1.log || fail "corrupt: $(cat c1.log)"
"$AERECON" --model dae/model.safetensors --data "$T10K" --limit 1000 --corrupt masking:0.5 --seed 3 \
    --corrupted-out c2.idx --out d2.idx >/dev/null || fail "corrupt again"
"$AERECON" --model dae/model.safetensors --data "$T10K" --limit 1000 --corrupt masking:0.5 --seed 4 \
    --corrupted-out c3.idx --out d3.idx >/dev/null || fail "corrupt seed 4"
cmp -s c1.idx c2.idx && cmp -s d1.idx d2.idx && ok || fail "the same seed corrupted differently"
cmp -s c1.idx c3.idx && fail "another seed corrupted the same" || ok
"$PY" - c1.idx "$T10K" <<'PY' && ok || fail "masking:0.5 did not zero about half the pixels"
import gzip, sys
c = open(sys.argv[1], "rb").read()[16:]
x = gzip.open(sys.argv[2]).read()[16:16 + len(c)]
lit = [i for i in range(len(c)) if x[i]]
zeroed = sum(1 for i in lit if c[i] == 0) / len(lit)
kept = all(c[i] in (0, x[i]) for i in range(len(c)))
print(f"masked {zeroed:.3f} of the lit pixels")
sys.exit(0 if kept and 0.45 < zeroed < 0.55 else 1)
PY
awk '{ for (i = 1; i <= NF; i++) { if ($i == "MSE" && !r) r = $(i + 1); else if ($i == "MSE") c = $(i + 1) } }
     END { exit !(r + 0 < c + 0) }' c1.log && ok || fail "the DAE's reconstruction is not closer than the masked input: $(cat c1.log)"
"$AERECON" --model dae/model.safetensors --data "$T10K" --limit 100 --corrupt gaussian:0.3 --out g.csv \
    --corrupted-out g.png >g.log && ok || fail "gaussian: $(cat g.log)"
grep -q "corrupted gaussian" g.log && [ "$(png_size g.png)" = "233 233" ] && ok || fail "gaussian outputs: $(cat g.log)"
"$AERECON" --model dae/model.safetensors --data "$T10K" --limit 100 --corrupt salt_pepper:0.2 --out s.idx >/dev/null \
    && ok || fail "salt_pepper"

# --- a conditional VAE decodes with the labels ---
"$AERECON" --model cvae/model.safetensors --data "$T10K" --labels "$T10KL" --limit 100 --out cv.csv >/dev/null \
    && ok || fail "cvae with labels"

# --- aeeval --corrupt: errors against the clean input ---
AEEVAL=$AE_BUILD/aeeval
"$AEEVAL" --model dae/model.safetensors --data "$T10K" --limit 1000 --json >clean.json || fail "aeeval"
"$AEEVAL" --model dae/model.safetensors --data "$T10K" --limit 1000 --corrupt masking:0.5 --json >masked.json \
    || fail "aeeval --corrupt"
"$AERECON" --model dae/model.safetensors --data "$T10K" --limit 1000 --out r1000.idx >r1000.log || fail "aerecon 1000"
"$PY" - clean.json masked.json r1000.log <<'PY' && ok || fail "aeeval --corrupt"
import json, re, sys
c, m = (json.load(open(f)) for f in sys.argv[1:3])
mse = float(re.search(r"reconstruction MSE ([0-9.e+-]+)", open(sys.argv[3]).read()).group(1))
# the same decoded means: aeeval's per-example SSE in [0, 1] units is aerecon's MSE x 784 / 255^2
assert abs(c["sse"] - mse * 784 / 255**2) < 1e-3 * c["sse"], (c["sse"], mse)
assert c["corrupt"] is None and m["corrupt"] == "masking:0.5"
assert m["sse"] > c["sse"] and m["pca_recon"] > 2 * c["pca_recon"], (m["sse"], c["sse"], m["pca_recon"], c["pca_recon"])
print(f"sse clean {c['sse']:.2f} masked {m['sse']:.2f}; PCA clean {c['pca_recon']:.2f} masked {m['pca_recon']:.2f}")
PY
"$AETRAIN" --config "$AE_SOURCE/configs/vae.json" "${small[@]}" --epochs 1 --out vae || fail "train vae"
"$AEEVAL" --model vae/model.safetensors --data "$T10K" --limit 300 --iw 5 --corrupt gaussian:0.2 --json >vg.json || fail "vae --corrupt"
grep -q '"iwae_nll": null' vg.json && grep -q '"neg_elbo": [0-9]' vg.json && ok || fail "vae --corrupt json: $(head -20 vg.json)"
"$AEEVAL" --model vae/model.safetensors --data "$T10K" --limit 300 --iw 5 --corrupt gaussian:0.2 >vg.txt || fail "vae --corrupt table"
grep -q "input  corrupted gaussian:0.2 (seed 1)" vg.txt && grep -q "not with --corrupt" vg.txt && ok || fail "table: $(cat vg.txt)"

errors_section "aerecon"
expect 2 "--model, --data and --out are required" -- "$AERECON" --model dae/model.safetensors --data "$T10K"
expect 2 "--out r.txt: expected a name ending in .csv, .idx or .png" -- \
    "$AERECON" --model dae/model.safetensors --data "$T10K" --out r.txt
expect 2 "--corrupt: expected gaussian:STD, masking:P or salt_pepper:P, not 'blur:2'" -- \
    "$AERECON" --model dae/model.safetensors --data "$T10K" --out r.csv --corrupt blur:2
expect 2 "--corrupt" -- "$AERECON" --model dae/model.safetensors --data "$T10K" --out r.csv --corrupt masking:1.5
expect 2 "--corrupt masking:0: the probability must be above 0" -- \
    "$AERECON" --model dae/model.safetensors --data "$T10K" --out r.csv --corrupt masking:0
expect 2 "--corrupted-out needs --corrupt" -- \
    "$AERECON" --model dae/model.safetensors --data "$T10K" --out r.csv --corrupted-out c.csv
expect 2 "labels" -- "$AERECON" --model cvae/model.safetensors --data "$T10K" --out r.csv
expect 2 "no-such.idx" -- "$AERECON" --model dae/model.safetensors --data no-such.idx --out r.csv
printf 'a,b\n1,2\n' >narrow.csv
expect 2 "narrow.csv" -- "$AERECON" --model dae/model.safetensors --data narrow.csv --out r.csv
expect 2 "no-model.safetensors" -- "$AERECON" --model no-model.safetensors --data "$T10K" --out r.csv
# a refused run leaves the earlier output alone
cp r.csv before.csv
AE_ERRORS_LOG='' expect 2 "" -- "$AERECON" --model cvae/model.safetensors --data "$T10K" --out r.csv
cmp -s r.csv before.csv && ok || fail "a refused run changed r.csv"
expect 2 "--corrupt: expected gaussian:STD, masking:P or salt_pepper:P, not 'gaussian'" -- \
    "$AE_BUILD/aeeval" --model dae/model.safetensors --data "$T10K" --corrupt gaussian
finish
