#!/usr/bin/env bash
# Every bad input gets exit code 2 (1 for runtime failures) and one clear
# message naming the file, key or row — never a crash, never a lost file.
source "$(dirname "$0")/lib.sh"
need_mnist

VAE=$AE_SOURCE/configs/vae.json
small=("${MNIST_SET[@]}" --set data.train_limit=300 --set data.test_limit=100 --set train.batch_size=50 --epochs 1 --quiet)
ERRORS_ELIDE="${small[*]}"   # shown as "..." in docs/errors.md

# A good model to use against bad data.
"$AETRAIN" --config "$VAE" "${small[@]}" --out good || fail "training the reference model"
MODEL=good/model.safetensors

# --- the spec ---
errors_section "The spec and the command line"
expect 2 "nope.json: cannot open" -- "$AETRAIN" --config nope.json
printf '{\n  "model": {\n    "latent": 2,,\n  }\n}\n' >bad.json
expect 2 "bad.json:3:[0-9]+: malformed JSON" -- "$AETRAIN" --config bad.json
expect 2 "--set model.laten=2: unknown key .*did you mean latent" -- "$AETRAIN" --config "$VAE" --set model.laten=2
printf '{"model": {"type": "vae"}, "data": {"train": "x"}, "trian": {}}\n' >typo.json
expect 2 "typo.json: trian: unknown key" -- "$AETRAIN" --config typo.json
expect 2 "model.encoder\[1\]: expected a positive integer, got -3" -- "$AETRAIN" --config "$VAE" --set 'model.encoder=[400,-3]'
expect 2 "train.lr" -- "$AETRAIN" --config "$VAE" --set train.lr=-1
expect 2 "model.activation" -- "$AETRAIN" --config "$VAE" --set model.activation=\"relux\"
expect 2 "train.epochs" -- "$AETRAIN" --config "$VAE" --set train.epochs=2.5
expect 2 "needs a value" -- "$AETRAIN" --config
expect 2 "--epochs: expected an integer" -- "$AETRAIN" --config "$VAE" --epochs many
expect 2 "--config SPEC.json is required" -- "$AETRAIN"
# bernoulli needs [0, 1]: standardized data is refused before training
expect 2 "needs values in \[0, 1\]" -- "$AETRAIN" --config "$VAE" "${small[@]}" --set data.scale=\"standardize\" --out std

# --- data files ---
errors_section "Data files"
expect 2 "missing.gz: cannot open" -- "$AETRAIN" --config "$VAE" "${small[@]}" --set data.train=\"missing.gz\" --out x
printf 'GARBAGE!GARBAGE!' >garbage.idx
expect 2 "garbage.idx: not an IDX file" -- "$AETRAIN" --config "$VAE" "${small[@]}" --set data.train=\"garbage.idx\" --out x
: >empty.idx
expect 2 "empty.idx: .*empty" -- "$AETRAIN" --config "$VAE" "${small[@]}" --set data.train=\"empty.idx\" --out x
head -c 100000 "$MNIST/train-images-idx3-ubyte.gz" >truncated.gz
expect 2 "truncated.gz" -- "$AETRAIN" --config "$VAE" "${small[@]}" --set data.train=\"truncated.gz\" --out x
# an IDX header that claims more than the file holds
{ gzip -dc "$MNIST/t10k-images-idx3-ubyte.gz" || true; } | head -c 5000 >short.idx
expect 2 "short.idx: .*(bytes|truncated)" -- "$AETRAIN" --config "$VAE" "${small[@]}" --set data.train=\"short.idx\" --out x
# dims whose product overflows
printf '\x00\x00\x08\x04\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff' >huge.idx
expect 2 "huge.idx" -- "$AETRAIN" --config "$VAE" "${small[@]}" --set data.train=\"huge.idx\" --out x
# the cap on a single allocation (16 GiB by default), lowered through AE_MAX_ALLOC
expect 1 "train-images-idx3-ubyte.gz: .*cap of 1000000 bytes \(set AE_MAX_ALLOC to raise it\)" -- \
    env AE_MAX_ALLOC=1000000 "$AETRAIN" --config "$VAE" "${small[@]}" --out x
# images and labels of different counts
expect 2 "10000 examples|has 60000 labels" -- "$AEENCODE" --model "$MODEL" --data "$MNIST/t10k-images-idx3-ubyte.gz" --labels "$MNIST/train-labels-idx1-ubyte.gz"
# CSV: ragged row, non-numeric cell, NaN cell
printf 'a,b,c\n1,2,3\n4,5\n' >ragged.csv
expect 2 "ragged.csv.*line 3" -- "$AEENCODE" --model "$MODEL" --data ragged.csv
printf '1,2,3\n4,x,6\n' >word.csv
expect 2 "word.csv.*line 2" -- "$AEENCODE" --model "$MODEL" --data word.csv
printf '1,2,3\n4,nan,6\n' >nan.csv
expect 2 "nan.csv.*line 2" -- "$AEENCODE" --model "$MODEL" --data nan.csv
: >empty.csv
expect 2 "empty.csv" -- "$AEENCODE" --model "$MODEL" --data empty.csv
# data whose width differs from the model's input
printf '1,2,3\n4,5,6\n' >narrow.csv
expect 2 "narrow.csv: examples have 3 features, but the model .* takes 784" -- "$AEENCODE" --model "$MODEL" --data narrow.csv

