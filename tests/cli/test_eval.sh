#!/usr/bin/env bash
# aeeval end to end: a small VAE, AE and CVAE trained on an MNIST subset,
# then every figure, the table, anomaly scores and bad inputs.
source "$(dirname "$0")/lib.sh"
need_mnist
AEEVAL=$AE_BUILD/aeeval

small=("${MNIST_SET[@]}" --set data.train_limit=3000 --set data.test_limit=300 --set train.batch_size=50
       --set output.images=false --threads 1 --quiet)
TEST_X=$MNIST/t10k-images-idx3-ubyte.gz
TEST_Y=$MNIST/t10k-labels-idx1-ubyte.gz
"$AETRAIN" --config "$AE_SOURCE/configs/vae.json" "${small[@]}" --epochs 2 --out vae \
    || fail "aetrain vae exited $?"

# --- JSON: every figure present and finite ---
"$AEEVAL" --model vae/model.safetensors --data "$TEST_X" --labels "$TEST_Y" --limit 2000 \
    --iw 20 --json --threads 1 >eval.json 2>eval.err || fail "aeeval --json: $(cat eval.err)"
[ ! -s eval.err ] && ok || fail "aeeval printed to stderr: $(cat eval.err)"
"$PY" - eval.json <<'PY' && ok || fail "eval.json: see above"
import json, math, sys
d = json.load(open(sys.argv[1]))
names = ["neg_elbo", "neg_elbo_mu", "recon", "recon_mu", "kl", "iwae_nll", "active_units",
         "sse", "bce", "probe_accuracy", "kmeans_purity", "kmeans_nmi", "pca_recon"]
bad = [n for n in names if not isinstance(d.get(n), (int, float)) or not math.isfinite(d[n])]
assert not bad, "missing or not finite: %s" % bad
kl = d["kl_per_dim"]
assert len(kl) == 20 and all(math.isfinite(v) and v >= 0 for v in kl), kl
assert abs(sum(kl) - d["kl"]) < 1e-3 * d["kl"], (sum(kl), d["kl"])
assert abs(d["neg_elbo"] - d["recon"] - d["kl"]) < 1e-6 * d["neg_elbo"]
assert 100 < d["neg_elbo"] < 400 and 100 < d["neg_elbo_mu"] < 400, d
# K = 20 importance samples tighten the one-sample bound
assert d["iwae_nll"] < d["neg_elbo"], (d["iwae_nll"], d["neg_elbo"])
assert 0 <= d["active_units"] <= 20 and d["examples"] == 2000 and d["classes"] == 10
assert d["probe_train"] == 1600 and d["probe_test"] == 400
assert 0.6 < d["probe_accuracy"] <= 1, d["probe_accuracy"]
assert 0.1 < d["kmeans_purity"] <= 1 and 0 < d["kmeans_nmi"] <= 1
assert d["pca_components"] == 20 and 0 < d["pca_variance_kept"] < 1
assert 0 < d["sse"] < 784 and 0 < d["pca_recon"] < 784
PY
# the same seed gives the same figures; another seed other samples
"$AEEVAL" --model vae/model.safetensors --data "$TEST_X" --labels "$TEST_Y" --limit 2000 \
    --iw 20 --json --threads 1 >again.json
cmp -s <(grep -v seconds eval.json) <(grep -v seconds again.json) && ok || fail "not repeatable"
"$AEEVAL" --model vae/model.safetensors --data "$TEST_X" --limit 500 --iw 0 --json --seed 2 \
    >seed2.json || fail "--seed 2"
"$PY" - seed2.json <<'PY' && ok || fail "--iw 0 / no labels: $(cat seed2.json)"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["iwae_nll"] is None and d["probe_accuracy"] is None and d["kmeans_nmi"] is None
assert d["classes"] is None and d["neg_elbo"] > 0 and d["seed"] == 2
PY

# --- the table ---
"$AEEVAL" --model vae/model.safetensors --data "$TEST_X" --labels "$TEST_Y" --limit 1000 --iw 5 \
    >table.txt || fail "table mode"
