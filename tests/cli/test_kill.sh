#!/usr/bin/env bash
# kill -9 at 20 moments picked from the run's progress (a training batch, an
# epoch's end, half-way through a checkpoint write): every time the checkpoint
# that is in place is the one expected and loads (CRC and all), a resume from
# it trains on and completes, and at the end the run, resumed to its last
# epoch, is the same model bit for bit as one that was never killed.  Each
# moment is reached through AE_PAUSE_AT (include/ae/pause.h), which stops
# aetrain there; the kill hits the stopped process, whatever the machine's speed.
source "$(dirname "$0")/lib.sh"
need_mnist

# the 10000 test images load faster than the 60000 training ones
small=(--config "$AE_SOURCE/configs/vae.json"
       --set "data.train=\"$MNIST/t10k-images-idx3-ubyte.gz\"" --set data.train_labels=\"\"
       --set data.test=\"\" --set data.train_limit=1000 --set train.batch_size=16
       --set 'model.encoder=[64]' --set 'model.decoder=[64]' --set model.latent=4
       --set data.binarize=\"dynamic\" --set output.images=false --set output.checkpoint_every=1
       --threads 1 --quiet)
# Each kill below comes within the 3rd epoch its process trains and leaves at
# most 2 more epochs checkpointed: after 19 kills at most 38 epochs are done,
# so every pause point comes before the run's end, whatever the seed.
EPOCHS=45
NB=$(((1000 + 15) / 16)) # batches per epoch

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
    # where the process starts: after the epoch of the checkpoint in place
    start=0
    [ -f run/checkpoint.safetensors ] && start=$(checkpoint_epoch run/checkpoint.safetensors)
    # the moment, counted from this process's start, and the epoch whose
    # checkpoint must be in place after a kill there (0: none yet)
    case $((RANDOM % 3)) in
        0) n=$((1 + RANDOM % (3 * NB))); point=batch:$n
           want=$((start + (n + NB - 1) / NB - 1)) ;;
        1) n=$((1 + RANDOM % 3)); point=epoch:$n; want=$((start + n - 1)) ;;
        2) n=$((1 + RANDOM % 3)); point=checkpoint:$n; want=$((start + n - 1)) ;;
    esac
    if [ -f run/checkpoint.safetensors ]; then
        AE_PAUSE_AT=$point "$AETRAIN" --resume run/checkpoint.safetensors --epochs $EPOCHS \
            --quiet 2>>kill.err &
    else
        AE_PAUSE_AT=$point "$AETRAIN" "${small[@]}" --epochs $EPOCHS --out run 2>>kill.err &
    fi
    pid=$!
    if wait_stopped $pid && kill -9 $pid; then
        kills=$((kills + 1))
    else
        fail "kill $i: aetrain ended before $point (after epoch $start)"
    fi
    wait $pid 2>/dev/null || true
    # a write killed half-way leaves its temporary file (cleared by the next start)
    case $point in
        checkpoint:*) [ -n "$(find run -name 'checkpoint.safetensors.tmp.*')" ] && ok \
                          || fail "kill $i at $point: no half-written temporary file" ;;
    esac
    got=0
    [ -f run/checkpoint.safetensors ] && got=$(checkpoint_epoch run/checkpoint.safetensors)
    [ "$got" -eq "$want" ] && ok \
        || fail "kill $i at $point after epoch $start: checkpoint of epoch $got, expected $want"
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
[ "$kills" -eq 20 ] && ok || fail "only $kills of 20 kills hit a running aetrain"
[ -s kill.err ] && cat kill.err >&2

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
