#!/usr/bin/env bash
# End to end: aetrain, aeencode and aesample on a small MNIST subset.
source "$(dirname "$0")/lib.sh"
need_mnist

small=("${MNIST_SET[@]}" --set data.train_limit=1500 --set data.test_limit=300 --set train.batch_size=100)

# --- aetrain: a VAE for 2 epochs ---
"$AETRAIN" --config "$AE_SOURCE/configs/vae.json" "${small[@]}" --epochs 2 --out vae \
    --threads 1 2>train.log || fail "aetrain exited $?: $(cat train.log)"
for f in config.json metrics.csv checkpoint.safetensors model.safetensors recon.png samples.png; do
    assert_file "vae/$f"
done
[ ! -e vae/manifold.png ] && ok || fail "manifold.png written for a 20-d latent"
grep -q '^epoch 2/2 .*train .*recon .*kl .*test .*z=mu' train.log && ok || fail "epoch line: $(cat train.log)"
# metrics.csv: a header and one row per epoch, with finite losses
head -1 vae/metrics.csv | grep -q '^epoch,train_loss,train_recon,train_kl,val_loss,val_recon,val_kl,test_loss,test_recon,test_kl,test_loss_mu,train_reg,test_reg,train_kl_z2,test_kl_z2,beta,seconds,examples_per_sec,lr$' \
    && ok || fail "metrics header: $(head -1 vae/metrics.csv)"
[ "$(wc -l <vae/metrics.csv)" -eq 3 ] && ok || fail "metrics rows: $(cat vae/metrics.csv)"
awk -F, 'NR > 1 && !($2 > 100 && $2 < 600 && $8 > 100 && $8 < 600) { bad = 1 } END { exit bad }' \
    vae/metrics.csv && ok || fail "implausible losses: $(cat vae/metrics.csv)"
# losses fall from epoch 1 to 2
awk -F, 'NR == 2 { a = $2 } NR == 3 { exit !($2 < a) }' vae/metrics.csv && ok || fail "train loss did not fall"
# recon.png: 8 columns of 28x28 tiles with 1-pixel borders; 4 row pairs of 32 examples
[ "$(png_size vae/recon.png)" = "233 233" ] && ok || fail "recon.png size $(png_size vae/recon.png)"
[ "$(png_size vae/samples.png)" = "233 233" ] && ok || fail "samples.png size $(png_size vae/samples.png)"

# the resolved spec has every key and trains the same model again, bit for bit
grep -q '"kl_warmup_epochs"' vae/config.json && grep -q '"decoder"' vae/config.json && ok \
    || fail "config.json is not fully resolved"
cp vae/model.safetensors first.safetensors
"$AETRAIN" --config vae/config.json --quiet 2>retrain.log || fail "retrain from config.json: $(cat retrain.log)"
cmp -s first.safetensors vae/model.safetensors && ok || fail "config.json did not reproduce the model"
[ ! -s retrain.log ] && ok || fail "--quiet printed: $(cat retrain.log)"

# --- aeencode ---
"$AEENCODE" --model vae/model.safetensors --data "$MNIST/t10k-images-idx3-ubyte.gz" \
    --labels "$MNIST/t10k-labels-idx1-ubyte.gz" --out latents.csv 2>enc.log || fail "aeencode: $(cat enc.log)"
[ "$(head -1 latents.csv)" = "index,label,$(seq -s, -f 'z%g' 0 19)" ] && ok || fail "latents header $(head -1 latents.csv)"
[ "$(wc -l <latents.csv)" -eq 10001 ] && ok || fail "latents rows $(wc -l <latents.csv)"
[ "$(sed -n 2p latents.csv | cut -d, -f1,2)" = "0,7" ] && ok || fail "first row should be index 0, label 7"
awk -F, 'NR > 1 && NF != 22 { exit 1 }' latents.csv && ok || fail "ragged latents.csv"
# to stdout, with log-variances, and as .npy
"$AEENCODE" --model vae/model.safetensors --data "$MNIST/t10k-images-idx3-ubyte.gz" --logvar --out - \
    >stdout.csv 2>/dev/null || fail "aeencode to stdout"
