#!/usr/bin/env bash
# Every option that names an output file, pointed at things that are not
# regular files: a character device (null, full) and a FIFO are written in
# place and stay what they were; a link to /proc/self/fd/1 reaches standard
# output; a link to a regular file has its target replaced and stays a link;
# a dangling link has its target created; a folder is refused.  The device
# nodes are made in the scratch folder: the machine's /dev is never touched.
source "$(dirname "$0")/lib.sh"
need_mnist

# Device nodes need root (or CAP_MKNOD).  Without them the device cases
# cannot be checked, which is a failure, not a pass.
have_dev=1
if ! mknod probe c 1 3 2>mknod.err; then
    fail "mknod is not permitted ($(cat mknod.err)): the device cases were not checked"
    have_dev=0
fi
rm -f probe

"$AETRAIN" --config "$AE_SOURCE/configs/vae.json" "${MNIST_SET[@]}" \
    --set data.train_limit=500 --set data.test_limit=100 --set 'model.encoder=[16]' \
    --set 'model.decoder=[16]' --set model.latent=2 --set output.images=false \
    --epochs 1 --threads 1 --quiet --out m || fail "training the tiny model"
"$AE_BUILD/aeconvert" "$MNIST/t10k-images-idx3-ubyte.gz" --labels "$MNIST/t10k-labels-idx1-ubyte.gz" \
    --labels-out small.lab --limit 100 --quiet --out small.idx || fail "the small data set"
MODEL=$WORK/m/model.safetensors
DATA=$WORK/small.idx
LABELS=$WORK/small.lab

# run OUT CMD...: CMD with every @OUT@ replaced by OUT.
run() {
    local out=$1 a args=()
    shift
    for a in "$@"; do args+=("${a//@OUT@/$out}"); done
    "${args[@]}"
}

# A background reader of a FIFO: reader_start FIFO GOT; reader_wait.  The
# writer's close ends it; should the writer never open the FIFO, the reader
# is stopped after 20 s so the test cannot hang.
reader_start() {
    cat "$1" >"$2" &
    READER=$!
}
reader_wait() {
    local i
    for i in $(seq 200); do
        kill -0 "$READER" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$READER" 2>/dev/null; then
        fail "$1: the FIFO's reader was still waiting"
        kill "$READER" 2>/dev/null || true
    fi
    wait "$READER" 2>/dev/null || true
}

# no_tmp WHAT: no NAME.tmp.XXXXXX left in the current folder.
no_tmp() {
    local left
    left=$(find . -name '*.tmp.*')
    [ -z "$left" ] && ok || fail "$1: temporary files left: $left"
}

