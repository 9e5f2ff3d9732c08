#!/usr/bin/env bash
# Resume equivalence: 2 epochs in one run == 1 epoch + resume for 1 more, bit for bit.
source "$(dirname "$0")/lib.sh"
need_mnist

small=(--config "$AE_SOURCE/configs/vae.json" "${MNIST_SET[@]}"
       --set data.train_limit=1000 --set data.test_limit=200 --set train.batch_size=64
       --set data.binarize=\"dynamic\" --set train.kl_warmup_epochs=1.5 --threads 1 --quiet)

"$AETRAIN" "${small[@]}" --epochs 2 --out run || fail "2-epoch run"
cp run/model.safetensors two_epochs.safetensors
cut -d, -f1-16 run/metrics.csv >two_epochs_metrics.csv   # all but the timings (the last two columns)

"$AETRAIN" "${small[@]}" --epochs 1 --out run || fail "1-epoch run"
[ "$(wc -l <run/metrics.csv)" -eq 2 ] && ok || fail "a fresh run must start a new metrics.csv"
"$AETRAIN" --resume run/checkpoint.safetensors --epochs 2 --quiet || fail "resume"
cmp -s two_epochs.safetensors run/model.safetensors && ok \
    || fail "1 epoch + resume differs from 2 epochs in one run"
cut -d, -f1-16 run/metrics.csv | cmp -s - two_epochs_metrics.csv && ok \
    || fail "metrics after resume differ: $(cat run/metrics.csv)"

# resuming a finished run with a larger total continues it
"$AETRAIN" --resume run/checkpoint.safetensors --epochs 3 --out run3 --quiet || fail "resume to 3"
[ "$(wc -l <run3/metrics.csv)" -eq 4 ] && ok || fail "metrics rows after resume to 3"
grep -Eq '"epochs":[[:space:]]*3,' run3/config.json && ok || fail "config.json should say 3 epochs"

# --resume reads the spec from the checkpoint: --config beside it is refused
expect 2 "drop --config" -- "$AETRAIN" --resume run/checkpoint.safetensors --config "$AE_SOURCE/configs/vae.json"
# a changed architecture cannot resume
expect 2 "different architecture" -- "$AETRAIN" --resume run/checkpoint.safetensors --set model.latent=5 --out other
# the final model has no optimizer state, so it cannot be resumed from
expect 2 "optimizer.m" -- "$AETRAIN" --resume run/model.safetensors --out other

# a second seed gives a different model
"$AETRAIN" "${small[@]}" --epochs 1 --seed 2 --out seed2 || fail "seed 2"
cmp -s seed2/model.safetensors run/model.safetensors && fail "seed made no difference" || ok

# the checkpoint is standard safetensors: a numpy-only reader opens it
if "$PY" -c 'import numpy' 2>/dev/null; then
    "$PY" "$AE_SOURCE/scripts/read_checkpoint.py" run/checkpoint.safetensors >reader.txt || fail "reader: $(cat reader.txt)"
    grep -q '^encoder.0.weight F32 \[400, 784\]$' reader.txt && ok || fail "reader output: $(cat reader.txt)"
    grep -q '^encoder.mu.weight F32 \[20, 400\]$' reader.txt && ok || fail "mu tensor"
    grep -q '^decoder.1.weight F32 \[784, 400\]$' reader.txt && ok || fail "decoder tensor"
    grep -q '^crc32 ok$' reader.txt && ok || fail "crc line"
else
    fail "numpy is not available to $PY (scripts/test.sh installs python3-numpy)"
fi

finish