for pat in '^negative ELBO, z ~ q\(z\|x\) +[0-9]+\.[0-9]{4}$' '^IWAE bound on -log p\(x\), K = 5 +[0-9.]+$' \
           '^active units +[0-9]+  of 20' '^  model: squared error +[0-9.]+$' \
           '^  PCA, 20 components: squared error +[0-9.]+  \(keeps' \
           '^linear probe accuracy +0\.[0-9]{4}  \(trained on the first 800, tested on the last 200\)$' \
           '^k-means purity, k = 10 +0\.[0-9]+$' '^k-means NMI'; do
    grep -Eq -- "$pat" table.txt && ok || fail "table lacks /$pat/: $(cat table.txt)"
done
# the figures end in one column
[ "$(awk 'match($0, / [0-9]+\.[0-9][0-9][0-9][0-9]/) { print RSTART + RLENGTH }' table.txt | sort -u | wc -l)" -eq 1 ] \
    && ok || fail "table columns do not line up: $(cat table.txt)"

# --- anomaly scores ---
"$AEEVAL" --model vae/model.safetensors --data "$TEST_X" --labels "$TEST_Y" --limit 300 --iw 3 \
    --scores scores.csv >/dev/null || fail "--scores"
[ "$(head -1 scores.csv)" = "index,label,recon_error,neg_elbo,iwae_nll,neg_elbo_ic,iwae_nll_ic,maha,zerr,complexity,score,is_anomaly" ] \
    && ok || fail "scores header $(head -1 scores.csv)"
[ "$(wc -l <scores.csv)" -eq 301 ] && ok || fail "scores rows $(wc -l <scores.csv)"
[ "$(sed -n 2p scores.csv | cut -d, -f1,2)" = "0,7" ] && ok || fail "first score row should be index 0, label 7"
awk -F, 'NR > 1 && (NF != 12 || $1 != NR - 2 || !($3 > 0) || !($4 > 0) || !($5 > 0)) { exit 1 }' scores.csv \
    && ok || fail "scores.csv rows malformed"
"$AEEVAL" --model vae/model.safetensors --data "$TEST_X" --limit 50 --iw 0 --scores nolab.csv >/dev/null
[ "$(head -1 nolab.csv)" = "index,recon_error,neg_elbo,neg_elbo_ic,maha,zerr,complexity,score,is_anomaly" ] && ok || fail "unlabelled scores header $(head -1 nolab.csv)"

# --- probe and PCA on other files (CSV written here, with a CSV label file) ---
"$PY" - "$MNIST" <<'PY'
import gzip, struct, sys
d = sys.argv[1]
img = gzip.open(d + "/train-images-idx3-ubyte.gz").read()[16:]
lab = gzip.open(d + "/train-labels-idx1-ubyte.gz").read()[8:]
with open("probe.csv", "w") as f, open("probe_labels.csv", "w") as g:
    g.write("label\n")
    for i in range(1000):
        f.write(",".join(str(b) for b in img[i * 784:(i + 1) * 784]) + "\n")
        g.write("%d\n" % lab[i])
with open("narrow.csv", "w") as f:
    for i in range(20):
        f.write(",".join(str(b) for b in img[i * 784:i * 784 + 5]) + "\n")
with open("few_labels.csv", "w") as f:
    f.write("".join("%d\n" % lab[i] for i in range(10)))
PY
"$AEEVAL" --model vae/model.safetensors --data "$TEST_X" --labels "$TEST_Y" --limit 500 --iw 0 --json \
    --probe-train probe.csv --probe-labels probe_labels.csv --pca-train probe.csv >other.json \
    || fail "--probe-train/--pca-train"
"$PY" - other.json <<'PY' && ok || fail "other.json: $(cat other.json)"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["probe_train"] == 1000 and d["probe_test"] == 500 and 0.6 < d["probe_accuracy"] <= 1, d
assert d["pca_fit"] == "probe.csv" and d["pca_recon"] > 0
PY

