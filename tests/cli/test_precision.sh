#!/usr/bin/env bash
# train.precision / --precision: the refusals name the key (OpenBLAS backend;
# a CPU without AVX-512, which DNNL_MAX_CPU_ISA=AVX2 makes of any CPU), and
# where bf16 runs: the start-up line and checkpoint say so, resume is bit
# for bit, aeencode follows the model's precision unless --precision says
# otherwise, and plain AVX-512 (DNNL_MAX_CPU_ISA=AVX512_CORE) is emulated
# and says so.
source "$(dirname "$0")/lib.sh"
need_mnist
AEEVAL=$AE_BUILD/aeeval

small=(--config "$AE_SOURCE/configs/vae.json" "${MNIST_SET[@]}"
       --set data.train_limit=1000 --set data.test_limit=200 --set train.batch_size=64
       --set output.images=false --threads 1)
T10K=$MNIST/t10k-images-idx3-ubyte.gz

errors_section "train.precision and --precision"
expect 2 "train.precision: bf16 needs the onednn backend" -- \
    "$AETRAIN" "${small[@]}" --set train.backend=openblas --precision bf16 --out ob
expect 2 "train.precision: bf16 needs (a CPU with AVX-512|the onednn backend)" -- \
    env DNNL_MAX_CPU_ISA=AVX2 "$AETRAIN" "${small[@]}" --precision bf16 --out avx2
expect 2 'train.precision="fp16": expected one of fp32, bf16' -- \
    "$AETRAIN" "${small[@]}" --precision fp16 --out bad
for d in ob avx2 bad; do [ ! -e $d ] && ok || fail "the refused run left its output folder $d: $(ls $d)"; done

"$AETRAIN" "${small[@]}" --epochs 1 --out fp32 --quiet || fail "fp32 run"
expect 2 "--precision: expected fp32, bf16 or model, not 'half'" -- \
    "$AEENCODE" --model fp32/model.safetensors --data "$T10K" --out c.npy --precision half

support=$("$AETRAIN" --version | sed -n 's/.*bf16 \([a-z]*\) .*/\1/p')
if [ "$support" = native ] || [ "$support" = emulated ]; then
    "$AETRAIN" "${small[@]}" --precision bf16 --epochs 2 --out run 2>two.log || fail "bf16 run: $(cat two.log)"
    mv run two
    grep -q ", bf16 ($support" two.log && ok || fail "start-up line: $(head -1 two.log)"
    grep -aq '"precision":"bf16' two/model.safetensors && ok || fail "checkpoint metadata lacks the precision"
    grep -Eq '"precision":[[:space:]]*"bf16"' two/config.json && ok || fail "config.json lacks train.precision"
    awk -F, 'NR > 1 && !($8 + 0 > 50 && $8 + 0 < 400) { bad = 1 } END { exit bad }' two/metrics.csv \
        && ok || fail "bf16 test losses: $(cat two/metrics.csv)"
    # resume within bf16: bit for bit
    "$AETRAIN" "${small[@]}" --precision bf16 --epochs 1 --out run --quiet || fail "bf16 1 epoch"
    "$AETRAIN" --resume run/checkpoint.safetensors --epochs 2 --quiet || fail "bf16 resume"
    cmp -s run/model.safetensors two/model.safetensors && ok || fail "bf16: 1 epoch + resume differs from 2"
    "$AETRAIN" "${small[@]}" --epochs 2 --out run --quiet || fail "fp32 2 epochs"
    cmp -s run/model.safetensors two/model.safetensors && fail "bf16 and fp32 gave the same model" || ok
    # the programs run the model's precision unless told otherwise
    "$AEENCODE" --model two/model.safetensors --data "$T10K" --out model.csv || fail "aeencode (model's precision)"
    "$AEENCODE" --model two/model.safetensors --data "$T10K" --out bf16.csv --precision bf16 || fail "aeencode --precision bf16"
    "$AEENCODE" --model two/model.safetensors --data "$T10K" --out f32.csv --precision fp32 || fail "aeencode --precision fp32"
    cmp -s model.csv bf16.csv && ok || fail "aeencode did not use the model's bf16"
    cmp -s model.csv f32.csv && fail "--precision fp32 made no difference" || ok
    "$PY" - model.csv f32.csv <<'PY' && ok || fail "bf16 and fp32 codes too far apart"
import csv, sys
a, b = ([[float(v) for v in r[1:]] for r in list(csv.reader(open(f)))[1:]] for f in sys.argv[1:])
worst = max(abs(x - y) for ra, rb in zip(a, b) for x, y in zip(ra, rb))
print(f"largest |z_bf16 - z_fp32| over the test set: {worst:.4f}")
sys.exit(0 if worst < 0.1 else 1)
PY
    "$AEEVAL" --model two/model.safetensors --data "$T10K" --limit 500 --no-pca --precision fp32 --json >/dev/null \
        && ok || fail "aeeval --precision fp32"
    # (not in docs/errors.md: this case only runs where bf16 does)
    AE_ERRORS_LOG='' expect 2 "the model's train.precision \(--precision fp32 overrides it\): bf16 needs a CPU with AVX-512" -- \
        env DNNL_MAX_CPU_ISA=AVX2 "$AEENCODE" --model two/model.safetensors --data "$T10K" --out c.npy
    env DNNL_MAX_CPU_ISA=AVX2 "$AEENCODE" --model two/model.safetensors --data "$T10K" --out c.npy --precision fp32 \
        && ok || fail "--precision fp32 must run a bf16 model without AVX-512"
    # plain AVX-512: emulated, and said so
    if [ "$(env DNNL_MAX_CPU_ISA=AVX512_CORE "$AETRAIN" --version | sed -n 's/.*bf16 \([a-z]*\) .*/\1/p')" = emulated ]; then
        env DNNL_MAX_CPU_ISA=AVX512_CORE "$AETRAIN" "${small[@]}" --set data.train_limit=200 --precision bf16 \
            --epochs 1 --out emu 2>emu.log || fail "emulated bf16: $(cat emu.log)"
        grep -q "bf16 (emulated on avx512_core" emu.log && ok || fail "emulation not reported: $(head -1 emu.log)"
    fi
else
    echo "bf16 runs skipped: $("$AETRAIN" --version)"
fi
finish
