#!/usr/bin/env bash
# Plots and pictures of the latent space: aetrain's loss.svg, latents.svg and
# report.html; aeencode --plot; aesample --interpolate, --traverse, --manifold;
# and every bad input of those options.
source "$(dirname "$0")/lib.sh"
need_mnist

small=("${MNIST_SET[@]}" --set data.train_limit=1500 --set data.test_limit=300
       --set train.batch_size=100 --threads 1 --quiet)
TEST_X=$MNIST/t10k-images-idx3-ubyte.gz
TEST_Y=$MNIST/t10k-labels-idx1-ubyte.gz

# svg_check FILE: well-formed XML with an <svg> root; prints facts about it
svg_check() {
    "$PY" - "$1" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
assert root.tag == ns + "svg", root.tag
texts = ["".join(t.itertext()) for t in root.iter(ns + "text")]
print("circles=%d paths=%d width=%s" % (len(list(root.iter(ns + "circle"))),
                                        len(list(root.iter(ns + "path"))), root.get("width")))
for t in texts:
    print("text=" + t)
PY
}

# --- aetrain: a 20-d VAE for 2 epochs ---
"$AETRAIN" --config "$AE_SOURCE/configs/vae.json" "${small[@]}" --epochs 2 --out vae || fail "aetrain vae"
for f in loss.svg latents.svg report.html; do assert_file "vae/$f"; done
svg_check vae/loss.svg >loss.txt || fail "loss.svg is not well-formed: $(cat loss.txt)"
# two panels (loss, KL) of train and test, a marker per epoch: 2 x 2 x 2
grep -q '^circles=8 paths=4 width=960$' loss.txt && ok || fail "loss.svg lines/markers: $(head -1 loss.txt)"
for t in Loss "KL term" epoch "nats per example" train test; do
    grep -qx "text=$t" loss.txt && ok || fail "loss.svg lacks the text '$t'"
done
svg_check vae/latents.svg >lat.txt || fail "latents.svg is not well-formed: $(cat lat.txt)"
grep -qx 'text=Latent codes of the test set' lat.txt && ok || fail "latents.svg title"
grep -q '^text=300 examples, coloured by label; 20-d codes projected on their first two principal components$' \
    lat.txt && ok || fail "latents.svg subtitle: $(grep -m2 text= lat.txt)"
grep -q '^text=PC1 ([0-9]*% of variance)$' lat.txt && ok || fail "latents.svg axis label"
grep -q '^circles=310 ' lat.txt && ok || fail "latents.svg: 300 points + 10 legend discs: $(head -1 lat.txt)"
for d in 0 1 2 3 4 5 6 7 8 9; do grep -qx "text=$d" lat.txt || fail "legend lacks label $d"; done
ok
grep -q 'A plain autoencoder' vae/report.html && fail "a VAE's report says it has no prior" || ok
grep -q 'aesample --manifold' vae/report.html && ok || fail "report should point to aesample --manifold"

# loss.svg is redrawn after every epoch: a 1-epoch run has one marker per line
"$AETRAIN" --config "$AE_SOURCE/configs/vae.json" "${small[@]}" --epochs 1 --out vae1 || fail "vae1"
svg_check vae1/loss.svg >loss1.txt || fail "1-epoch loss.svg is not well-formed"
grep -q '^circles=4 paths=4 ' loss1.txt && ok || fail "1-epoch loss.svg: $(head -1 loss1.txt)"

# --- resume: the curves and report continue from the checkpoint's history ---
"$AETRAIN" --resume vae1/checkpoint.safetensors --epochs 3 --quiet || fail "resume"
svg_check vae1/loss.svg >loss3.txt || fail "loss.svg after resume is not well-formed"
grep -q '^circles=12 paths=4 ' loss3.txt && ok || fail "loss.svg after resume: $(head -1 loss3.txt)"
grep -q '<th>epoch 3</th>' vae1/report.html && ok || fail "report after resume: final epoch"
# resuming a finished run into a new folder trains nothing but still reports
"$AETRAIN" --resume vae1/checkpoint.safetensors --out vae1b --quiet || fail "resume, nothing left"
for f in metrics.csv loss.svg latents.svg report.html; do assert_file "vae1b/$f"; done
grep -q '<th>epoch 3</th>' vae1b/report.html && ok || fail "report of a finished resumed run"

# --- output.images=false: no pictures, plots or report ---
"$AETRAIN" --config "$AE_SOURCE/configs/vae.json" "${small[@]}" --epochs 1 --set output.images=false \
    --out noimg || fail "no images"
for f in recon.png loss.svg latents.svg report.html; do
    [ ! -e "noimg/$f" ] && ok || fail "output.images=false wrote $f"
done

