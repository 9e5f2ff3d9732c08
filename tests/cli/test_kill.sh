#!/usr/bin/env bash
# kill -9 at 20 random moments (checkpoint writes included): every time the
# checkpoint that is in place loads (CRC and all), a resume from it trains on
# and completes, and at the end the run, resumed to its last epoch, is the
# same model bit for bit as one that was never killed.
source "$(dirname "$0")/lib.sh"
need_mnist

# the 10000 test images load faster than the 60000 training ones
small=(--config "$AE_SOURCE/configs/vae.json"
       --set "data.train=\"$MNIST/t10k-images-idx3-ubyte.gz\"" --set data.train_labels=\"\"
       --set data.test=\"\" --set data.train_limit=2000 --set train.batch_size=16
       --set 'model.encoder=[64]' --set 'model.decoder=[64]' --set model.latent=4
       --set data.binarize=\"dynamic\" --set output.images=false --set output.checkpoint_every=1
       --threads 1 --quiet)
EPOCHS=150

# checkpoint_epoch FILE: the epoch stored in a checkpoint's metadata
checkpoint_epoch() {
    "$PY" - "$1" <<'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n, = struct.unpack("<Q", b[:8])
print(json.loads(b[8:8 + n])["__metadata__"]["epoch"])
PY
}

"$AETRAIN" "${small[@]}" --epochs $EPOCHS --out run || fail "reference run"
mv run ref

RANDOM=2024   # reproducible kill moments
kills=0
for i in $(seq 20); do
    if [ -f run/checkpoint.safetensors ]; then
        "$AETRAIN" --resume run/checkpoint.safetensors --epochs $EPOCHS --quiet 2>>kill.err &
    else
        "$AETRAIN" "${small[@]}" --epochs $EPOCHS --out run 2>>kill.err &
    fi
    pid=$!
    # 0.05 .. 0.8 s: start-up, training and the checkpoint writes
    sleep "0.$(printf '%02d' $((5 + RANDOM % 75)))"
    kill -9 $pid 2>/dev/null && kills=$((kills + 1))
    wait $pid 2>/dev/null || true
    [ -f run/checkpoint.safetensors ] || continue
    if "$PY" "$AE_SOURCE/scripts/read_checkpoint.py" run/checkpoint.safetensors >reader.txt \
        && grep -q '^crc32 ok$' reader.txt; then ok; else
        fail "kill $i: the checkpoint does not load: $(cat reader.txt)"
        cp run/checkpoint.safetensors "broken$i.safetensors"
        continue
    fi
    # the resume goes on from it for one more epoch and completes
    ep=$(checkpoint_epoch run/checkpoint.safetensors)
    if [ "$ep" -lt $EPOCHS ]; then
        rm -rf probe
        "$AETRAIN" --resume run/checkpoint.safetensors --epochs $((ep + 1)) --out probe --quiet \
            && [ "$(checkpoint_epoch probe/checkpoint.safetensors)" -eq $((ep + 1)) ] && ok \
            || fail "kill $i: resume from epoch $ep failed"
    fi
done
[ "$kills" -ge 15 ] && ok || fail "only $kills of 20 kills hit a running aetrain"
cat kill.err >&2

# finish the run: the same bits as the one never killed
"$AETRAIN" --resume run/checkpoint.safetensors --epochs $EPOCHS --quiet || fail "final resume"
cmp -s ref/model.safetensors run/model.safetensors && ok \
    || fail "killed and resumed run differs from the uninterrupted one"
cut -d, -f1-16 run/metrics.csv | cmp -s - <(cut -d, -f1-16 ref/metrics.csv) && ok \
    || fail "metrics differ after kills and resumes"
# temporary files of killed writes were cleared by the next start and never
# take a checkpoint's name
[ -z "$(find run -name '*.tmp.*')" ] && ok || fail "stale temp files: $(find run -name '*.tmp.*')"
[ "$(find run -name '*.safetensors' | sort | tr '\n' ' ')" = "run/checkpoint.safetensors run/model.safetensors " ] \
    && ok || fail "unexpected files: $(ls run)"

finish
