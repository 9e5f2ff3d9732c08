#!/usr/bin/env bash
# Signals and the output folder's lock: SIGINT/SIGTERM finish the batch, write
# a checkpoint that resumes to the same bits as an uninterrupted run, and exit
# 130/143; a second SIGINT exits at once without damage; a second run on the
# same folder is refused unless --force; a lock left by kill -9 does not block.
source "$(dirname "$0")/lib.sh"
need_mnist

small=(--config "$AE_SOURCE/configs/vae.json"
       --set "data.train=\"$MNIST/train-images-idx3-ubyte.gz\"" --set data.train_labels=\"\"
       --set data.test=\"\" --set data.train_limit=4000 --set train.batch_size=16
       --set 'model.encoder=[64]' --set 'model.decoder=[64]' --set model.latent=4
       --set data.binarize=\"dynamic\" --set output.images=false --threads 1 --quiet)
EPOCHS=30

# wait_for FILE: until the run has written it (at most ~10 s)
wait_for() {
    for _ in $(seq 100); do [ -e "$1" ] && return 0; sleep 0.1; done
    return 1
}

# reference DIR EPOCHS: an uninterrupted run into DIR, moved to DIR.ref (the
# model file holds the spec, output.dir included, so the names must match)
reference() {
    "$AETRAIN" "${small[@]}" --epochs "$2" --out "$1" || fail "reference run $1"
    mv "$1" "$1.ref"
}

# interrupt SIG CODE DIR DELAY: start a run, send SIG once it has written
# metrics.csv and DELAY more seconds have passed, expect exit CODE, the
# message and a checkpoint; then resume and compare with the reference.
interrupt() {
    local sig=$1 code=$2 dir=$3 delay=$4 rc=0
    reference "$dir" $EPOCHS
    "$AETRAIN" "${small[@]}" --epochs $EPOCHS --out "$dir" 2>"$dir.err" &
    local pid=$!
    wait_for "$dir/metrics.csv" || fail "$dir: no metrics.csv"
    sleep "$delay"
    kill -s "$sig" $pid
    wait $pid || rc=$?
    [ "$rc" -eq "$code" ] && ok || fail "$sig: exit $rc, expected $code: $(cat "$dir.err")"
    grep -Eq "^aetrain: interrupted at epoch [0-9]+, batch [0-9]+ of [0-9]+; checkpoint written to $dir/checkpoint.safetensors; resume with: aetrain --resume $dir/checkpoint.safetensors$" "$dir.err" \
        && ok || fail "$sig: message: $(cat "$dir.err")"
    "$PY" "$AE_SOURCE/scripts/read_checkpoint.py" "$dir/checkpoint.safetensors" >"$dir.reader" \
        && grep -q '^crc32 ok$' "$dir.reader" && ok || fail "$sig: checkpoint does not load: $(cat "$dir.reader")"
    # no metrics row for a partial epoch: rows are whole epochs 1..k
    local rows; rows=$(($(wc -l <"$dir/metrics.csv") - 1))
    [ "$(cut -d, -f1 "$dir/metrics.csv" | tail -n +2 | tr '\n' ' ')" = "$(seq -s ' ' 1 $rows) " ] && ok \
        || fail "$sig: metrics rows: $(cat "$dir/metrics.csv")"
    "$AETRAIN" --resume "$dir/checkpoint.safetensors" --quiet || fail "$sig: resume"
    cmp -s "$dir.ref/model.safetensors" "$dir/model.safetensors" && ok \
        || fail "$sig: interrupted + resumed differs from the uninterrupted run ($(cat "$dir.err"))"
    cut -d, -f1-16 "$dir/metrics.csv" | cmp -s - <(cut -d, -f1-16 "$dir.ref/metrics.csv") && ok \
        || fail "$sig: metrics after resume differ: $(cat "$dir/metrics.csv")"
}
interrupt INT 130 int 0.15
grep -q "batch [0-9]* of" int.err && ! grep -Eq "batch ([0-9]+) of \1;" int.err \
    || echo "note: SIGINT landed on an epoch boundary; mid-epoch resume not exercised this time" >&2
interrupt TERM 143 term 0.35

# a mid-epoch stop, made certain: a 1-epoch budget interrupted twice in a row
# still ends bit-identical (interrupt -> resume -> interrupt -> resume)
reference twice 3
"$AETRAIN" "${small[@]}" --epochs 3 --out twice 2>twice.err &
pid=$!
wait_for twice/config.json; sleep 0.1; kill -INT $pid; rc=0; wait $pid || rc=$?
[ "$rc" -eq 130 ] && ok || fail "twice: exit $rc: $(cat twice.err)"
"$AETRAIN" --resume twice/checkpoint.safetensors --quiet 2>twice2.err &
pid=$!
sleep 0.1; kill -INT $pid; rc=0; wait $pid || rc=$?
[ "$rc" -eq 130 ] || [ "$rc" -eq 0 ] && ok || fail "twice: second exit $rc: $(cat twice2.err)"
[ -f twice/model.safetensors ] || "$AETRAIN" --resume twice/checkpoint.safetensors --quiet || fail "twice: resume"
cmp -s twice.ref/model.safetensors twice/model.safetensors && ok \
    || fail "twice: two interruptions + resumes differ from one run ($(cat twice.err twice2.err))"

# a double SIGINT exits at once with 130; the last checkpoint still loads
"$AETRAIN" "${small[@]}" --epochs 50 --out dbl 2>dbl.err &
pid=$!
wait_for dbl/metrics.csv || fail "dbl: no metrics.csv"
sleep 0.3
kill -INT $pid; kill -INT $pid
rc=0; wait $pid || rc=$?
[ "$rc" -eq 130 ] && ok || fail "double SIGINT: exit $rc: $(cat dbl.err)"
if [ -f dbl/checkpoint.safetensors ]; then
    "$PY" "$AE_SOURCE/scripts/read_checkpoint.py" dbl/checkpoint.safetensors >dbl.reader \
        && ok || fail "double SIGINT: checkpoint does not load: $(cat dbl.reader)"
    "$AETRAIN" --resume dbl/checkpoint.safetensors --epochs 8 --quiet && ok || fail "double SIGINT: resume"
fi

# --- the lock: a second run on the same folder is refused ---
"$AETRAIN" "${small[@]}" --epochs 50 --out busy 2>busy.err &
pid=$!
wait_for busy/config.json || fail "busy: no config.json"
expect 2 "busy is in use by another aetrain \(pid $pid\); use --force" -- \
    "$AETRAIN" "${small[@]}" --epochs 1 --out busy
# --force trains anyway (every file is written atomically, so neither run sees half a file)
expect 0 "" -- "$AETRAIN" "${small[@]}" --epochs 1 --out busy --force --set data.train_limit=100
# a resume into the busy folder is refused too
expect 2 "in use by another aetrain" -- "$AETRAIN" --resume int/checkpoint.safetensors --out busy --epochs 7
# a run killed with -9 leaves the lock file, but not the lock
kill -9 $pid; wait $pid 2>/dev/null || true
[ -f busy/aetrain.lock ] && ok || fail "lock file missing"
expect 0 "" -- "$AETRAIN" "${small[@]}" --epochs 1 --out busy --set data.train_limit=100

[ -z "$(find . -name '*.tmp.*')" ] && ok || echo "note: temp files left by kill -9: $(find . -name '*.tmp.*')" >&2
finish
