#!/usr/bin/env bash
# The model family: every shipped spec in configs/ trains for one epoch on a
# few hundred MNIST examples, then the family's program features (cvae
# classes, hvae prior sampling, tied checkpoints, pretraining progress) and
# the combinations the spec refuses.
source "$(dirname "$0")/lib.sh"
need_mnist

# The specs name data/mnist/*.gz relative to the working folder; giving them
# that folder here (instead of overriding data.*) runs them exactly as shipped.
mkdir -p data
ln -s "$MNIST" data/mnist
tiny=(--set data.train_limit=300 --set data.test_limit=100 --set train.batch_size=50 --epochs 1)

# The value of a key path in a spec, or the default when absent.
spec_get() {
    "$PY" - "$@" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    d = d.get(k) if isinstance(d, dict) else None
print(sys.argv[3] if d is None else d)
PY
}

# A finite decimal as aetrain prints them with %.6f (nan, inf fail).
NUM='^-?[0-9]+\.[0-9]+$'

# --- every spec trains as shipped ---
n_specs=0
for spec in "$AE_SOURCE"/configs/*.json; do
    name=$(basename "$spec" .json)
    n_specs=$((n_specs + 1))
    # the classifier starts from a pretrained model: after the loop
    [ "$name" = classifier ] && continue
    extra=()
    # pretraining on: one epoch per stage (train.pretrain.epochs, a nested key)
    [ "$(spec_get "$spec" train.pretrain.epochs 0)" -gt 0 ] && extra=(--set train.pretrain.epochs=1)
    # the stacked run keeps its progress lines, which are checked below
    [ "$name" = stacked-pretrain ] || extra+=(--quiet)
    rc=0
    "$AETRAIN" --config "$spec" "${tiny[@]}" "${extra[@]}" --out "$name" 2>"$name.log" || rc=$?
    if [ "$rc" -ne 0 ]; then
        fail "$name: aetrain exited $rc: $(cat "$name.log")"
        continue
    fi
    ok
    assert_file "$name/model.safetensors"
    assert_file "$name/metrics.csv"
    # one row; the losses and their terms finite (train_loss..test_loss_mu,
    # train_reg..test_kl_z2), the reconstruction positive
    awk -F, -v num="$NUM" 'NR == 2 { rows++; for (i = 2; i <= 15; i++) if (i < 5 || i > 7) if ($i !~ num) bad = 1
                                     if (!($3 > 0)) bad = 1 }
                           NR > 2 { bad = 1 } END { exit bad || rows != 1 }' "$name/metrics.csv" \
        && ok || fail "$name: metrics.csv: $(cat "$name/metrics.csv")"
    # the terms each model has, and only those: KL for the variational ones,
    # a penalty for the regularised ones, a z2 KL for the hvae
    type=$(spec_get "$spec" model.type vae)
    sparsity=$(spec_get "$spec" model.sparsity.type none)
    contractive=$(spec_get "$spec" model.contractive 0)
    regularised=$(awk -v s="$sparsity" -v c="$contractive" 'BEGIN { print (s == "l1" || s == "kl" || c > 0) ? 1 : 0 }')
    awk -F, -v t="$type" -v reg="$regularised" 'NR == 2 {
            kl = ($4 > 0) == (t != "ae"); pen = ($12 > 0) == (reg == 1); z2 = ($14 > 0) == (t == "hvae")
            exit !(kl && pen && z2) }' "$name/metrics.csv" \
        && ok || fail "$name ($type, regularised $regularised): unexpected loss terms: $(sed -n 2p "$name/metrics.csv")"
done
[ "$n_specs" -ge 15 ] && ok || fail "only $n_specs specs in configs/"

# --- the classifier, from the denoising autoencoder trained above: its
# cross-entropy in the recon column, no KL or penalty, accuracies in [0, 1] ---
"$AETRAIN" --config "$AE_SOURCE/configs/classifier.json" "${tiny[@]}" --quiet \
    --set model.init_from=dae-masking/model.safetensors --out classifier 2>classifier.log \
    && ok || fail "classifier: $(cat classifier.log)"
awk -F, -v num="$NUM" 'NR == 2 { rows++; if ($3 !~ num || !($3 > 0) || $4 != 0 || $12 != 0) bad = 1
                                 if (!($19 >= 0 && $19 <= 1 && $20 >= 0 && $20 <= 1)) bad = 1 }
                       END { exit bad || rows != 1 }' classifier/metrics.csv \
    && ok || fail "classifier: metrics.csv: $(cat classifier/metrics.csv)"

# --- stacked-pretrain: one progress line per stage and epoch ---
for s in "1/3 \(784 -> 500\)" "2/3 \(500 -> 250\)" "3/3 \(250 -> 30\)"; do
    grep -Eq "^pretrain stage $s  epoch 1/1  loss [0-9]" stacked-pretrain.log && ok \
        || fail "no 'pretrain stage $s' line: $(cat stacked-pretrain.log)"
done
# and they come before the first training epoch
awk '/^pretrain stage 3\/3/ { p = NR } /^epoch 1\/1/ { e = NR } END { exit !(p && e && p < e) }' \
    stacked-pretrain.log && ok || fail "pretraining is not before epoch 1: $(cat stacked-pretrain.log)"

# --- cvae: one class, or every class as a row ---
CVAE=cvae/model.safetensors
"$AESAMPLE" --model "$CVAE" --class 3 --n 4 --out c3.png || fail "aesample --class 3"
[ "$(png_size c3.png)" = "59 59" ] && ok || fail "--class 3 --n 4: $(png_size c3.png), expected a 2x2 grid"
"$AESAMPLE" --model "$CVAE" --class all --n 4 --out call.png || fail "aesample --class all"
# 4 columns x 10 class rows of 28x28 tiles with 1-pixel borders
[ "$(png_size call.png)" = "117 291" ] && ok || fail "--class all --n 4: $(png_size call.png), expected 117 291"
"$AESAMPLE" --model "$CVAE" --n 4 --out cdefault.png || fail "aesample on a cvae without --class"
cmp -s call.png cdefault.png && ok || fail "--class all is not the default"
expect 2 "--class: expected an integer from 0 to 9, got '10'" -- "$AESAMPLE" --model "$CVAE" --class 10 --out x.png
expect 2 "--class is for conditional VAEs.*model.type vae" -- "$AESAMPLE" --model vae/model.safetensors --class 3 --out x.png
expect 2 "--class is for conditional VAEs.*model.type ae" -- "$AESAMPLE" --model ae/model.safetensors --class 0 --out x.png
# aeencode needs the labels
expect 2 "\(model.type cvae\), which needs a label for every example: --labels FILE" -- \
    "$AEENCODE" --model "$CVAE" --data "$MNIST/t10k-images-idx3-ubyte.gz" --out nolabels.csv
[ ! -e nolabels.csv ] && ok || fail "aeencode wrote a file after refusing"
"$AEENCODE" --model "$CVAE" --data "$MNIST/t10k-images-idx3-ubyte.gz" \
    --labels "$MNIST/t10k-labels-idx1-ubyte.gz" --out cz.csv || fail "aeencode on the cvae with --labels"
[ "$(head -1 cz.csv)" = "index,label,$(seq -s, -f 'z%g' 0 19)" ] && ok || fail "cvae codes header: $(head -1 cz.csv)"
[ "$(wc -l <cz.csv)" -eq 10001 ] && ok || fail "cvae codes rows: $(wc -l <cz.csv)"
# --sample draws from q(z|x) for a cvae too
"$AEENCODE" --model "$CVAE" --data "$MNIST/t10k-images-idx3-ubyte.gz" \
    --labels "$MNIST/t10k-labels-idx1-ubyte.gz" --sample --out czs.csv || fail "cvae --sample"
cmp -s cz.csv czs.csv && fail "cvae: --sample wrote the means" || ok
# a cvae's training data must have labels
expect 2 "data.train .*\(model.type cvae\), which needs a label for every example: set data.train_labels" -- \
    "$AETRAIN" --config "$AE_SOURCE/configs/cvae.json" "${tiny[@]}" --set data.train_labels= --out nolab --quiet

# --- hvae: prior samples go z2 -> p(z1|z2) -> decoder ---
HVAE=hvae/model.safetensors
"$AESAMPLE" --model "$HVAE" --n 16 --seed 2 --out h.png --csv h.csv || fail "aesample on the hvae"
[ "$(png_size h.png)" = "117 117" ] && ok || fail "hvae samples: $(png_size h.png)"
awk -F, 'NR > 1 { n++; for (i = 1; i <= NF; i++) if (!($i >= -0.001 && $i <= 255.001)) exit 1 }
         END { exit n != 16 || NF != 784 }' h.csv && ok || fail "hvae samples.csv: not 16 rows of 784 values in [0, 255]"
"$AESAMPLE" --model "$HVAE" --n 16 --seed 3 --out h3.png
cmp -s h.png h3.png && fail "hvae: two seeds gave the same samples" || ok
# codes are z1 (32 of them); --sample draws z1 from q(z1|x)
"$AEENCODE" --model "$HVAE" --data "$MNIST/t10k-images-idx3-ubyte.gz" --out hz.csv || fail "aeencode on the hvae"
[ "$(head -1 hz.csv)" = "index,$(seq -s, -f 'z%g' 0 31)" ] && ok || fail "hvae codes header: $(head -1 hz.csv)"
"$AEENCODE" --model "$HVAE" --data "$MNIST/t10k-images-idx3-ubyte.gz" --sample --out hzs.csv
cmp -s hz.csv hzs.csv && fail "hvae: --sample wrote the means" || ok
"$PY" "$AE_SOURCE/scripts/read_checkpoint.py" "$HVAE" >hvae.tensors || fail "read_checkpoint on the hvae"
for t in "encoder2.mu.weight F32 \[8, 256\]" "prior.0.weight F32 \[256, 8\]" "prior.logvar.weight F32 \[32, 256\]"; do
    grep -Eq "^$t$" hvae.tensors && ok || fail "hvae checkpoint lacks $t: $(cat hvae.tensors)"
done

# --- tied weights: the decoder stores biases only ---
for name in tied-ae sparse-topk; do
    "$PY" "$AE_SOURCE/scripts/read_checkpoint.py" "$name/model.safetensors" >"$name.tensors" \
        || fail "read_checkpoint on $name"
    grep -q '^decoder\.[0-9]*\.weight' "$name.tensors" && fail "$name: tied, but has decoder weights: $(cat "$name.tensors")" || ok
    grep -q '^decoder\.0\.bias' "$name.tensors" && ok || fail "$name: no decoder biases: $(cat "$name.tensors")"
done
"$PY" "$AE_SOURCE/scripts/read_checkpoint.py" vae/model.safetensors >vae.tensors
grep -q '^decoder\.0\.weight F32 \[400, 20\]' vae.tensors && ok || fail "an untied vae lacks decoder.0.weight"

# --- a k-sparse code has k nonzero units per example ---
"$AEENCODE" --model sparse-topk/model.safetensors --data "$MNIST/t10k-images-idx3-ubyte.gz" --out topk.csv
awk -F, 'NR > 1 { n = 0; for (i = 2; i <= NF; i++) n += ($i != 0); if (n != 25) exit 1 }' topk.csv \
    && ok || fail "sparse-topk codes do not have exactly 25 nonzero units"

# --- combinations the spec refuses, named by key (exit 2, before any data is read) ---
C=$AE_SOURCE/configs
expect 2 "sparse-l1.json: model.code_activation: only for model.type ae" -- \
    "$AETRAIN" --config "$C/sparse-l1.json" --set model.type=\"vae\" --out x
expect 2 "sparse-l1.json: model.sparsity: only for model.type ae \(this is vae\)" -- \
    "$AETRAIN" --config "$C/sparse-l1.json" --set model.type=\"vae\" --set model.code_activation=\"linear\" --out x
expect 2 "model.tied: needs a mirrored architecture" -- \
    "$AETRAIN" --config "$C/tied-ae.json" --set 'model.decoder=[300]' --out x
expect 2 "model.tied: is for model.type ae, vae or iwae \(this is cvae\)" -- \
    "$AETRAIN" --config "$C/cvae.json" --set model.tied=true --out x
expect 2 "model.sparsity: type kl needs .*sigmoid" -- \
    "$AETRAIN" --config "$C/sparse-kl.json" --set model.code_activation=\"relu\" --out x
expect 2 "model.sparsity.k: k = 300 is larger than model.latent = 256" -- \
    "$AETRAIN" --config "$C/sparse-topk.json" --set model.sparsity.k=300 --out x
expect 2 "model.contractive: does not combine with topk" -- \
    "$AETRAIN" --config "$C/sparse-topk.json" --set model.contractive=0.1 --out x
expect 2 "model.contractive: only for model.type ae" -- \
    "$AETRAIN" --config "$C/cae.json" --set model.type=\"vae\" --set model.code_activation=\"linear\" --out x
expect 2 "train.pretrain: greedy layer-wise pretraining is for model.type ae \(this is vae\)" -- \
    "$AETRAIN" --config "$C/vae.json" --set train.pretrain.epochs=1 --out x
expect 2 "train.pretrain: does not combine with model.tied" -- \
    "$AETRAIN" --config "$C/stacked-pretrain.json" --set model.tied=true --out x
expect 2 "train.pretrain: needs hidden layers and a mirrored architecture" -- \
    "$AETRAIN" --config "$C/stacked-pretrain.json" --set 'model.decoder=[250,400]' --out x
expect 2 "train.kl_capacity: needs a model with a KL term" -- \
    "$AETRAIN" --config "$C/ae.json" --set train.kl_capacity=5 --out x
expect 2 "model.latent: model.type hvae needs two sizes" -- \
    "$AETRAIN" --config "$C/hvae.json" --set model.latent=32 --out x
expect 2 "model.latent: \[z1, z2\] is for model.type hvae \(this is vae\)" -- \
    "$AETRAIN" --config "$C/vae.json" --set 'model.latent=[8,2]' --out x
expect 2 "model.classes: required for model.type cvae" -- \
    "$AETRAIN" --config "$C/cvae.json" --set model.classes=0 --out x
expect 2 "--set model.noise.type=\"gaussian\": model.noise.std: required for noise type gaussian" -- \
    "$AETRAIN" --config "$C/ae.json" --set model.noise.type=\"gaussian\" --out x
expect 2 "model.tied: does not combine with model.likelihood gaussian_learned" -- \
    "$AETRAIN" --config "$C/tied-ae.json" --set model.likelihood=\"gaussian_learned\" --out x
expect 2 "model.gaussian_std=0.5: only used by model.likelihood gaussian \(this is bernoulli\)" -- \
    "$AETRAIN" --config "$C/vae.json" --set model.gaussian_std=0.5 --out x
[ ! -e x ] && ok || fail "a refused spec left an output folder"

AEEVAL=$AE_BUILD/aeeval
# --- likelihoods beyond the shipped specs: each trains, evaluates and samples ---
for lik in gaussian:0.5 gaussian_learned continuous_bernoulli; do
    name=lik-${lik%%:*}
    set_lik=(--set model.likelihood=\"${lik%%:*}\")
    [ "${lik#*:}" != "$lik" ] && set_lik+=(--set model.gaussian_std=${lik#*:})
    case $lik in gaussian*) scale=standardize ;; *) scale=unit ;; esac
    "$AETRAIN" --config "$C/vae.json" "${tiny[@]}" "${set_lik[@]}" --set data.scale=\"$scale\" \
        --quiet --out "$name" 2>"$name.log" && ok || fail "$name: aetrain: $(cat "$name.log")"
    awk -F, -v num="$NUM" 'NR == 2 { for (i = 2; i <= 4; i++) if ($i !~ num) bad = 1 }
                           END { exit bad || NR != 2 }' "$name/metrics.csv" \
        && ok || fail "$name: metrics.csv: $(cat "$name/metrics.csv")"
    "$AEEVAL" --model "$name/model.safetensors" --data "$MNIST/t10k-images-idx3-ubyte.gz" \
        --limit 50 --iw 10 --json >"$name/eval.json" 2>"$name.eval.log" \
        && "$PY" -c "import json, math, sys; d = json.load(open(sys.argv[1])); \
assert d['likelihood'] == sys.argv[2]; assert math.isfinite(d['iwae_nll'])" \
            "$name/eval.json" "${lik%%:*}" \
        && ok || fail "$name: aeeval: $(cat "$name.eval.log")"
    "$AESAMPLE" --model "$name/model.safetensors" --n 16 --out "$name/s.png" \
        --csv "$name/s.csv" 2>"$name.s.log" && assert_file "$name/s.png" \
        && [ "$(head -1 "$name/s.csv" | tr ',' '\n' | wc -l)" -eq 784 ] \
        && ok || fail "$name: aesample: $(cat "$name.s.log")"
done
# the learned variance doubles the decoder's output layer: 784 means, 784 log-variances
"$PY" - lik-gaussian_learned/model.safetensors <<'PY' && ok || fail "gaussian_learned: decoder output shape"
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n, = struct.unpack("<Q", b[:8])
h = json.loads(b[8:8 + n])
assert json.loads(h["__metadata__"]["config"])["model"]["likelihood"] == "gaussian_learned"
outs = [v["shape"] for k, v in h.items() if k != "__metadata__" and v["shape"][0] == 2 * 784]
assert outs, sorted((k, v["shape"]) for k, v in h.items() if k != "__metadata__")
PY

finish
