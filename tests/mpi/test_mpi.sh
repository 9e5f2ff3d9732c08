#!/usr/bin/env bash
# Data-parallel aetrain (built with -DAE_MPI=ON): one process and two MPI
# ranks trained from the same seed on the same global batches give the same
# losses per epoch to within float summation tolerance, for every kind of
# random draw the training makes (dynamic binarisation, each noise type,
# reparameterisation of vae/cvae/hvae, contractive probes) and for fits split
# across ranks (standardize, validation split); checkpoints resume with any
# rank count; rank 0 alone reports; bad input stops every rank with one
# message.
source "$(dirname "$0")/../cli/lib.sh"
need_mnist
MPIRUN=(mpirun --oversubscribe --allow-run-as-root -np 2)
command -v mpirun >/dev/null || { echo "mpirun not found (scripts/deps.sh --mpi)" >&2; exit 1; }

# Relative tolerance on each epoch's losses.  The ranks sum their gradients
# in another order than one process's GEMM does, so the weights differ in
# the last bits (about 1e-7 relative per step) and the losses by less than
# this after a few hundred steps.
TOL=${AE_MPI_TOL:-2e-4}

SUBSET=(--set data.train_limit=2000 --set data.test_limit=500 --set train.batch_size=100
        --set output.images=false --epochs 2 --threads 1 --quiet)

# compare NAME DIR1 DIR2: every loss column of metrics.csv (2-16: train, val
# and test terms and beta; not the timings), every epoch
compare() {
    local name=$1 a=$2 b=$3
    if [ ! -s "$a/metrics.csv" ] || [ ! -s "$b/metrics.csv" ]; then
        fail "$name: metrics.csv missing"
        return
    fi
    local verdict
    verdict=$(paste -d, "$a/metrics.csv" "$b/metrics.csv" | awk -F, -v tol="$TOL" '
        NR == 1 { n = NF / 2; next }
        { for (c = 2; c <= 16; c++) {
              if ($c == "" && $(c + n) == "") continue
              d = $c - $(c + n); if (d < 0) d = -d
              s = $c < 0 ? -$c : $c; if (s < 1) s = 1
              if (d / s > worst) worst = d / s
          }
          rows++ }
        END { printf "%d %.3g %s\n", rows, worst, (worst <= tol && rows > 0) ? "ok" : "bad" }')
    echo "$name: epochs, worst relative difference: $verdict"
    [ "${verdict##* }" = ok ] && ok || fail "$name: 1 vs 2 ranks differ: $verdict (tolerance $TOL)"
}

# equiv NAME CONFIG [--set ...]: one process against two ranks
equiv() {
    local name=$1 cfg=$2
    shift 2
    "$AETRAIN" --config "$AE_SOURCE/configs/$cfg" "${MNIST_SET[@]}" "${SUBSET[@]}" "$@" \
        --out "$name-1" || { fail "$name: one process failed"; return; }
    "${MPIRUN[@]}" "$AETRAIN" --config "$AE_SOURCE/configs/$cfg" "${MNIST_SET[@]}" "${SUBSET[@]}" \
        "$@" --out "$name-2" || { fail "$name: two ranks failed"; return; }
    compare "$name" "$name-1" "$name-2"
}

equiv vae vae.json --set data.binarize=dynamic
equiv gaussian-std vae.json --set model.likelihood=gaussian --set data.scale=standardize \
    --set data.validation=0.1
equiv dae-gaussian dae-gaussian.json
equiv dae-masking dae-masking.json
equiv dae-saltpepper dae-saltpepper.json
equiv cvae cvae.json
# The hvae starts p(z1|z2)'s output layer at zero: its gradients begin as
# sums that nearly cancel, and Adam scales such noise-level gradients up to
# full-size steps, so summation-order differences grow faster (measured:
# 7.7e-4 after two epochs).  tests/test_layers.c (model_slices_add_up)
# checks the slices' gradients add up to the whole batch's to 1e-5 per step.
TOL=2e-3 equiv hvae hvae.json
equiv cae-deep cae.json --set 'model.encoder=[64]' --set model.code_activation=tanh
equiv sparse-l1 sparse-l1.json
equiv tied tied-ae.json
# a global batch that does not divide evenly, and a last batch smaller than that
equiv odd-batch vae.json --set train.batch_size=77

# The 2-rank run's files are complete and written once (rank 0).
for f in config.json metrics.csv checkpoint.safetensors model.safetensors; do
    [ -s vae-2/$f ] && ok || fail "two ranks: $f missing"
done
ls vae-2 | grep -q '\.tmp\.' && fail "two ranks left temporary files" || ok

# Checkpoints resume with any rank count: 1 epoch on two ranks, then the
# second epoch on one process (and the other way round) match two epochs.
"${MPIRUN[@]}" "$AETRAIN" --config "$AE_SOURCE/configs/vae.json" "${MNIST_SET[@]}" "${SUBSET[@]}" \
    --set data.binarize=dynamic --epochs 1 --out resume-a || fail "resume: first epoch failed"
"$AETRAIN" --resume resume-a/checkpoint.safetensors --epochs 2 --quiet --out resume-a \
    || fail "resume on one process failed"
compare resume-2to1 vae-1 resume-a
"$AETRAIN" --config "$AE_SOURCE/configs/vae.json" "${MNIST_SET[@]}" "${SUBSET[@]}" \
    --set data.binarize=dynamic --epochs 1 --out resume-b || fail "resume: first epoch failed"
"${MPIRUN[@]}" "$AETRAIN" --resume resume-b/checkpoint.safetensors --epochs 2 --quiet \
    --out resume-b || fail "resume on two ranks failed"
compare resume-1to2 vae-1 resume-b

# Rank 0 alone reports: one start line and one line per epoch.
"${MPIRUN[@]}" "$AETRAIN" --config "$AE_SOURCE/configs/vae.json" "${MNIST_SET[@]}" \
    --set data.train_limit=1000 --set data.test_limit=100 --set output.images=false \
    --epochs 2 --out talk 2>talk.err >/dev/null || fail "two ranks: run failed"
[ "$(grep -c '^epoch ' talk.err)" = 2 ] && ok || fail "two ranks: expected 2 epoch lines: $(cat talk.err)"
grep -q 'in each of 2 MPI ranks' talk.err && ok || fail "two ranks: start line does not say so"

# Bad input stops every rank with one message and exit 2.
rc=0
"${MPIRUN[@]}" "$AETRAIN" --config "$AE_SOURCE/configs/vae.json" --set data.train=missing.idx \
    --out bad 2>bad.err >/dev/null || rc=$?
[ "$rc" = 2 ] && ok || fail "missing data on two ranks: exit $rc, expected 2"
[ "$(grep -c 'missing.idx: cannot open' bad.err)" = 1 ] && ok \
    || fail "missing data on two ranks: expected one message: $(cat bad.err)"
rc=0
"${MPIRUN[@]}" "$AETRAIN" --config "$AE_SOURCE/configs/sparse-kl.json" "${MNIST_SET[@]}" \
    --out bad-kl 2>bad.err >/dev/null || rc=$?
[ "$rc" = 2 ] && grep -q 'cannot be split across 2 ranks' bad.err && ok \
    || fail "kl sparsity on two ranks: exit $rc: $(cat bad.err)"

echo "$CHECKS checks, $FAILS failures"
[ "$FAILS" -eq 0 ]