# check_output NAME EXT SEEKS CMD...: CMD (with @OUT@ for the output file,
# whose name ends in EXT) to each kind of output, in a folder NAME of its own.
# SEEKS=1 for a writer that goes back to fill in a count: it cannot write to
# a FIFO or pipe, and must say so (exit 1, the path named) instead.
check_output() {
    local name=$1 ext=$2 seeks=$3 rc
    shift 3
    mkdir -p "$WORK/$name/sub"
    cd "$WORK/$name"

    # a regular file: the bytes every other kind must receive
    rc=0
    run "ref$ext" "$@" >ref.stdout 2>ref.err || rc=$?
    if [ "$rc" -ne 0 ] || [ ! -s "ref$ext" ]; then
        fail "$name: to a regular file: exit $rc: $(cat ref.err)"
        cd "$WORK"
        return 0
    fi
    ok

    if [ "$have_dev" -eq 1 ]; then
        mknod "null$ext" c 1 3
        mknod "full$ext" c 1 7
        rc=0
        run "null$ext" "$@" >/dev/null 2>null.err || rc=$?
        [ "$rc" -eq 0 ] && ok || fail "$name: to a null device: exit $rc: $(cat null.err)"
        [ -c "null$ext" ] && ok || fail "$name: null$ext is no longer a character device"
        rc=0
        run "full$ext" "$@" >/dev/null 2>full.err || rc=$?
        [ "$rc" -eq 1 ] && ok || fail "$name: to a full device: exit $rc, expected 1: $(cat full.err)"
        grep -Eq "full$ext: write failed" full.err && ok || fail "$name: full device: $(cat full.err)"
        [ -c "full$ext" ] && ok || fail "$name: full$ext is no longer a character device"
    fi

    mkfifo "fifo$ext"
    reader_start "fifo$ext" fifo.got
    rc=0
    run "fifo$ext" "$@" >/dev/null 2>fifo.err || rc=$?
    reader_wait "$name"
    if [ "$seeks" -eq 1 ]; then
        [ "$rc" -eq 1 ] && grep -Eq "fifo$ext: (write failed|cannot go back)" fifo.err && ok \
            || fail "$name: to a FIFO: exit $rc, expected 1 and a message: $(cat fifo.err)"
    else
        [ "$rc" -eq 0 ] && ok || fail "$name: to a FIFO: exit $rc: $(cat fifo.err)"
        cmp -s fifo.got "ref$ext" && ok || fail "$name: the FIFO's reader got other bytes"
    fi
    [ -p "fifo$ext" ] && ok || fail "$name: fifo$ext is no longer a FIFO"

    # standard output through a link, stdout a pipe: the bytes arrive there
    # (beside whatever else the program prints, such as aeeval's table)
    ln -s /proc/self/fd/1 "stdout$ext"
    { rc=0; run "stdout$ext" "$@" 2>pipe.err || rc=$?; echo "$rc" >pipe.rc; } | cat >piped
    rc=$(cat pipe.rc)
    if [ "$seeks" -eq 1 ]; then
        [ "$rc" -eq 1 ] && grep -Eq "stdout$ext: (write failed|cannot go back)" pipe.err && ok \
            || fail "$name: to a pipe: exit $rc, expected 1 and a message: $(cat pipe.err)"
    else
        [ "$rc" -eq 0 ] && ok || fail "$name: to a link to a pipe: exit $rc: $(cat pipe.err)"
        "$PY" - piped "ref$ext" ref.stdout <<'PY' && ok || fail "$name: standard output lacks the bytes"
import sys
got, ref, other = (open(p, "rb").read() for p in sys.argv[1:])
sys.exit(not (ref in got and len(got) == len(ref) + len(other)))
PY
        # stdout a regular file: that file ends up with the bytes
        if [ ! -s ref.stdout ]; then
            rc=0
            run "stdout$ext" "$@" >redirected 2>redirect.err || rc=$?
            [ "$rc" -eq 0 ] && cmp -s redirected "ref$ext" && ok \
                || fail "$name: to a link to a redirected stdout: exit $rc: $(cat redirect.err)"
        fi
    fi
    [ -L "stdout$ext" ] && ok || fail "$name: stdout$ext is no longer a link"

    # a link to a regular file: the target replaced, the link unchanged
    echo old >"sub/target$ext"
    ln -s "sub/target$ext" "link$ext"
    rc=0
    run "link$ext" "$@" >/dev/null 2>link.err || rc=$?
    [ "$rc" -eq 0 ] && cmp -s "sub/target$ext" "ref$ext" && ok \
        || fail "$name: through a link: exit $rc: $(cat link.err)"
    [ -L "link$ext" ] && [ "$(readlink "link$ext")" = "sub/target$ext" ] && ok \
        || fail "$name: link$ext is no longer the same link"

    # a dangling link: its target is created
    ln -s "sub/new$ext" "dangling$ext"
    rc=0
    run "dangling$ext" "$@" >/dev/null 2>dangling.err || rc=$?
    [ "$rc" -eq 0 ] && cmp -s "sub/new$ext" "ref$ext" && ok \
        || fail "$name: through a dangling link: exit $rc: $(cat dangling.err)"
    [ -L "dangling$ext" ] && [ "$(readlink "dangling$ext")" = "sub/new$ext" ] && ok \
        || fail "$name: dangling$ext is no longer the same link"

    mkdir "folder$ext"
    expect 2 "folder$ext: is a folder" -- run "folder$ext" "$@"

    no_tmp "$name"
    (cd sub && no_tmp "$name/sub")
    cd "$WORK"
}

check_output encode_csv .csv 0 "$AEENCODE" --model "$MODEL" --data "$DATA" --labels "$LABELS" \
    --threads 1 --out @OUT@
check_output encode_npy .npy 0 "$AEENCODE" --model "$MODEL" --data "$DATA" --format npy \
    --threads 1 --out @OUT@
check_output encode_plot_svg .svg 0 "$AEENCODE" --model "$MODEL" --data "$DATA" --labels "$LABELS" \
    --threads 1 --plot @OUT@
check_output encode_plot_png .png 0 "$AEENCODE" --model "$MODEL" --data "$DATA" --labels "$LABELS" \
    --threads 1 --plot @OUT@
check_output sample_png .png 0 "$AESAMPLE" --model "$MODEL" --n 16 --threads 1 --out @OUT@
check_output sample_csv .csv 0 "$AESAMPLE" --model "$MODEL" --n 16 --threads 1 \
    --out "$WORK/samples.png" --csv @OUT@
check_output eval_scores .csv 0 "$AE_BUILD/aeeval" --model "$MODEL" --data "$DATA" --labels "$LABELS" \
    --iw 5 --no-pca --threads 1 --scores @OUT@
