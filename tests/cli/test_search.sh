#!/usr/bin/env bash
# aesearch end to end: the neighbours and distances agree with a brute-force
# numpy search over aeencode's codes (l2 and cosine), codes read back from
# .npy give the same answer, precision@k is what the labels say, the
# picture has a row per query; bad usage gets one clear message.
source "$(dirname "$0")/lib.sh"
need_mnist
AESEARCH=$AE_BUILD/aesearch
TRAIN=$MNIST/train-images-idx3-ubyte.gz
TRAINL=$MNIST/train-labels-idx1-ubyte.gz
T10K=$MNIST/t10k-images-idx3-ubyte.gz
T10KL=$MNIST/t10k-labels-idx1-ubyte.gz

"$AETRAIN" --config "$AE_SOURCE/configs/ae.json" "${MNIST_SET[@]}" --set data.train_limit=3000 \
    --set data.test_limit=300 --set output.images=false --epochs 1 --threads 1 --out ae --quiet || fail "train ae"
# an index of 5000 training images (more than one block of 4096) and 700 queries
"$AE_BUILD/aeconvert" "$TRAIN" --out idx5k.idx --labels "$TRAINL" --labels-out idx5k-labels.idx --limit 5000 \
    2>/dev/null || fail "aeconvert index"
"$AE_BUILD/aeconvert" "$T10K" --out q700.idx --labels "$T10KL" --labels-out q700-labels.idx --limit 700 \
    2>/dev/null || fail "aeconvert queries"
"$AEENCODE" --model ae/model.safetensors --data idx5k.idx --out icodes.npy || fail "encode index"
"$AEENCODE" --model ae/model.safetensors --data q700.idx --out qcodes.npy || fail "encode queries"

for metric in l2 cosine; do
    "$AESEARCH" --model ae/model.safetensors --index idx5k.idx --index-labels idx5k-labels.idx \
        --query q700.idx --query-labels q700-labels.idx --k 7 --metric $metric --out nn-$metric.csv 2>nn-$metric.log \
        || fail "aesearch $metric: $(cat nn-$metric.log)"
    "$PY" - $metric nn-$metric.csv nn-$metric.log <<'PY' && ok || fail "aesearch $metric differs from brute force"
import csv, re, sys
import numpy as np
metric, path, log = sys.argv[1:4]
def npy(p):
    return np.load(p).astype(np.float64)
def labels(p):
    return np.frombuffer(open(p, "rb").read()[8:], np.uint8)
x, q = npy("icodes.npy"), npy("qcodes.npy")
xl, ql = labels("idx5k-labels.idx"), labels("q700-labels.idx")
if metric == "l2":
    d = np.sqrt(np.maximum(((q[:, None, :] - x[None, :, :]) ** 2).sum(-1), 0))
else:
    d = 1 - (q @ x.T) / np.outer(np.linalg.norm(q, axis=1), np.linalg.norm(x, axis=1))
rows = list(csv.DictReader(open(path)))
assert list(rows[0]) == ["query", "rank", "index", "distance", "query_label", "index_label"], list(rows[0])
assert len(rows) == 700 * 7
bad = 0
for r in rows:
    qi, rank, ii, dist = int(r["query"]), int(r["rank"]), int(r["index"]), float(r["distance"])
    kth = np.sort(d[qi])[rank - 1]
    # the distance is the true one, and the rank-th smallest (ties within float rounding)
    if abs(dist - d[qi, ii]) > 1e-5 * (1 + abs(d[qi, ii])) or abs(dist - kth) > 1e-4 * (1 + kth):
        bad += 1
    assert int(r["query_label"]) == ql[qi] and int(r["index_label"]) == xl[ii]