# --- bad input: exit 2 and a message naming the file ---
expect 2 "nope\.gz" -- "$AEEVAL" --model vae/model.safetensors --data nope.gz
expect 2 "nope\.safetensors" -- "$AEEVAL" --model nope.safetensors --data "$TEST_X"
expect 2 "narrow\.csv.*5 features.*784" -- "$AEEVAL" --model vae/model.safetensors --data narrow.csv
expect 2 "narrow\.csv.*5 features" -- "$AEEVAL" --model vae/model.safetensors --data "$TEST_X" --limit 10 \
    --pca-train narrow.csv
expect 2 "few_labels\.csv" -- "$AEEVAL" --model vae/model.safetensors --data "$TEST_X" --labels few_labels.csv
expect 2 "--probe-train probe\.csv has no labels" -- "$AEEVAL" --model vae/model.safetensors \
    --data "$TEST_X" --labels "$TEST_Y" --probe-train probe.csv
expect 2 "--probe-labels needs --probe-train" -- "$AEEVAL" --model vae/model.safetensors --data "$TEST_X" \
    --probe-labels probe_labels.csv
expect 2 "--iw: expected an integer" -- "$AEEVAL" --model vae/model.safetensors --data "$TEST_X" --iw -1
expect 2 "--model and --data are required" -- "$AEEVAL" --data "$TEST_X"
expect 2 "unknown option '--bogus'" -- "$AEEVAL" --bogus
mkdir -p ro && chmod a-w ro
if [ ! -w ro ]; then
    expect 2 "ro/" -- "$AEEVAL" --model vae/model.safetensors --data "$TEST_X" --limit 10 --iw 0 \
        --scores ro/s.csv
fi
chmod u+w ro
"$AEEVAL" --help | grep -q '^usage: aeeval' && ok || fail "--help"
"$AEEVAL" --version | grep -Eq '^aeeval [0-9]+\.[0-9]+' && ok || fail "--version"

# --- a plain autoencoder: no ELBO, no IWAE ---
"$AETRAIN" --config "$AE_SOURCE/configs/ae.json" "${small[@]}" --epochs 1 --out ae || fail "ae training"
"$AEEVAL" --model ae/model.safetensors --data "$TEST_X" --labels "$TEST_Y" --limit 1000 --json \
    --scores ae_scores.csv >ae.json || fail "aeeval on an ae"
"$PY" - ae.json <<'PY' && ok || fail "ae.json: $(cat ae.json)"
import json, math, sys
d = json.load(open(sys.argv[1]))
for n in ["neg_elbo", "neg_elbo_mu", "kl", "iwae_nll", "active_units", "kl_per_dim"]:
    assert n in d and d[n] is None, n
for n in ["recon", "sse", "bce", "pca_recon", "probe_accuracy", "kmeans_purity", "kmeans_nmi"]:
    assert math.isfinite(d[n]), n
assert d["model_type"] == "ae" and len(d["code_variance"]) == 20
PY
[ "$(head -1 ae_scores.csv)" = "index,label,recon_error,maha,zerr,complexity,score,is_anomaly" ] && ok || fail "ae scores header $(head -1 ae_scores.csv)"
"$AEEVAL" --model ae/model.safetensors --data "$TEST_X" --limit 200 >ae_table.txt
grep -Eq '^negative ELBO, z ~ q\(z\|x\) +n/a$' ae_table.txt && grep -Eq '^IWAE bound .* +n/a$' ae_table.txt \
    && ok || fail "ae table: $(cat ae_table.txt)"

# --- a conditional VAE needs labels ---
"$AETRAIN" --config "$AE_SOURCE/configs/vae.json" "${small[@]}" --set model.type=cvae --set model.classes=10 \
    --epochs 1 --out cvae || fail "cvae training"
expect 2 "conditional VAE.*--labels FILE" -- "$AEEVAL" --model cvae/model.safetensors --data "$TEST_X" --limit 100
"$AEEVAL" --model cvae/model.safetensors --data "$TEST_X" --labels "$TEST_Y" --limit 300 --iw 5 --json \
    >cvae.json && "$PY" -c 'import json,sys,math; d=json.load(open(sys.argv[1])); assert math.isfinite(d["iwae_nll"]) and d["iwae_nll"] < d["neg_elbo"] + 5' cvae.json \
    && ok || fail "cvae evaluation: $(cat cvae.json)"

finish
