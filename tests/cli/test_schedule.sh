#!/usr/bin/env bash
# Training as the papers do it, end to end: the learning rate of every
# schedule in metrics.csv (known values), set from the command line; early
# stopping stops, says so, and a resumed run stays stopped; keep_best's
# best.safetensors is the model of the best epoch; a run with a plateau
# schedule, early stopping and gradient clipping resumed from a checkpoint
# gives the same tensors as one never stopped; the refusals.
source "$(dirname "$0")/lib.sh"
need_mnist

base=(--config "$AE_SOURCE/configs/vae.json" "${MNIST_SET[@]}" --set data.train_limit=2000
      --set data.test_limit=300 --set output.images=false --threads 1 --quiet)

# lr: column `lr` of metrics.csv (the last column)
lrs() { "$PY" -c 'import csv,sys; r=list(csv.DictReader(open(sys.argv[1]))); print(" ".join("%.6g" % float(x["lr"]) for x in r))' "$1"; }

"$AETRAIN" "${base[@]}" --epochs 2 --out none || fail "train without a schedule"
[ "$(lrs none/metrics.csv)" = "0.001 0.001" ] && ok || fail "no schedule: lr $(lrs none/metrics.csv)"

# cosine, one warm-up epoch, 4 epochs: 1e-3 (warm-up 1/1), then
# 1e-3 (1 + cos(pi t / 3)) / 2 for t = 0, 1, 2
"$AETRAIN" "${base[@]}" --set train.lr_schedule.type=cosine --set train.lr_schedule.warmup_epochs=1 \
    --epochs 4 --out cosine || fail "train cosine"
[ "$(lrs cosine/metrics.csv)" = "0.001 0.001 0.00075 0.00025" ] && ok || fail "cosine: lr $(lrs cosine/metrics.csv)"
grep -q '"type":	"cosine"' cosine/config.json && grep -q '"warmup_epochs":	1' cosine/config.json && ok \
    || fail "cosine: resolved spec"

# step and burda
"$AETRAIN" "${base[@]}" --set 'train.lr_schedule={"type": "step", "step_epochs": 2, "gamma": 0.5}' \
    --epochs 5 --out step || fail "train step"
[ "$(lrs step/metrics.csv)" = "0.001 0.001 0.0005 0.0005 0.00025" ] && ok || fail "step: lr $(lrs step/metrics.csv)"
"$AETRAIN" "${base[@]}" --set train.lr_schedule.type=burda --epochs 5 --out burda || fail "train burda"
[ "$(lrs burda/metrics.csv)" = "0.001 0.000719686 0.000719686 0.000719686 0.000517947" ] && ok \
    || fail "burda: lr $(lrs burda/metrics.csv)"

# early stopping: no epoch improves by 1000 nats, so it stops after patience 1
val=(--set data.validation=0.1)
"$AETRAIN" "${base[@]}" "${val[@]}" --set train.early_stopping.patience=1 --set train.early_stopping.min_delta=1000 \
    --epochs 10 --out early --quiet 2>early.err || fail "train with early stopping"
[ "$(tail -n +2 early/metrics.csv | wc -l)" -eq 2 ] && [ -f early/model.safetensors ] && ok \
    || fail "early stopping: $(cat early/metrics.csv)"
"$AETRAIN" --config "$AE_SOURCE/configs/vae.json" "${MNIST_SET[@]}" --set data.train_limit=2000 --set data.test_limit=300 \
    --set output.images=false --threads 1 "${val[@]}" --set train.early_stopping.patience=1 \
    --set train.early_stopping.min_delta=1000 --epochs 10 --out early-talk 2>talk.err >/dev/null \
    || fail "train with early stopping (not quiet)"
grep -q "aetrain: early stopping after epoch 2: the validation loss has not improved by train.early_stopping.min_delta for 1 epochs" talk.err \
    && ok || fail "early stopping message: $(cat talk.err)"
# a resumed run that stopped early stays stopped
"$AETRAIN" --resume early/checkpoint.safetensors --epochs 20 --quiet --threads 1 || fail "resume a stopped run"
[ "$(tail -n +2 early/metrics.csv | wc -l)" -eq 2 ] && ok || fail "a stopped run trained on: $(cat early/metrics.csv)"

# keep_best: best.safetensors holds the model of the epoch with the lowest
# validation loss, the same tensors as a run trained for just that many epochs
"$AETRAIN" "${base[@]}" "${val[@]}" --set output.keep_best=true --set train.lr=0.004 --epochs 5 --out best \
    || fail "train keep_best"
