#!/usr/bin/env bash
# Data larger than memory: uncompressed IDX files are memory-mapped.
#  - aeconvert turns MNIST's .gz files into uncompressed IDX byte for byte
#    as gunzip would, and CSV into float32 IDX with labels;
#  - training on the converted (mapped) file gives the same losses as on the
#    .gz original, and a float32 file standardized by aeconvert trained with
#    data.scale none gives the same losses as the original with standardize;
#  - training on a 256 MB synthetic IDX file keeps peak resident memory far
#    below the file's size, while reading it into memory (AE_NO_MMAP=1)
#    does not (so the measurement can tell the two apart).
source "$(dirname "$0")/lib.sh"
need_mnist
AECONVERT=$AE_BUILD/aeconvert

# aeconvert: gz IDX -> the same bytes as gunzip
"$AECONVERT" "$MNIST/train-images-idx3-ubyte.gz" --out train.idx --limit 3000 --quiet \
    --labels "$MNIST/train-labels-idx1-ubyte.gz" --labels-out train-labels.idx \
    && ok || fail "aeconvert of the MNIST training images failed"
# --limit keeps the first 3000: compare with the first 3000 rows of gunzip
{ printf '\x00\x00\x08\x03\x00\x00\x0b\xb8\x00\x00\x00\x1c\x00\x00\x00\x1c'
  (zcat "$MNIST/train-images-idx3-ubyte.gz" || true) | head -c $((16 + 3000 * 784)) | tail -c +17; } > want.idx
cmp -s want.idx train.idx && ok || fail "aeconvert output differs from gunzip's bytes"
"$AECONVERT" "$MNIST/t10k-images-idx3-ubyte.gz" --out t10k.idx --quiet && ok || fail "aeconvert t10k"
zcat "$MNIST/t10k-images-idx3-ubyte.gz" | cmp -s - t10k.idx && ok || fail "t10k differs from gunzip"

# CSV -> float32 IDX + labels (known answer)
printf 'a,b,label\n1,2,3\n4.5,-5,300\n' > small.csv
"$AECONVERT" small.csv --label-column label --out small.idx --labels-out small-labels.idx --quiet \
    && ok || fail "aeconvert of a CSV failed"
[ "$(od -An -tx1 -v small.idx | tr -d ' \n')" = 00000d0200000002000000023f8000004000000040900000c0a00000 ] \
    && ok || fail "CSV -> IDX bytes: $(od -An -tx1 -v small.idx | tr -d ' \n')"
[ "$(od -An -tx1 -v small-labels.idx | tr -d ' \n')" = 00000c0100000002000000030000012c ] \
    && ok || fail "CSV labels -> IDX bytes: $(od -An -tx1 -v small-labels.idx | tr -d ' \n')"
# --scale unit: uint8 / 255 as data.scale unit does (0, 255, 51, 102 -> 0, 1, 0.2, 0.4)
printf '\x00\x00\x08\x02\x00\x00\x00\x02\x00\x00\x00\x02\x00\xff\x33\x66' > tiny.idx
"$AECONVERT" tiny.idx --scale unit --out tiny-unit.idx --quiet && ok || fail "aeconvert --scale unit failed"
[ "$(od -An -tx1 -v tiny-unit.idx | tr -d ' \n')" = 00000d020000000200000002000000003f8000003e4cccce3eccccce ] \
    && ok || fail "--scale unit bytes: $(od -An -tx1 -v tiny-unit.idx | tr -d ' \n')"
# bad input: one message, exit 2, nothing written
expect 2 'missing.csv: cannot open' -- "$AECONVERT" missing.csv --out never.idx
[ ! -e never.idx ] && ok || fail "a failed conversion left its output"
printf 'a,b\n1,2\n3,x\n' > broken.csv
expect 2 'broken.csv: line 3, column 2' -- "$AECONVERT" broken.csv --out never.idx
[ ! -e never.idx ] && ok || fail "a failed conversion left its output"
expect 2 'labels-out needs labels' -- "$AECONVERT" small.csv --out never.idx --labels-out l.idx

# Same losses from the mapped file as from the .gz original.
RUN=(--set data.train_limit=3000 --set data.test_limit=500 --set output.images=false
     --epochs 1 --threads 1 --quiet --set 'model.encoder=[64]' --set 'model.decoder=[64]')
