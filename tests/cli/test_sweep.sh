#!/usr/bin/env bash
# scripts/sweep.sh and scripts/summarize.sh: a 2x2 grid on a tiny MNIST subset,
# two runs at a time; skipping, resuming, a failing run, bracket-aware values,
# Ctrl-C, usage errors, and summarize on hand-made run folders.
# shellcheck disable=SC2016 # awk programs in single quotes, run through check
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
need_mnist

SWEEP=$AE_SOURCE/scripts/sweep.sh
SUMMARIZE=$AE_SOURCE/scripts/summarize.sh
export AETRAIN # the build under test
SPEC=$AE_SOURCE/configs/vae.json
tiny=("${MNIST_SET[@]}" --set data.train_limit=300 --set data.test_limit=100
      --set train.batch_size=50 --set output.images=false)

# check WHAT command...: one check, failing with WHAT.
check() {
    local what=$1
    shift
    if "$@"; then ok; else fail "$what"; fi
}
has() { grep -Eq -- "$2" "$1"; }
lines() { [ "$(wc -l <"$1")" -eq "$2" ]; }

# --- a 2x2 grid, two runs at a time; threads divided between them ---
rc=0
bash "$SWEEP" "$SPEC" model.beta=0.5,1 model.latent=2,4 "${tiny[@]}" --epochs 2 --jobs 2 --out sw \
    >sweep.log 2>&1 || rc=$?
check "2x2 sweep exit $rc: $(cat sweep.log)" [ "$rc" -eq 0 ]
names=("beta=0.5_latent=2" "beta=0.5_latent=4" "beta=1_latent=2" "beta=1_latent=4")
check "run folders: $(ls sw)" [ "$(find sw -mindepth 1 -maxdepth 1 -type d | wc -l)" -eq 4 ]
cores=$(nproc)
threads=$((cores / 2 > 0 ? cores / 2 : 1))
for n in "${names[@]}"; do
    for f in config.json metrics.csv checkpoint.safetensors model.safetensors train.log params.tsv; do
        assert_file "sw/$n/$f"
    done
    check "$n: metrics rows" lines "sw/$n/metrics.csv" 3
    check "$n: train.log starts with the command" has "sw/$n/train.log" "^sweep: .*/aetrain --config .* --out sw/$n --threads $threads\$"
    check "$n: train.log has aetrain's epochs" has "sw/$n/train.log" '^epoch 2/2 '
done
check "params.tsv: $(cat "sw/beta=1_latent=4/params.tsv")" cmp -s <(printf 'model.beta\t1\nmodel.latent\t4\n') \
    "sw/beta=1_latent=4/params.tsv"
check "grid values reach aetrain" has "sw/beta=0.5_latent=4/config.json" '"latent":[[:space:]]*4,'
check "grid values reach aetrain" has "sw/beta=0.5_latent=4/config.json" '"beta":[[:space:]]*0.5,'
check "sweep report: $(cat sweep.log)" has sweep.log '4 complete \(0 skipped as already complete\), 0 failed'

# summary.csv: a header with the grid keys, one row per run, sorted by test loss
check "summary.csv header: $(head -1 sw/summary.csv)" [ "$(head -1 sw/summary.csv)" = \
    "run,model.beta,model.latent,complete,epoch,train_loss,val_loss,test_loss,test_recon,test_kl,test_loss_mu,seconds" ]
check "summary.csv rows" lines sw/summary.csv 5
check "summary.csv columns" awk -F, 'NF != 12 { exit 1 }' sw/summary.csv
check "summary.csv: complete runs of 2 epochs with losses" awk -F, 'NR > 1 && !($4 == "yes" && $5 == 2 && $8 > 100 && $8 < 600 && $12 > 0) { exit 1 }' sw/summary.csv
check "summary.csv sorted by test loss" awk -F, 'NR > 2 && $8 < prev { exit 1 } NR > 1 { prev = $8 }' sw/summary.csv
check "summary.csv run names" [ "$(tail -n +2 sw/summary.csv | cut -d, -f1 | sort | tr '\n' ' ')" = "${names[*]} " ]
check "summary.csv beta/latent match the run name" awk -F, 'NR > 1 && $1 != "beta=" $2 "_latent=" $3 { exit 1 }' sw/summary.csv
# summary.md: the same table in Markdown
check "summary.md header" has sw/summary.md '^\| run \| model\.beta \| model\.latent \| complete \| epoch \| train_loss \| test_loss \|'
check "summary.md rule" has sw/summary.md '^\| --- \| --- \| --- \| --- \| ---: \|'
check "summary.md rows" [ "$(grep -c '^| beta=' sw/summary.md)" -eq 4 ]
check "summary.md: best run first" [ "$(grep -m1 '^| beta=' sw/summary.md | cut -d'|' -f2 | tr -d ' ')" = \
    "$(sed -n 2p sw/summary.csv | cut -d, -f1)" ]
