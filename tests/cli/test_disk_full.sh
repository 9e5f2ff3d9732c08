#!/usr/bin/env bash
# A write that fails (file-size limit, standing in for a full disk): a clear
# error naming the file, exit 1, the previous checkpoint byte-identical and
# still loadable and resumable, no temporary file left.
source "$(dirname "$0")/lib.sh"
need_mnist

small=(--config "$AE_SOURCE/configs/vae.json"
       --set "data.train=\"$MNIST/t10k-images-idx3-ubyte.gz\"" --set data.train_labels=\"\"
       --set data.test=\"\" --set data.train_limit=1000 --set train.batch_size=32
       --set output.images=false --threads 1 --quiet)

"$AETRAIN" "${small[@]}" --epochs 1 --out run || fail "first epoch"
cp run/checkpoint.safetensors before.safetensors
size_kb=$(( $(stat -c %s run/checkpoint.safetensors) / 1024 ))

# ulimit -f (1 KiB blocks) below the checkpoint's size: config.json and
# metrics.csv fit, the checkpoint does not.  aetrain ignores SIGXFSZ, so the
# write fails with EFBIG instead of the signal killing it.
rc=0
( ulimit -f $((size_kb / 2)); "$AETRAIN" --resume run/checkpoint.safetensors --epochs 2 --quiet ) \
    2>full.err || rc=$?
[ "$rc" -eq 1 ] && ok || fail "exit $rc, expected 1: $(cat full.err)"
grep -Eq "^aetrain: error: run/checkpoint.safetensors: write failed \(File too large\); the previous file, if any, is unchanged$" full.err \
    && ok || fail "message: $(cat full.err)"
cmp -s before.safetensors run/checkpoint.safetensors && ok || fail "the previous checkpoint changed"
[ -z "$(find . -name '*.tmp.*')" ] && ok || fail "temporary files left: $(find . -name '*.tmp.*')"
"$PY" "$AE_SOURCE/scripts/read_checkpoint.py" run/checkpoint.safetensors >reader.txt \
    && grep -q '^crc32 ok$' reader.txt && ok || fail "checkpoint does not load: $(cat reader.txt)"
"$AETRAIN" --resume run/checkpoint.safetensors --epochs 2 --quiet && ok || fail "resume after the failure"

# any output past the limit: exit 1 and the file named
rc=0
( ulimit -f 64; "$AETRAIN" "${small[@]}" --epochs 1 --out tiny ) 2>tiny.err || rc=$?
[ "$rc" -eq 1 ] && ok || fail "tiny limit: exit $rc: $(cat tiny.err)"
grep -Eq "tiny/[a-z.]+: write failed \(File too large\)" tiny.err && ok || fail "tiny limit: $(cat tiny.err)"

finish