"$AETRAIN" --config "$AE_SOURCE/configs/vae.json" "${MNIST_SET[@]}" "${RUN[@]}" --out gz \
    || fail "training on the .gz file failed"
"$AETRAIN" --config "$AE_SOURCE/configs/vae.json" "${MNIST_SET[@]}" "${RUN[@]}" --out mapped \
    --set data.train='"train.idx"' --set data.train_labels='"train-labels.idx"' \
    --set data.test='"t10k.idx"' || fail "training on the mapped file failed"
[ "$(cut -d, -f1-16 gz/metrics.csv)" = "$(cut -d, -f1-16 mapped/metrics.csv)" ] && ok \
    || fail "mapped and .gz training differ: $(cat gz/metrics.csv mapped/metrics.csv)"

# aeconvert --scale standardize + data.scale none = data.scale standardize
"$AECONVERT" "$MNIST/train-images-idx3-ubyte.gz" --scale standardize --limit 3000 --out std.idx \
    --quiet || fail "aeconvert --scale standardize failed"
STD=(--set model.likelihood=gaussian --set data.test='""' --set data.test_labels='""'
     --set data.train_labels='""')
"$AETRAIN" --config "$AE_SOURCE/configs/vae.json" "${MNIST_SET[@]}" "${RUN[@]}" "${STD[@]}" \
    --set data.scale=standardize --out std-a || fail "standardize training failed"
"$AETRAIN" --config "$AE_SOURCE/configs/vae.json" "${MNIST_SET[@]}" "${RUN[@]}" "${STD[@]}" \
    --set data.scale=none --set data.train='"std.idx"' --out std-b || fail "float32 IDX training failed"
[ "$(cut -d, -f1-16 std-a/metrics.csv)" = "$(cut -d, -f1-16 std-b/metrics.csv)" ] && ok \
    || fail "pre-scaled float32 IDX and standardize differ: $(cat std-a/metrics.csv std-b/metrics.csv)"

# Peak resident memory on a 256 MB file: far below its size when mapped.
rows=$((256 * 1024 * 1024 / 784))
{ printf '\x00\x00\x08\x03'
  printf "\\x$(printf %02x $((rows >> 24 & 255)))\\x$(printf %02x $((rows >> 16 & 255)))"
  printf "\\x$(printf %02x $((rows >> 8 & 255)))\\x$(printf %02x $((rows & 255)))"
  printf '\x00\x00\x00\x1c\x00\x00\x00\x1c'
  head -c $((rows * 784)) /dev/urandom; } > big.idx
size_mb=$(($(stat -c %s big.idx) / 1048576))
BIG=(--config "$AE_SOURCE/configs/vae.json" --set data.train='"big.idx"' --set data.train_labels='""'
     --set data.test='""' --set data.test_labels='""' --set output.images=false --epochs 1
     --set 'model.encoder=[16]' --set 'model.decoder=[16]' --set model.latent=2
     --set train.batch_size=1024 --threads 1 --quiet --set data.validation=0.01)
peak_mb() { awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); printf "%d", $2 / 1024 }' "$1"; }
# Under AddressSanitizer (scripts/test.sh --sanitize) freed blocks wait in a
# quarantine (256 MB by default) that counts in the RSS; oneDNN frees a few
# small blocks per GEMM call, so without a small quarantine the sanitizer's
# bookkeeping, not the data, would fill the measurement.  (No effect on
# other builds.)
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8
/usr/bin/time -v "$AETRAIN" "${BIG[@]}" --out big-mapped 2>time-mapped.txt \
    || fail "training on the 256 MB file failed: $(tail -3 time-mapped.txt)"
AE_NO_MMAP=1 /usr/bin/time -v "$AETRAIN" "${BIG[@]}" --out big-read 2>time-read.txt \
    || fail "training on the 256 MB file read into memory failed"
mapped=$(peak_mb time-mapped.txt)
read=$(peak_mb time-read.txt)
echo "256 MB file ($size_mb MB): peak RSS mapped $mapped MB, read into memory $read MB"
[ "$mapped" -lt $((size_mb / 2)) ] && ok || fail "mapped peak RSS $mapped MB is not far below $size_mb MB"
[ "$read" -gt "$size_mb" ] && ok || fail "reading into memory peaked at $read MB, expected > $size_mb"

echo "$CHECKS checks, $FAILS failures"
[ "$FAILS" -eq 0 ]