# aeconvert writes the example count into the header at the end, seeking back
check_output convert_out .idx 1 "$AE_BUILD/aeconvert" "$DATA" --quiet --out @OUT@
check_output convert_labels .idx 0 "$AE_BUILD/aeconvert" "$DATA" --labels "$LABELS" --quiet \
    --out "$WORK/converted.idx" --labels-out @OUT@

# aetrain's run folder, prepared with links, a device and a FIFO in it.
# config.json, metrics.csv, the pictures and plots are read back for the
# report, so those stay (links to) regular files.
train=(--config "$AE_SOURCE/configs/vae.json" "${MNIST_SET[@]}"
       --set data.train_limit=500 --set data.test_limit=100 --set 'model.encoder=[16]'
       --set 'model.decoder=[16]' --set model.latent=2 --epochs 1 --threads 1 --quiet)
"$AETRAIN" "${train[@]}" --out plain || fail "aetrain into a plain folder"
mkdir -p run elsewhere
echo old >elsewhere/metrics.csv
ln -s ../elsewhere/metrics.csv run/metrics.csv
ln -s ../elsewhere/latents.svg run/latents.svg
ln -s "$WORK/elsewhere/model.safetensors" run/model.safetensors
mkfifo run/report.html
[ "$have_dev" -eq 1 ] && mknod run/checkpoint.safetensors c 1 3
reader_start run/report.html report.got
rc=0
"$AETRAIN" "${train[@]}" --out run 2>run.err || rc=$?
reader_wait aetrain
[ "$rc" -eq 0 ] && ok || fail "aetrain into a folder of links: exit $rc: $(cat run.err)"
for f in metrics.csv latents.svg model.safetensors; do
    [ -L "run/$f" ] && ok || fail "aetrain: run/$f is no longer a link"
done
[ "$(readlink run/metrics.csv)" = ../elsewhere/metrics.csv ] && ok || fail "aetrain: metrics.csv link text"
head -1 elsewhere/metrics.csv | grep -q '^epoch,train_loss,' && [ "$(wc -l <elsewhere/metrics.csv)" -eq 2 ] \
    && ok || fail "aetrain: the metrics through the link: $(cat elsewhere/metrics.csv)"
cmp -s elsewhere/latents.svg plain/latents.svg && ok || fail "aetrain: latents.svg through a dangling link"
# the same tensors as the plain run's (the headers differ: they name output.dir)
"$PY" - elsewhere/model.safetensors plain/model.safetensors <<'PY' && ok || fail "aetrain: model.safetensors through a link"
import struct, sys
a, b = (open(p, "rb").read() for p in sys.argv[1:])
data = [d[8 + struct.unpack("<Q", d[:8])[0]:] for d in (a, b)]
sys.exit(not (len(data[0]) > 0 and data[0] == data[1]))
PY
[ -p run/report.html ] && ok || fail "aetrain: report.html is no longer a FIFO"
grep -q '^<!DOCTYPE html>' report.got && tail -1 report.got | grep -q '</html>$' && ok \
    || fail "aetrain: the FIFO's reader did not get the report"
if [ "$have_dev" -eq 1 ]; then
    [ -c run/checkpoint.safetensors ] && ok || fail "aetrain: checkpoint.safetensors is no longer a device"
fi
(cd run && no_tmp aetrain)
(cd elsewhere && no_tmp aetrain)

if [ "$have_dev" -eq 1 ]; then
    mkdir full
    mknod full/model.safetensors c 1 7
    rc=0
    "$AETRAIN" "${train[@]}" --out full 2>full.err || rc=$?
    [ "$rc" -eq 1 ] && ok || fail "aetrain to a full device: exit $rc: $(cat full.err)"
    grep -Eq "full/model.safetensors: write failed \(No space left on device\)" full.err && ok \
        || fail "aetrain full device: $(cat full.err)"
    [ -c full/model.safetensors ] && ok || fail "aetrain: full/model.safetensors is no longer a device"
    (cd full && no_tmp "aetrain full")
fi

# the checkpoint's CRC is filled in at the end, so it cannot go to a FIFO
mkdir fifo
mkfifo fifo/checkpoint.safetensors
reader_start fifo/checkpoint.safetensors ckpt.got
rc=0
"$AETRAIN" "${train[@]}" --out fifo 2>fifo.err || rc=$?
reader_wait "aetrain fifo"
[ "$rc" -eq 1 ] && grep -Eq "fifo/checkpoint.safetensors: write failed" fifo.err && ok \
    || fail "aetrain checkpoint to a FIFO: exit $rc: $(cat fifo.err)"
[ -p fifo/checkpoint.safetensors ] && ok || fail "aetrain: the checkpoint FIFO is no longer a FIFO"

# found once the run is under way, so a runtime failure (exit 1)
mkdir -p dir/metrics.csv
expect 1 "dir/metrics.csv: is a folder" -- "$AETRAIN" "${train[@]}" --out dir

finish
