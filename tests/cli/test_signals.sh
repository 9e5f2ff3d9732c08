#!/usr/bin/env bash
# Signals and the output folder's lock: SIGINT/SIGTERM finish the batch, write
# a checkpoint that resumes to the same bits as an uninterrupted run, and exit
# 130/143; a second SIGINT exits at once without damage; a second run on the
# same folder is refused unless --force; a lock left by kill -9 does not block.
# Every signal is sent at a moment picked from the run's progress: aetrain
# stops itself there (AE_PAUSE_AT, include/ae/pause.h), the signal is sent to
# the stopped process and handled when it continues, so where it lands does
# not depend on the machine's speed.
source "$(dirname "$0")/lib.sh"
need_mnist

small=(--config "$AE_SOURCE/configs/vae.json"
       --set "data.train=\"$MNIST/train-images-idx3-ubyte.gz\"" --set data.train_labels=\"\"
       --set data.test=\"\" --set data.train_limit=4000 --set train.batch_size=16
       --set 'model.encoder=[64]' --set 'model.decoder=[64]' --set model.latent=4
       --set data.binarize=\"dynamic\" --set output.images=false --threads 1 --quiet)
EPOCHS=6 # past both interruptions below (epochs 2 and 4)
NB=$(((4000 + 15) / 16)) # batches per epoch

# reference DIR EPOCHS: an uninterrupted run into DIR, moved to DIR.ref (the
# model file holds the spec, output.dir included, so the names must match)
reference() {
    "$AETRAIN" "${small[@]}" --epochs "$2" --out "$1" || fail "reference run $1"
    mv "$1" "$1.ref"
}

# signal_at PID SIG: PID has stopped at its pause point; send SIG, continue it.
# (kill -CONT has woken it when it returns, so a later stop is a new one.)
signal_at() {
    if wait_stopped "$1"; then
        kill -s "$2" "$1"
        kill -CONT "$1"
        ok
    else
        fail "aetrain ended before its pause point"
    fi
}

# where N N_DONE: the message of a run interrupted while paused after its N-th
# batch, having started after global batch N_DONE.  It finishes the batch it
# is in, the next one, and stops there: "epoch E, batch B of NB".
where() {
    local g=$(($2 + $1 + 1))
    echo "epoch $(((g + NB - 1) / NB)), batch $((g - (g - 1) / NB * NB)) of $NB"
}

# expect_stop NAME RC CODE ERRFILE DIR WHERE: exit CODE and the message
expect_stop() {
    local name=$1 rc=$2 code=$3 errf=$4 dir=$5 at=$6
    [ "$rc" -eq "$code" ] && ok || fail "$name: exit $rc, expected $code: $(cat "$errf")"
    grep -Eq "^aetrain: interrupted at $at; checkpoint written to $dir/checkpoint.safetensors; resume with: aetrain --resume $dir/checkpoint.safetensors$" "$errf" \
        && ok || fail "$name: expected 'interrupted at $at': $(cat "$errf")"
}

# interrupt SIG CODE DIR N: start a run, send SIG while it is paused after
# batch N (mid-epoch), expect exit CODE, the message and a checkpoint; then
# resume and compare with the reference.
interrupt() {
    local sig=$1 code=$2 dir=$3 n=$4 rc=0
    reference "$dir" $EPOCHS
    AE_PAUSE_AT=batch:$n "$AETRAIN" "${small[@]}" --epochs $EPOCHS --out "$dir" 2>"$dir.err" &
    local pid=$!
    signal_at $pid "$sig"
    wait $pid || rc=$?
    expect_stop "$sig" "$rc" "$code" "$dir.err" "$dir" "$(where "$n" 0)"
    "$PY" "$AE_SOURCE/scripts/read_checkpoint.py" "$dir/checkpoint.safetensors" >"$dir.reader" \
        && grep -q '^crc32 ok$' "$dir.reader" && ok || fail "$sig: checkpoint does not load: $(cat "$dir.reader")"
    # no metrics row for a partial epoch: rows are whole epochs 1..k
    local rows; rows=$(($(wc -l <"$dir/metrics.csv") - 1))
    [ "$rows" -eq $(((n + 1) / NB)) ] \
        && [ "$(cut -d, -f1 "$dir/metrics.csv" | tail -n +2 | tr '\n' ' ')" = "$(seq -s ' ' 1 $rows) " ] && ok \
        || fail "$sig: metrics rows: $(cat "$dir/metrics.csv")"
    "$AETRAIN" --resume "$dir/checkpoint.safetensors" --quiet || fail "$sig: resume"
    cmp -s "$dir.ref/model.safetensors" "$dir/model.safetensors" && ok \
        || fail "$sig: interrupted + resumed differs from the uninterrupted run ($(cat "$dir.err"))"
    cut -d, -f1-16 "$dir/metrics.csv" | cmp -s - <(cut -d, -f1-16 "$dir.ref/metrics.csv") && ok \
        || fail "$sig: metrics after resume differ: $(cat "$dir/metrics.csv")"
}
interrupt INT 130 int $((NB + 37))        # epoch 2, mid-way
interrupt TERM 143 term $((3 * NB + 100)) # epoch 4

# interrupted twice mid-epoch, the second time in a run resumed mid-epoch:
# interrupt -> resume -> interrupt -> resume still ends bit-identical
reference twice 3
AE_PAUSE_AT=batch:100 "$AETRAIN" "${small[@]}" --epochs 3 --out twice 2>twice.err &
pid=$!
signal_at $pid INT
rc=0; wait $pid || rc=$?
expect_stop twice "$rc" 130 twice.err twice "$(where 100 0)"
AE_PAUSE_AT=batch:300 "$AETRAIN" --resume twice/checkpoint.safetensors --quiet 2>twice2.err &
pid=$!
signal_at $pid INT
rc=0; wait $pid || rc=$?
expect_stop "twice (resumed)" "$rc" 130 twice2.err twice "$(where 300 101)"
"$AETRAIN" --resume twice/checkpoint.safetensors --quiet || fail "twice: resume"
cmp -s twice.ref/model.safetensors twice/model.safetensors && ok \
    || fail "twice: two interruptions + resumes differ from one run ($(cat twice.err twice2.err))"

# a double SIGINT exits at once with 130, here in the middle of the checkpoint
# write the first one asked for (the 3rd write: epochs 1 and 2 wrote theirs);
# the checkpoint of epoch 2 stays in place and loads
AE_PAUSE_AT=batch:$((2 * NB + 60)),checkpoint:3 "$AETRAIN" "${small[@]}" --epochs $EPOCHS --out dbl 2>dbl.err &
pid=$!
signal_at $pid INT
signal_at $pid INT
rc=0; wait $pid || rc=$?
[ "$rc" -eq 130 ] && ok || fail "double SIGINT: exit $rc: $(cat dbl.err)"
! grep -q interrupted dbl.err && ok || fail "double SIGINT: a checkpoint was completed: $(cat dbl.err)"
[ -n "$(find dbl -name 'checkpoint.safetensors.tmp.*')" ] && ok \
    || fail "double SIGINT: no half-written checkpoint: the second SIGINT did not land in the write"
"$PY" "$AE_SOURCE/scripts/read_checkpoint.py" dbl/checkpoint.safetensors >dbl.reader \
    && grep -q '^crc32 ok$' dbl.reader && ok || fail "double SIGINT: checkpoint does not load: $(cat dbl.reader)"
"$PY" - dbl/checkpoint.safetensors <<'PY' && ok || fail "double SIGINT: not the checkpoint of epoch 2"
import json, struct, sys
b = open(sys.argv[1], "rb").read()
meta = json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])["__metadata__"]
assert meta["epoch"] == "2" and "batch" not in meta, meta
PY
"$AETRAIN" --resume dbl/checkpoint.safetensors --epochs 3 --quiet && ok || fail "double SIGINT: resume"
[ -z "$(find dbl -name '*.tmp.*')" ] && ok || fail "dbl: the resume left $(find dbl -name '*.tmp.*')"

