#!/usr/bin/env bash
# Tabular data: a CSV with a header and a label column, standardized features
# and a Gaussian likelihood, trained, encoded and sampled end to end.
source "$(dirname "$0")/lib.sh"

# 600 rows of 12 features on two clusters, label in the middle column "cls".
awk 'BEGIN {
    srand(7);
    printf "f0,f1,f2,f3,f4,f5,cls,f6,f7,f8,f9,f10,f11\n";
    for (i = 0; i < 600; i++) {
        c = i % 2; line = "";
        for (j = 0; j < 12; j++) {
            v = 100 * c + 10 * j + 5 * (rand() - 0.5);
            line = line (j ? "," : "") sprintf("%.4f", v);
            if (j == 5) line = line "," c;
        }
        print line;
    }
}' >table.csv
head -401 table.csv >train.csv
{ head -1 table.csv; tail -200 table.csv; } >test.csv

cat >tab.json <<JSON
{
  "model": {"type": "vae", "encoder": [32], "latent": 2, "activation": "tanh",
            "likelihood": "gaussian"},
  "data": {"train": "train.csv", "test": "test.csv", "scale": "standardize",
           "csv": {"label_column": "cls"}},
  "train": {"epochs": 30, "batch_size": 50, "lr": 0.003, "seed": 4}
}
JSON
"$AETRAIN" --config tab.json --quiet || fail "training on CSV"
assert_file runs/tab/model.safetensors
# 12 features (the label column excluded): the first weight is [32 x 12]
grep -q '"init"' runs/tab/config.json && ok || fail "config.json lacks model.init"
[ "$(wc -l <runs/tab/metrics.csv)" -eq 31 ] && ok || fail "30 epochs of metrics"
# Gaussian loss in nats includes 0.5*log(2*pi) per feature: finite, and it falls
awk -F, 'NR == 2 { a = $2 } END { exit !($2 < a) }' runs/tab/metrics.csv && ok || fail "loss did not fall"
# a 1 x 12 strip picture for data that is not square
[ "$(png_size runs/tab/recon.png)" = "105 17" ] && ok || fail "recon.png of a strip: $(png_size runs/tab/recon.png)"

# encoding uses the stored standardization and the label column
"$AEENCODE" --model runs/tab/model.safetensors --data test.csv --out codes.csv || fail "aeencode CSV"
[ "$(head -1 codes.csv)" = "index,label,z0,z1" ] && ok || fail "header $(head -1 codes.csv)"
[ "$(wc -l <codes.csv)" -eq 201 ] && ok || fail "rows"
# the two clusters separate along the code: mean z0 differs clearly between labels
awk -F, 'NR > 1 { s[$2] += $3; n[$2]++ }
    END { d = s[0] / n[0] - s[1] / n[1]; if (d < 0) d = -d; exit !(d > 1.0) }' codes.csv && ok \
    || fail "the clusters are not separated in the codes"
# decoded samples come back in the data's units (features around 0..210)
"$AESAMPLE" --model runs/tab/model.safetensors --n 20 --csv samples.csv --out s.png || fail "aesample"
awk -F, 'NR > 1 { for (i = 1; i <= NF; i++) if ($i < -60 || $i > 280) exit 1 } END { exit NF != 12 }' \
    samples.csv && ok || fail "samples not in data units: $(sed -n 2p samples.csv)"

# a width mismatch between train and test files is refused
cut -d, -f1-12 test.csv >narrow_test.csv
expect 2 "narrow_test.csv: test examples have 11 features but the training data" -- \
    "$AETRAIN" --config tab.json --set data.test=\"narrow_test.csv\" --out x
# a label column that is not there
expect 2 "klass" -- "$AETRAIN" --config tab.json --set data.csv.label_column=\"klass\" --out x

finish