best_epoch=$("$PY" -c 'import csv,sys; r=list(csv.DictReader(open(sys.argv[1]))); print(min(r, key=lambda x: float(x["val_loss"]))["epoch"])' best/metrics.csv)
"$AETRAIN" "${base[@]}" "${val[@]}" --set train.lr=0.004 --epochs "$best_epoch" --out upto || fail "train to the best epoch"
cat >tensors.py <<'PY'
import json, struct, sys
def data(p):
    b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]
    return json.loads(b[8:8 + n])["__metadata__"], b[8 + n:]
(ma, a), (mb, b) = data(sys.argv[1]), data(sys.argv[2])
sys.exit(0 if a == b and ma["epoch"] == mb["epoch"] else 1)
PY
"$PY" tensors.py best/best.safetensors upto/model.safetensors && ok \
    || fail "best.safetensors is not the model of epoch $best_epoch"

# resume: plateau + early stopping + clipping, 3 epochs then 3 more, against 6 in one go
sched=("${val[@]}" --set 'train.lr_schedule={"type": "plateau", "patience": 0, "factor": 0.5}'
       --set train.early_stopping.patience=4 --set train.clip_grad_norm=20 --set train.lr=0.003)
"$AETRAIN" "${base[@]}" "${sched[@]}" --epochs 6 --out whole || fail "train whole"
"$AETRAIN" "${base[@]}" "${sched[@]}" --epochs 3 --out parts || fail "train parts"
"$AETRAIN" --resume parts/checkpoint.safetensors --epochs 6 --quiet --threads 1 || fail "resume parts"
"$PY" tensors.py whole/model.safetensors parts/model.safetensors && ok || fail "resumed run differs"
cmp -s <(cut -d, -f1-4,19 whole/metrics.csv) <(cut -d, -f1-4,19 parts/metrics.csv) && ok \
    || fail "resumed metrics differ: $(diff <(cut -d, -f1-4,19 whole/metrics.csv) <(cut -d, -f1-4,19 parts/metrics.csv))"
# the plateau rule cuts the rate: with a rate too small to move the weights
# the validation loss is evaluation noise, and with patience 0 every epoch
# that is not a new low halves the rate
"$AETRAIN" "${base[@]}" "${val[@]}" --set train.optimizer=sgd --set train.momentum=0 --set train.lr=1e-30 \
    --set 'train.lr_schedule={"type": "plateau", "patience": 0, "factor": 0.5}' --epochs 8 --out flat \
    || fail "train flat"
"$PY" - flat/metrics.csv <<'PY' && ok || fail "plateau: $(lrs flat/metrics.csv)"
import csv, sys
r = list(csv.DictReader(open(sys.argv[1])))
lr, best = 1e-30, float("inf")
for row in r:  # the rate of each epoch follows from the losses before it
    assert abs(float(row["lr"]) - lr) <= 1e-6 * lr, (row["epoch"], row["lr"], lr)
    v = float(row["val_loss"])
    if v < best:
        best = v
    else:
        lr *= 0.5
assert lr < 1e-30  # some epoch was not a new low
PY

errors_section "schedules and early stopping"
expect 2 "train.lr_schedule: needs a validation loss to watch: set data.validation" -- \
    "$AETRAIN" "${base[@]}" --set train.lr_schedule.type=plateau --out refused
expect 2 "train.early_stopping: needs a validation loss to watch" -- \
    "$AETRAIN" "${base[@]}" --set train.early_stopping.patience=3 --out refused
expect 2 "output.keep_best: needs a validation loss to watch" -- \
    "$AETRAIN" "${base[@]}" --set output.keep_best=true --out refused
expect 2 "train.lr_schedule.gamma: not used by schedule type cosine" -- \
    "$AETRAIN" "${base[@]}" --set 'train.lr_schedule={"type": "cosine", "gamma": 0.5}' --out refused
expect 2 "train.lr_schedule.type=linear: expected one of none, step, cosine, plateau, burda" -- \
    "$AETRAIN" "${base[@]}" --set train.lr_schedule.type=linear --out refused
expect 2 "train.clip_grad_norm" -- "$AETRAIN" "${base[@]}" --set train.clip_grad_norm=-1 --out refused
[ ! -e refused ] && ok || fail "a refused run made its output folder"
finish
