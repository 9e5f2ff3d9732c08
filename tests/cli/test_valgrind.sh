#!/usr/bin/env bash
# A short training run, an encode, a sample, an evaluation and a few error
# exits under valgrind memcheck: no invalid access, no uninitialised use,
# no leak (definite, indirect or possible).
source "$(dirname "$0")/lib.sh"
need_mnist
if ! command -v valgrind >/dev/null 2>&1; then
    fail "valgrind is not installed (apt-get install valgrind)"
    finish
    exit 1
fi
export OPENBLAS_NUM_THREADS=1
# Our code on the OpenBLAS backend: oneDNN's JIT kernels read a vector past
# the end of oneDNN's own buffers and its OpenMP threads live until exit,
# which memcheck reports although neither is ours (the oneDNN backend's
# memory is checked by the AddressSanitizer build, scripts/test.sh --sanitize).
export AE_BACKEND=openblas
VG=(valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible
    --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 -q)

# expect_vg CODE -- command...: the command's own exit code, and none from valgrind (99)
expect_vg() {
    local want=$1 rc=0
    shift 2
    "${VG[@]}" "$@" >vg.out 2>vg.err || rc=$?
    if [ "$rc" -eq "$want" ]; then ok; else fail "exit $rc (want $want; 99 = memcheck): $* :: $(tail -20 vg.err)"; fi
}

expect_vg 0 -- "$AETRAIN" --config "$AE_SOURCE/configs/vae.json" "${MNIST_SET[@]}" \
    --set data.train_limit=100 --set data.test_limit=50 --set train.batch_size=50 \
    --epochs 1 --threads 1 --out run --quiet
expect_vg 0 -- "$AETRAIN" --resume run/checkpoint.safetensors --epochs 2 --set output.images=false --quiet
expect_vg 0 -- "$AEENCODE" --model run/model.safetensors --data "$MNIST/t10k-images-idx3-ubyte.gz" \
    --labels "$MNIST/t10k-labels-idx1-ubyte.gz" --out z.csv --plot z.svg
expect_vg 0 -- "$AESAMPLE" --model run/model.safetensors --n 16 --out s.png --csv s.csv
expect_vg 0 -- "$AE_BUILD/aeeval" --model run/model.safetensors --data "$MNIST/t10k-images-idx3-ubyte.gz" \
    --labels "$MNIST/t10k-labels-idx1-ubyte.gz" --limit 200 --iw 2 --json
# anomaly scores against 100 other images (the first 100 of the test set's second half)
"$PY" - "$MNIST/t10k-images-idx3-ubyte.gz" <<'PY'
import gzip, struct, sys
raw = gzip.open(sys.argv[1]).read()
open("fit.idx", "wb").write(raw[:4] + struct.pack(">III", 100, 28, 28) + raw[16 + 5000 * 784:16 + 5100 * 784])
PY
expect_vg 0 -- "$AE_BUILD/aeeval" --model run/model.safetensors --data "$MNIST/t10k-images-idx3-ubyte.gz" \
    --limit 100 --iw 2 --no-pca --score iwae-ic --fit-threshold fit.idx --scores sc.csv --per-feature pf.csv
# error exits free what they allocated too
expect_vg 2 -- "$AETRAIN" --config "$AE_SOURCE/configs/vae.json" --set model.laten=2
expect_vg 2 -- "$AETRAIN" --config "$AE_SOURCE/configs/vae.json" --set data.train=\"missing.gz\" --out x
expect_vg 2 -- "$AEENCODE" --model run/model.safetensors --data "$AE_SOURCE/configs/vae.json"
expect_vg 2 -- "$AESAMPLE" --model nothere.safetensors
expect_vg 2 -- "$AE_BUILD/aeeval" --model run/model.safetensors --data "$MNIST/t10k-images-idx3-ubyte.gz" \
    --limit 10 --fit-threshold missing.idx
finish