# test_loss.svg: well-formed, one line per run, a legend with the run names, labelled axes
if "$PY" - sw/test_loss.svg "${names[@]}" <<'PY'; then ok; else fail "test_loss.svg: $(head -c 600 sw/test_loss.svg)"; fi
import sys, xml.etree.ElementTree as E
ns = "{http://www.w3.org/2000/svg}"
root = E.parse(sys.argv[1]).getroot()
assert root.tag == ns + "svg", root.tag
lines = root.findall(".//" + ns + "polyline")
assert len(lines) == 4, len(lines)
assert all(len(l.get("points").split()) == 2 for l in lines), "2 points per run"
text = " ".join("".join(t.itertext()) for t in root.iter(ns + "text"))
for name in sys.argv[2:]:
    assert name in text, name
assert "epoch" in text and "test loss" in text.lower(), text
PY

# --- rerunning skips complete runs: nothing is trained again ---
cksum sw/*/model.safetensors sw/*/train.log sw/*/metrics.csv >before.txt
rc=0
bash "$SWEEP" "$SPEC" model.beta=0.5,1 model.latent=2,4 "${tiny[@]}" --epochs 2 --jobs 2 --out sw \
    >rerun.log 2>&1 || rc=$?
check "rerun exit $rc" [ "$rc" -eq 0 ]
check "rerun report: $(cat rerun.log)" has rerun.log '4 complete \(4 skipped as already complete\), 0 failed'
check "rerun did not skip every run" [ "$(grep -c 'complete, skipped' rerun.log)" -eq 4 ]
check "a rerun changed complete runs" cmp -s before.txt <(cksum sw/*/model.safetensors sw/*/train.log sw/*/metrics.csv)

# --- an interrupted run (no final model) resumes from its checkpoint ---
rm "sw/beta=1_latent=4/model.safetensors"
bash "$SWEEP" "$SPEC" model.beta=0.5,1 model.latent=2,4 "${tiny[@]}" --epochs 2 --jobs 2 --out sw \
    >resume.log 2>&1 || fail "resume sweep: $(cat resume.log)"
check "resume message: $(cat resume.log)" has resume.log 'beta=1_latent=4: resuming after epoch 2'
check "aetrain --resume" has "sw/beta=1_latent=4/train.log" '^aetrain: resuming after epoch 2$'
assert_file "sw/beta=1_latent=4/model.safetensors"
check "resumed metrics" lines "sw/beta=1_latent=4/metrics.csv" 3
check "others skipped" [ "$(grep -c 'complete, skipped' resume.log)" -eq 3 ]

# --- dry runs: more epochs resume, a changed spec starts afresh; nothing written ---
find sw -type f -exec cksum {} + | sort >files.txt
bash "$SWEEP" "$SPEC" model.beta=0.5,1 model.latent=2,4 "${tiny[@]}" --epochs 3 --out sw --dry-run \
    >dry.txt 2>dry.err || fail "dry run: $(cat dry.err)"
check "dry run --epochs 3: $(cat dry.txt)" [ "$(grep -c -- '--resume sw/beta=.*/checkpoint.safetensors --epochs 3 --out sw/' dry.txt)" -eq 4 ]
bash "$SWEEP" "$SPEC" model.beta=0.5,1 model.latent=2,4 "${tiny[@]}" --set train.lr=0.002 --epochs 2 \
    --out sw --dry-run >dry2.txt 2>/dev/null || fail "dry run 2"