# --- a plain autoencoder: one loss panel, no prior in the report ---
"$AETRAIN" --config "$AE_SOURCE/configs/ae.json" "${small[@]}" --epochs 1 --out ae || fail "ae"
svg_check ae/loss.svg >aeloss.txt || fail "ae loss.svg"
grep -q '^circles=2 paths=2 width=480$' aeloss.txt && ok || fail "ae loss.svg: $(head -1 aeloss.txt)"
grep -q 'A plain autoencoder has no prior' ae/report.html && ok || fail "ae report"
[ "$(grep -o 'src="data:image/png' ae/report.html | wc -l)" -eq 1 ] && ok || fail "ae report: recon only"

# --- a 2-D VAE ---
"$AETRAIN" --config "$AE_SOURCE/configs/vae2d.json" "${small[@]}" --epochs 1 --out v2 || fail "vae2d"
svg_check v2/latents.svg >lat2.txt || fail "2-d latents.svg"
grep -qx 'text=z0' lat2.txt && grep -qx 'text=z1' lat2.txt && ok || fail "2-d latents.svg axes"
grep -q 'principal' lat2.txt && fail "2-d codes should not be projected" || ok

# --- aeencode --plot ---
"$AEENCODE" --model vae/model.safetensors --data "$TEST_X" --labels "$TEST_Y" --plot enc.svg \
    >enc.stdout || fail "aeencode --plot"
[ ! -s enc.stdout ] && ok || fail "--plot alone should not write codes to standard output"
svg_check enc.svg >enc.txt || fail "enc.svg is not well-formed"
grep -q '^circles=10010 ' enc.txt && ok || fail "enc.svg points: $(head -1 enc.txt)"
grep -qx 'text=Latent codes of t10k-images-idx3-ubyte.gz' enc.txt && ok || fail "enc.svg title"
grep -q 'projected on their first two principal components' enc.txt && ok || fail "enc.svg PCA note"
# PNG, beside the codes, with log-variances (the plot shows the means)
"$AEENCODE" --model vae/model.safetensors --data "$TEST_X" --labels "$TEST_Y" --logvar \
    --out codes.csv --plot enc.png || fail "aeencode --plot png"
[ "$(png_size enc.png)" = "760 620" ] && ok || fail "enc.png size $(png_size enc.png)"
[ "$(wc -l <codes.csv)" -eq 10001 ] && head -1 codes.csv | grep -q ',logvar19$' && ok \
    || fail "codes.csv beside --plot"
# without labels: no legend
"$AEENCODE" --model v2/model.safetensors --data "$TEST_X" --plot nolab.svg || fail "--plot without labels"
svg_check nolab.svg >nolab.txt
grep -qx 'text=label' nolab.txt && fail "a legend without labels" || ok
grep -q '^circles=10000 ' nolab.txt && ok || fail "nolab.svg points"
expect 2 "--plot: expected a file name ending in .svg or .png" -- \
    "$AEENCODE" --model vae/model.safetensors --data "$TEST_X" --plot codes.jpg
expect 2 "no/such/dir" -- "$AEENCODE" --model vae/model.safetensors --data "$TEST_X" --plot no/such/dir/x.svg

# --- aesample --interpolate ---
"$AESAMPLE" --model vae/model.safetensors --data "$TEST_X" --interpolate 0,1 --csv interp.csv \
    || fail "--interpolate"
[ "$(png_size interpolation.png)" = "291 30" ] && ok || fail "interpolation.png size $(png_size interpolation.png)"
[ "$(wc -l <interp.csv)" -eq 11 ] && ok || fail "interp.csv rows"
# its ends decode the codes of examples 0 and 1
"$AEENCODE" --model vae/model.safetensors --data "$TEST_X" --out ends.csv
head -3 ends.csv >ends3.csv
"$AESAMPLE" --model vae/model.safetensors --from-codes ends3.csv --csv ends_dec.csv --out ends.png
"$PY" - interp.csv ends_dec.csv <<'PY' && ok || fail "interpolation ends differ from the decoded codes"
import csv, sys
a = list(csv.reader(open(sys.argv[1])))[1:]
b = list(csv.reader(open(sys.argv[2])))[1:]
for row_a, row_b in ((a[0], b[0]), (a[-1], b[1])):
    assert max(abs(float(x) - float(y)) for x, y in zip(row_a, row_b)) < 0.05
assert max(abs(float(x) - float(y)) for x, y in zip(a[0], a[-1])) > 1
PY
"$AESAMPLE" --model vae/model.safetensors --data "$TEST_X" --interpolate=3,4 --steps 4 --out i4.png \
    && [ "$(png_size i4.png)" = "117 30" ] && ok || fail "--steps 4"
expect 2 "--interpolate needs --data" -- "$AESAMPLE" --model vae/model.safetensors --interpolate 0,1
expect 2 "example 10000 is out of range: .* has 10000 examples \(0\.\.9999\)" -- \
    "$AESAMPLE" --model vae/model.safetensors --data "$TEST_X" --interpolate 0,10000
expect 2 "expected two example indices A,B" -- \
    "$AESAMPLE" --model vae/model.safetensors --data "$TEST_X" --interpolate 7
expect 2 "--interpolate: expected an integer" -- \
    "$AESAMPLE" --model vae/model.safetensors --data "$TEST_X" --interpolate 0,x
expect 2 "--steps: expected an integer from 2" -- \
    "$AESAMPLE" --model vae/model.safetensors --data "$TEST_X" --interpolate 0,1 --steps 1

# --- aesample --traverse ---
"$AESAMPLE" --model vae/model.safetensors --data "$TEST_X" --traverse 0,5,19 --index 2 --steps 5 \
    --csv trav.csv || fail "--traverse"
[ "$(png_size traversal.png)" = "146 88" ] && ok || fail "traversal.png size $(png_size traversal.png)"
[ "$(wc -l <trav.csv)" -eq 16 ] && ok || fail "trav.csv rows"
"$AESAMPLE" --model v2/model.safetensors --data "$TEST_X" --traverse all --out tall.png \
    && [ "$(png_size tall.png)" = "291 59" ] && ok || fail "--traverse all"
# an autoencoder traverses the quantiles of its own codes
"$AESAMPLE" --model ae/model.safetensors --data "$TEST_X" --traverse 1 --range 0.1 --out tae.png \
    && [ "$(png_size tae.png)" = "291 30" ] && ok || fail "--traverse of an autoencoder"
expect 2 "--traverse: dimension 20 is out of range: the latent of .* has 20 dimensions \(0\.\.19\)" -- \
    "$AESAMPLE" --model vae/model.safetensors --data "$TEST_X" --traverse 20
expect 2 "--traverse: expected a latent dimension \(0\.\.19\), a list like 0,3,5, or all, got 'z'" -- \
    "$AESAMPLE" --model vae/model.safetensors --data "$TEST_X" --traverse z
expect 2 "--traverse needs --data" -- "$AESAMPLE" --model vae/model.safetensors --traverse 0
expect 2 "--index: example 10000 is out of range" -- \
    "$AESAMPLE" --model vae/model.safetensors --data "$TEST_X" --traverse 0 --index 10000
expect 2 "--index is for --traverse" -- "$AESAMPLE" --model vae/model.safetensors --index 3

# --- aesample --manifold ---
"$AESAMPLE" --model v2/model.safetensors --manifold || fail "--manifold 2-d"
[ "$(png_size manifold.png)" = "581 581" ] && ok || fail "manifold.png size"
cmp -s manifold.png v2/manifold.png && ok || fail "aesample --manifold differs from aetrain's manifold.png"
"$AESAMPLE" --model v2/model.safetensors --manifold --side 8 --range 0.2 --out m8.png \
    && [ "$(png_size m8.png)" = "233 233" ] && ok || fail "--side 8"
# 20-d: over the two dimensions of highest KL, which it names
"$AESAMPLE" --model vae/model.safetensors --manifold --data "$TEST_X" --side 5 --out m20.png 2>m20.log \
    || fail "--manifold 20-d: $(cat m20.log)"
[ "$(png_size m20.png)" = "146 146" ] && ok || fail "m20.png size"
grep -Eq 'manifold over z[0-9]+ \(across, KL [0-9.]+\) and z[0-9]+ \(up, KL [0-9.]+\), the dimensions with the highest KL' \
    m20.log && ok || fail "--manifold should name its dimensions: $(cat m20.log)"
"$PY" - m20.log <<'PY' && ok || fail "the first dimension named should have the higher KL"
import re, sys
a, b = map(float, re.findall(r"KL ([0-9.]+)", open(sys.argv[1]).read()))
assert a >= b
PY
expect 2 "the two with the highest KL over the examples of --data FILE, which is needed" -- \
    "$AESAMPLE" --model vae/model.safetensors --manifold
expect 2 "plain autoencoder: it has no prior" -- "$AESAMPLE" --model ae/model.safetensors --manifold
expect 2 "each draw their own picture: give one" -- \
    "$AESAMPLE" --model v2/model.safetensors --manifold --traverse 0 --data "$TEST_X"
expect 2 "--range: expected a number from" -- "$AESAMPLE" --model v2/model.safetensors --manifold --range 0.5
expect 2 "--side: expected an integer from 2" -- "$AESAMPLE" --model v2/model.safetensors --manifold --side 1
expect 2 "--side is for --manifold" -- "$AESAMPLE" --model v2/model.safetensors --side 5
expect 2 "--range is for --manifold and --traverse" -- "$AESAMPLE" --model v2/model.safetensors --range 0.1
expect 2 "--data and --labels are for" -- "$AESAMPLE" --model v2/model.safetensors --data "$TEST_X"
printf '1,2,3,4,5\n6,7,8,9,10\n' >five.csv
expect 2 "five.csv: examples have 5 features, but the model .* takes 784" -- \
    "$AESAMPLE" --model vae/model.safetensors --manifold --data five.csv

finish