hits = np.mean([xl[int(r["index"])] == ql[int(r["query"])] for r in rows])
p = float(re.search(r"precision@7 ([0-9.]+)", open(log).read()).group(1))
print(f"{metric}: {bad} of {len(rows)} neighbours off; precision@7 {p} (numpy {hits:.4f})")
sys.exit(0 if bad == 0 and abs(p - hits) < 1e-4 else 1)
PY
done
grep -Eq '^aesearch: 700 queries against 5000 examples, 20 values per code, k 7, l2: [0-9.]+ s \([0-9]+ queries/s\); precision@7 0\.[0-9]+$' nn-l2.log \
    && ok || fail "summary line: $(cat nn-l2.log)"
# codes from .npy: the same neighbours; no model needed
"$AESEARCH" --index-codes icodes.npy --query-codes qcodes.npy --k 7 --out nn-codes.csv 2>/dev/null || fail "codes"
cut -d, -f1-3 nn-l2.csv | tail -n +2 >a.txt
cut -d, -f1-3 nn-codes.csv | tail -n +2 >b.txt
cmp -s a.txt b.txt && ok || fail "--index-codes/--query-codes gave other neighbours"
head -1 nn-codes.csv | grep -qx 'query,rank,index,distance' && ok || fail "header without labels"
"$AESEARCH" --index-codes icodes.npy --index-labels idx5k-labels.idx --query-codes qcodes.npy \
    --query-labels q700-labels.idx --k 7 --out nn-codes2.csv 2>codes2.log || fail "codes with labels"
grep -q "precision@7 $(sed -n 's/.*precision@7 \([0-9.]*\).*/\1/p' nn-l2.log)" codes2.log && ok \
    || fail "precision from codes: $(cat codes2.log)"
# a picture: one row per query, k + 1 tiles
"$AESEARCH" --model ae/model.safetensors --index idx5k.idx --query q700.idx --k 5 --png nn.png --n 4 --out nn-png.csv 2>/dev/null \
    || fail "png"
[ "$(png_size nn.png)" = "175 117" ] && ok || fail "png size $(png_size nn.png)"
# standard output by default
[ "$("$AESEARCH" --index-codes icodes.npy --query-codes qcodes.npy --k 1 2>/dev/null | wc -l)" -eq 701 ] && ok \
    || fail "stdout rows"

errors_section "aesearch"
expect 2 "give the index" -- "$AESEARCH" --model ae/model.safetensors --query q700.idx
expect 2 "--model is needed to encode --index" -- "$AESEARCH" --index idx5k.idx --query-codes qcodes.npy
expect 2 "--metric: expected l2 or cosine, not 'manhattan'" -- \
    "$AESEARCH" --index-codes icodes.npy --query-codes qcodes.npy --metric manhattan
expect 2 "--k 6000: the index has only 5000 examples" -- \
    "$AESEARCH" --index-codes icodes.npy --query-codes qcodes.npy --k 6000
expect 2 "--png draws the examples" -- "$AESEARCH" --index-codes icodes.npy --query-codes qcodes.npy --png x.png
printf 'not numpy' >bad.npy
expect 2 "bad.npy: not a .npy file" -- "$AESEARCH" --index-codes bad.npy --query-codes qcodes.npy
"$AEENCODE" --model ae/model.safetensors --data q700.idx --logvar --out wide.npy 2>/dev/null || fail "wide codes"
expect 2 "the index's codes have 20 values and the queries' 40" -- \
    "$AESEARCH" --index-codes icodes.npy --query-codes wide.npy
head -c 200 qcodes.npy >short.npy
expect 2 "short.npy: [0-9]+ bytes, but a 700 x 20 float32 array needs" -- \
    "$AESEARCH" --index-codes icodes.npy --query-codes short.npy
expect 2 "q700-labels.idx" -- "$AESEARCH" --index-codes icodes.npy --query-codes qcodes.npy --index-labels q700-labels.idx
printf 'a,b\n1,2\n' >narrow.csv
expect 2 "narrow.csv" -- "$AESEARCH" --model ae/model.safetensors --index narrow.csv --query q700.idx
finish