check "dry run, changed --set: $(cat dry2.txt)" [ "$(grep -c -- '--config .*--set train.lr=0.002 .*--epochs 2 --out sw/' dry2.txt)" -eq 4 ]
check "a dry run changed files" cmp -s files.txt <(find sw -type f -exec cksum {} + | sort)
bash "$SWEEP" "$SPEC" model.beta=1 --dry-run >dry3.txt 2>/dev/null || fail "dry run 3"
check "default --out: $(cat dry3.txt)" has dry3.txt '--out runs/sweep-vae/beta=1 --threads'
check "a dry run wrote files" [ ! -e runs ]

# --- one failing combination: reported, the others complete, exit 1 ---
rc=0
bash "$SWEEP" "$SPEC" model.latent=0,2 "${tiny[@]}" --epochs 1 --jobs 2 --out bad >bad.out 2>bad.err || rc=$?
check "failing sweep exit $rc" [ "$rc" -eq 1 ]
check "failure report: $(cat bad.out bad.err)" has bad.err 'failed: bad/latent=0: aetrain: error: .*model\.latent'
check "failure count: $(cat bad.out)" has bad.out '2 run\(s\): 1 complete .*, 1 failed'
assert_file bad/latent=2/model.safetensors
check "summary of the good run" lines bad/summary.csv 2
check "summary row" has bad/summary.csv '^latent=2,2,yes,1,'

# --- bracket-aware values: JSON arrays and objects with commas ---
rc=0
bash "$SWEEP" "$SPEC" 'model.encoder=[32,16],[]' "${tiny[@]}" --epochs 1 --jobs 2 --out arr >arr.log 2>&1 || rc=$?
check "array sweep exit $rc: $(cat arr.log)" [ "$rc" -eq 0 ]
if "$PY" - <<'PY'; then ok; else fail "encoder values did not reach aetrain whole"; fi
import json
assert json.load(open("arr/encoder=32-16/config.json"))["model"]["encoder"] == [32, 16]
assert json.load(open("arr/encoder=empty/config.json"))["model"]["encoder"] == []
PY
check "array values in summary.csv: $(cat arr/summary.csv)" has arr/summary.csv '^encoder=32-16,"\[32,16\]",yes,'
bash "$SWEEP" "$SPEC" 'model.noise={"type":"masking","p":0.5},{"type":"none"}' 'data.test=a,b",c"' \
    --dry-run >obj.txt 2>/dev/null || fail "object dry run"
check "object values: $(cat obj.txt)" [ "$(grep -c -- "--set 'model.noise={\"type\":\"masking\",\"p\":0.5}'" obj.txt)" -eq 2 ]
check "string with a comma: $(cat obj.txt)" [ "$(grep -c -- "--set 'data.test=b\",c\"'" obj.txt)" -eq 2 ]
check "object folder names: $(cat obj.txt)" has obj.txt 'noise=type-masking-p-0.5_test=b-c '
# values that map to the same name get distinct folders
bash "$SWEEP" "$SPEC" 'data.test=x/y,x-y' --dry-run >clash.txt 2>/dev/null || fail "clash dry run"
check "clashing names: $(cat clash.txt)" [ "$(grep -o -- '--out [^ ]*' clash.txt | sort -u | grep -c 'test=x-y~')" -eq 2 ]

# --- Ctrl-C stops the trainings (SIGINT to the process group, as a terminal sends it) ---
set -m
bash "$SWEEP" "$SPEC" model.latent=2,3 "${MNIST_SET[@]}" --set data.train_limit=2000 --set data.test_limit=100 \
    --set output.images=false --epochs 500 --jobs 2 --threads 1 --out "$WORK/int" >int.log 2>&1 &
pid=$!
set +m
# until the first training has finished an epoch (however long that takes:
# ctest's TIMEOUT is the only limit), or the sweep has ended, which fails
until grep -q '^epoch 1/' "$WORK/int/latent=2/train.log" 2>/dev/null || ! running "$pid"; do
    sleep 0.05
done
running "$pid" && kill -INT -- "-$pid" 2>/dev/null || fail "sweep ended early: $(cat int.log)"
rc=0
wait "$pid" || rc=$?
check "interrupted sweep exit $rc: $(cat int.log)" [ "$rc" -eq 130 ]
# sweep returns only after its trainings have ended
if command -v pgrep >/dev/null; then
    left=$(pgrep -af -- "--out $WORK/int/" || true)
    check "aetrain still running after Ctrl-C: $left" [ -z "$left" ]
    [ -z "$left" ] || kill -TERM -- "-$pid" 2>/dev/null || true