# --- the lock: a second run on the same folder is refused ---
# the holder stays stopped at its first batch, lock held, while the others try
AE_PAUSE_AT=batch:1 "$AETRAIN" "${small[@]}" --epochs $EPOCHS --out busy 2>busy.err &
pid=$!
wait_stopped $pid && ok || fail "busy: aetrain ended before its first batch: $(cat busy.err)"
expect 2 "busy is in use by another aetrain \(pid $pid\); use --force" -- \
    "$AETRAIN" "${small[@]}" --epochs 1 --out busy
# --force trains anyway (every file is written atomically, so neither run sees half a file)
expect 0 "" -- "$AETRAIN" "${small[@]}" --epochs 1 --out busy --force --set data.train_limit=100
# a resume into the busy folder is refused too
expect 2 "in use by another aetrain" -- "$AETRAIN" --resume int/checkpoint.safetensors --out busy --epochs 7
[ "$(proc_state $pid)" = T ] && ok || fail "busy: the holder did not stay stopped"
# a run killed with -9 leaves the lock file, but not the lock
kill -9 $pid; wait $pid 2>/dev/null || true
[ -f busy/aetrain.lock ] && ok || fail "lock file missing"
expect 0 "" -- "$AETRAIN" "${small[@]}" --epochs 1 --out busy --set data.train_limit=100

[ -z "$(find . -name '*.tmp.*')" ] && ok || fail "temp files left: $(find . -name '*.tmp.*')"
finish
