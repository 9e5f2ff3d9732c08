#!/usr/bin/env bash
# bench/bigdata.sh [--gb G] [--epochs N] [--threads T] [--keep]
#
# Training on data larger than memory would allow to read: builds a G GiB
# (default 1) uncompressed IDX file of MNIST training images repeated
# (the payload of train-images-idx3-ubyte.gz over and over, cut to whole
# examples), then trains configs/vae.json on it for N epochs (default 1)
# twice, memory-mapped (the default for uncompressed IDX) and read into
# memory (AE_NO_MMAP=1), and prints the file size, the seconds per epoch and
# the peak resident memory of each (/usr/bin/time -v).  The file goes in
# $TMPDIR (default /tmp) and is removed unless --keep.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
gb=1 epochs=1 threads=0 keep=0
while (($#)); do
    case $1 in
    --gb) gb=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "bench/bigdata.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ -x "$root/build/aetrain" ] || { echo "bench/bigdata.sh: build first" >&2; exit 2; }
mnist=""
for d in "${AE_MNIST_DIR:-}" "$root/data/mnist" "$root/../shared/data/mnist"; do
    [ -n "$d" ] && [ -f "$d/train-images-idx3-ubyte.gz" ] && { mnist=$d; break; }
done
[ -n "$mnist" ] || { echo "bench/bigdata.sh: MNIST not found (scripts/get-mnist.sh)" >&2; exit 2; }
out=$(mktemp -d)
[ "$keep" = 1 ] || trap 'rm -rf "$out"' EXIT
if [ "$threads" = 0 ]; then threads=$(nproc); fi

rows=$(awk -v g="$gb" 'BEGIN { printf "%d", g * 1073741824 / 784 }')
be32() { printf "\\x$(printf %02x $(($1 >> 24 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 & 255)))"; }
zcat "$mnist/train-images-idx3-ubyte.gz" | tail -c +17 > "$out/payload"
{ printf '\x00\x00\x08\x03'; be32 "$rows"; printf '\x00\x00\x00\x1c\x00\x00\x00\x1c'
  reps=$(((rows * 784 + 47039999) / 47040000))
  for _ in $(seq "$reps"); do cat "$out/payload"; done | head -c $((rows * 784)) || true; } > "$out/big.idx"
rm -f "$out/payload"
sync # the new file's writeback must not overlap the timed runs
size_mb=$(($(stat -c %s "$out/big.idx") / 1048576))
echo "bigdata: $out/big.idx: $rows examples, $size_mb MB"

train() { # LABEL [env...]
    local label=$1
    shift
    env "$@" /usr/bin/time -v "$root/build/aetrain" --config "$root/configs/vae.json" \
        --set data.train="\"$out/big.idx\"" --set data.train_labels='""' --set data.test='""' \
        --set data.test_labels='""' --set output.images=false --epochs "$epochs" \
        --threads "$threads" --quiet --out "$out/run-$label" 2>"$out/time-$label.txt"
    local rss secs
    rss=$(awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); printf "%d", $2 / 1024 }' \
        "$out/time-$label.txt")
    secs=$(awk -F, 'NR > 1 { print $(NF - 1) }' "$out/run-$label/metrics.csv" | sort -n |
        awk '{ s[NR] = $1 } END { print s[int((NR + 1) / 2)] }')
    echo "bigdata: $label: $secs s/epoch, peak RSS $rss MB (file $size_mb MB)"
}
train mapped
train read-into-memory AE_NO_MMAP=1