else
    echo "pgrep not installed (procps): not looking for leftover aetrain processes" >&2
fi
check "interrupted runs can resume" has "$WORK/int/latent=2/train.log" '^epoch 1/500 '

# --- usage errors: exit 2, nothing run ---
expect 2 "no spec file" -- bash "$SWEEP"
expect 2 "unknown option '--bogus'" -- bash "$SWEEP" "$SPEC" model.beta=1 --bogus
expect 2 "no such readable file" -- bash "$SWEEP" nosuch.json model.beta=1
expect 2 "expected KEY=V1,V2" -- bash "$SWEEP" "$SPEC" model.beta
expect 2 "unbalanced" -- bash "$SWEEP" "$SPEC" 'model.encoder=[1,2'
expect 2 "given twice" -- bash "$SWEEP" "$SPEC" model.beta=1,2,1
expect 2 "positive integer" -- bash "$SWEEP" "$SPEC" model.beta=1 --jobs 0
expect 2 "use --out" -- bash "$SWEEP" "$SPEC" output.dir=a,b
expect 2 "both a --set and a grid axis" -- bash "$SWEEP" "$SPEC" model.beta=1,2 --set model.beta=3
check "usage errors ran something" [ ! -e runs ]
check "sweep --help" has <(bash "$SWEEP" --help) '^usage: scripts/sweep.sh'

# --- summarize on hand-made runs: order, completeness, no test set, odd names ---
mkdir -p fake/a fake/b fake/'c&<x>|y' fake/notarun
hdr='epoch,train_loss,train_recon,train_kl,val_loss,val_recon,val_kl,test_loss,test_recon,test_kl,test_loss_mu,train_reg,test_reg,train_kl_z2,test_kl_z2,beta,seconds,examples_per_sec'
printf '%s\n1,200,190,10,,,,150,140,10,151,0,0,0,0,1,1.5,100\n2,180,170,10,,,,140,130,10,141,0,0,0,0,1,2.5,100\n' "$hdr" >fake/a/metrics.csv
printf '%s\n1,300,290,10,,,,,,,,0,0,0,0,1,1,100\n' "$hdr" >fake/b/metrics.csv
printf '%s\n1,100,90,10,,,,90,80,10,91,0,0,0,0,1,1,100\n' "$hdr" >fake/'c&<x>|y'/metrics.csv
printf '{\n\t"train":\t{\n\t\t"epochs":\t2,\n\t\t"pretrain":\t{\n\t\t\t"epochs":\t0\n\t\t}\n\t}\n}\n' >fake/a/config.json
: >fake/a/model.safetensors
printf 'model.beta\t2\n' >fake/a/params.tsv
bash "$SUMMARIZE" fake >/dev/null || fail "summarize fake"
check "fake summary: $(cat fake/summary.csv)" [ "$(cut -d, -f1-5,7 fake/summary.csv | tr '\n' ' ')" = \
    "run,model.beta,complete,epoch,train_loss,test_loss c&<x>|y,,no,1,100,90 a,2,yes,2,180,140 b,,no,1,300, " ]
check "fake seconds" has fake/summary.csv '^a,.*,4\.000$'
check "md leaves out empty columns: $(cat fake/summary.md)" [ "$(grep -c 'val_loss' fake/summary.md)" -eq 0 ]
check "md escapes |" has fake/summary.md '^\| c&<x>\\\|y \|'
check "fake svg: $(cat fake/test_loss.svg)" "$PY" -c 'import xml.etree.ElementTree as E, sys
r = E.parse(sys.argv[1]).getroot()
assert len(r.findall(".//{http://www.w3.org/2000/svg}polyline")) == 2' fake/test_loss.svg
# without any test loss the plot shows the training loss
rm -r fake/a fake/'c&<x>|y'
bash "$SUMMARIZE" fake >/dev/null || fail "summarize without test sets"
check "training loss plotted" has fake/test_loss.svg 'Training loss per epoch'
expect 1 "no runs" -- bash "$SUMMARIZE" fake/notarun
expect 2 "usage" -- bash "$SUMMARIZE"

finish