head -1 stdout.csv | grep -q '^index,z0,.*,z19,logvar0,.*,logvar19$' && ok || fail "stdout/--logvar header"
[ "$(wc -l <stdout.csv)" -eq 10001 ] && ok || fail "stdout rows"
"$AEENCODE" --model vae/model.safetensors --data "$MNIST/t10k-images-idx3-ubyte.gz" --out z.npy || fail "npy"
"$PY" - z.npy <<'PY' && ok || fail "z.npy is not a [10000 x 20] float32 .npy"
import ast, struct, sys
d = open(sys.argv[1], "rb").read()
assert d[:8] == b"\x93NUMPY\x01\x00"
n, = struct.unpack("<H", d[8:10])
h = ast.literal_eval(d[10:10 + n].decode())
assert h == {"descr": "<f4", "fortran_order": False, "shape": (10000, 20)}, h
assert (10 + n) % 64 == 0 and len(d) == 10 + n + 10000 * 20 * 4
PY
# --sample differs from the mean; the same seed repeats
"$AEENCODE" --model vae/model.safetensors --data "$MNIST/t10k-images-idx3-ubyte.gz" --sample --seed 5 --out s1.csv
"$AEENCODE" --model vae/model.safetensors --data "$MNIST/t10k-images-idx3-ubyte.gz" --sample --seed 5 --out s2.csv
cmp -s s1.csv s2.csv && ok || fail "--sample with one seed is not repeatable"
cut -d, -f3- s1.csv | cmp -s - <(cut -d, -f3- latents.csv) && fail "--sample equals the means" || ok

# --- aesample ---
"$AESAMPLE" --model vae/model.safetensors --n 64 --seed 3 --out samples.png --csv samples.csv || fail "aesample"
[ "$(png_size samples.png)" = "233 233" ] && ok || fail "samples.png size"
[ "$(wc -l <samples.csv)" -eq 65 ] && ok || fail "samples.csv rows"
awk -F, 'NR > 1 { for (i = 1; i <= NF; i++) if ($i < -0.001 || $i > 255.001) exit 1 } END { exit NF != 784 }' \
    samples.csv && ok || fail "samples.csv values outside [0, 255] or not 784 columns"
"$AESAMPLE" --model vae/model.safetensors --n 64 --seed 3 --out again.png
cmp -s samples.png again.png && ok || fail "same seed, different samples"
"$AESAMPLE" --model vae/model.safetensors --n 10 --temperature 0 --out t0.png && ok || fail "--temperature 0"
# decoding the codes of 12 test images
head -13 latents.csv >codes.csv
"$AESAMPLE" --model vae/model.safetensors --from-codes codes.csv --cols 6 --out decoded.png || fail "--from-codes"
[ "$(png_size decoded.png)" = "175 59" ] && ok || fail "decoded.png size $(png_size decoded.png)"

# --- a plain autoencoder: no prior ---
"$AETRAIN" --config "$AE_SOURCE/configs/ae.json" "${small[@]}" --epochs 1 --out ae --quiet || fail "ae training"
assert_file ae/recon.png
[ ! -e ae/samples.png ] && ok || fail "an AE wrote samples.png"
expect 2 "no prior" -- "$AESAMPLE" --model ae/model.safetensors --out x.png
"$AEENCODE" --model ae/model.safetensors --data "$MNIST/t10k-images-idx3-ubyte.gz" --out aecodes.csv
head -5 aecodes.csv >aefew.csv
"$AESAMPLE" --model ae/model.safetensors --from-codes aefew.csv --out aedec.png && ok || fail "AE --from-codes"

# --- a 2-D latent: the manifold picture ---
"$AETRAIN" --config "$AE_SOURCE/configs/vae2d.json" "${small[@]}" --epochs 1 --out vae2d --quiet || fail "vae2d"
[ "$(png_size vae2d/manifold.png)" = "581 581" ] && ok || fail "manifold.png size"

# --- validation split and CSV data ---
"$AETRAIN" --config "$AE_SOURCE/configs/vae.json" "${small[@]}" --set data.validation=0.2 --epochs 1 \
    --out val 2>val.log || fail "validation run: $(cat val.log)"
grep -q '1200 training, 300 validation, 300 test' val.log && ok || fail "split sizes: $(cat val.log)"
awk -F, 'NR == 2 && $5 > 0 { found = 1 } END { exit !found }' val/metrics.csv && ok || fail "val_loss column empty"

# --- help and version ---
for p in "$AETRAIN" "$AEENCODE" "$AESAMPLE" "$AE_BUILD/aeeval" "$AE_BUILD/aeconvert" "$AE_BUILD/aerecon" "$AE_BUILD/aesearch" "$AE_BUILD/aeimpute" "$AE_BUILD/aepredict"; do
    "$p" --help | grep -q '^usage:' && ok || fail "$p --help"
    "$p" --version | grep -Eq '^ae[a-z]+ [0-9]+\.[0-9]+' && ok || fail "$p --version"
    expect 2 "unknown option '--bogus'" -- "$p" --bogus
done

finish