# --- checkpoints ---
errors_section "Checkpoints and models"
head -c 5000 "$MODEL" >truncated.safetensors
expect 2 "truncated.safetensors" -- "$AEENCODE" --model truncated.safetensors --data narrow.csv
cp "$MODEL" flipped.safetensors
size=$(stat -c %s flipped.safetensors)
printf '\x42' | dd of=flipped.safetensors bs=1 seek=$((size - 1000)) conv=notrunc status=none
expect 2 "flipped.safetensors: CRC32 mismatch" -- "$AESAMPLE" --model flipped.safetensors
expect 2 "nothere.safetensors" -- "$AESAMPLE" --model nothere.safetensors
expect 2 "not.*safetensors|header" -- "$AESAMPLE" --model "$MNIST/t10k-labels-idx1-ubyte.gz"
expect 2 "different architecture" -- "$AETRAIN" --resume good/checkpoint.safetensors --set 'model.encoder=[300]' --out arch
# codes of the wrong width for --from-codes
printf 'z0,z1\n0.1,0.2\n' >codes2.csv
expect 2 "codes2.csv: the header has no column z2" -- "$AESAMPLE" --model "$MODEL" --from-codes codes2.csv

# --- outputs ---
errors_section "Output files and options"
echo "a file, not a folder" >blocker
expect 2 "blocker" -- "$AETRAIN" --config "$VAE" "${small[@]}" --out blocker/run
# a failing run never replaces a good output file
echo keep >latents.csv
expect 2 "narrow.csv" -- "$AEENCODE" --model "$MODEL" --data narrow.csv --out latents.csv
[ "$(cat latents.csv)" = keep ] && ok || fail "latents.csv was replaced by a failed run"
[ -z "$(find . -name '*.tmp.*')" ] && ok || fail "temporary files left behind: $(find . -name '*.tmp.*')"
expect 2 "--format: expected csv or npy" -- "$AEENCODE" --model "$MODEL" --data narrow.csv --format xml

# --- aeconvert: a failed conversion writes nothing ---
errors_section "Converting data (aeconvert)"
AECONVERT=$AE_BUILD/aeconvert
expect 2 "missing.csv: cannot open" -- "$AECONVERT" missing.csv --out conv.idx
printf 'a,b\n1,2\n3,x\n' >conv-bad.csv
expect 2 "conv-bad.csv: line 3, column 2 \\('b'\\): cannot parse 'x' as a number" -- \
    "$AECONVERT" conv-bad.csv --out conv.idx
expect 2 "needs labels: give --labels FILE, or --label-column C" -- \
    "$AECONVERT" conv-bad.csv --out conv.idx --labels-out conv-labels.idx
expect 2 "--scale: expected unit or standardize, got 'minmax'" -- \
    "$AECONVERT" conv-bad.csv --out conv.idx --scale minmax
expect 2 "is the input file" -- "$AECONVERT" conv-bad.csv --out conv-bad.csv
# labels that do not match: neither output file is written
printf 'a,b\n1,2\n3,4\n' >conv-ok.csv
printf '7\n8\n9\n' >conv-3labels.csv
expect 2 "conv-3labels.csv: labels file has 3 labels, data has 2 examples" -- \
    "$AECONVERT" conv-ok.csv --out conv.idx --labels conv-3labels.csv --labels-out conv-labels.idx
[ ! -e conv-labels.idx ] && ok || fail "a failed conversion left conv-labels.idx"
[ ! -e conv.idx ] && ok || fail "a failed conversion left conv.idx"

# --- divergence: a huge learning rate stops with the epoch and batch named ---
errors_section "Training that diverges"
cp good/checkpoint.safetensors before.safetensors
expect 1 "diverged: the loss became (NaN|infinite) at epoch 2, batch [0-9]+" -- \
    "$AETRAIN" --resume good/checkpoint.safetensors --set train.lr=1e30 --epochs 3
cmp -s before.safetensors good/checkpoint.safetensors && ok || fail "divergence touched the last good checkpoint"
# train.lr=100 keeps the loss finite but makes it explode: also divergence
expect 1 "diverged: the loss became [0-9.e+]+, over 10000 times the first batch's [0-9.]+ at epoch 2, batch [0-9]+ of [0-9]+ \(train.lr=100\); the last checkpoint is intact" -- \
    "$AETRAIN" --resume good/checkpoint.safetensors --set train.lr=100 --epochs 3
cmp -s before.safetensors good/checkpoint.safetensors && ok || fail "divergence (lr 100) touched the last good checkpoint"
expect 1 "diverged: .* at epoch 1, batch [0-9]+ .*no checkpoint was written" -- \
    "$AETRAIN" --config "$VAE" "${small[@]}" --set train.lr=100 --out lr100

finish
