#!/usr/bin/env bash
# Tabulate and plot the runs in a folder (a sweep's, or any folder of aetrain
# runs): DIR/summary.csv, DIR/summary.md and DIR/test_loss.svg.
#
# usage: scripts/summarize.sh [-h|--help] DIR
#
# A run is a subfolder DIR/NAME with a metrics.csv. Its parameters come from
# DIR/NAME/params.tsv (KEY<TAB>VALUE lines, as scripts/sweep.sh writes them),
# one column per key. The columns:
#   run, the parameter keys, complete (yes when model.safetensors exists and
#   metrics.csv ends at the train.epochs of the run's config.json), epoch (the
#   last one), that epoch's train_loss, val_loss, test_loss, test_recon,
#   test_kl and test_loss_mu (nats per example, as in metrics.csv), and
#   seconds (the training time of all epochs added up).
# Rows are sorted by the final test loss, lowest first (when no run has a
# test set: validation, else training loss); runs without one come last, by
# name. summary.md has the same table in Markdown (losses to 2 decimals,
# metric columns empty in every row left out). test_loss.svg draws the test
# loss of every run per epoch, legend in the same order; when no run has a
# test set it draws the validation loss, else the training loss.
#
# Exit status: 0 done, 1 no run found or a file not written, 2 bad usage.

set -euo pipefail
AE_PROG=summarize
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deps.sh
source "$here/deps.sh"
export LC_ALL=C # decimal points and byte order, whatever the user's locale

case ${1:-} in
-h | --help)
    sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
    exit 0
    ;;
esac
if (($# != 1)) || [[ $1 == -?* ]]; then
    printf 'usage: scripts/summarize.sh [-h|--help] DIR\n' >&2
    exit 2
fi
# The run folder's names and metrics.csv's columns, from their one definition.
run_h=$AE_ROOT/include/ae/run.h
run_name() { sed -n "s/^#define $1 \"\([^\"]*\)\".*/\1/p" "$run_h"; }
METRICS=$(run_name AE_RUN_METRICS) MODEL=$(run_name AE_RUN_MODEL) CONFIG=$(run_name AE_RUN_CONFIG)
[[ -n $METRICS && -n $MODEL && -n $CONFIG ]] || ae_die "$run_h: no AE_RUN_METRICS/MODEL/CONFIG"
columns=$(sed -n '/^#define AE_RUN_METRICS_COLUMNS/,/^$/p' "$run_h" | grep -o '"[^"]*"' | tr -d '"\n')
shown="train_loss val_loss test_loss test_recon test_kl test_loss_mu"
for c in $shown seconds; do
    [[ ,$columns, == *,$c,* ]] || ae_die "$run_h: metrics column $c is gone; update summarize.sh"
done

dir=${1%/}
[[ -n $dir ]] || dir=/
[[ -d $dir ]] || ae_die "$dir: no such folder"

last_epoch() {
    if [[ -f $1 ]]; then awk -F, 'NR > 1 && $1 != "" { e = $1 } END { print e }' "$1"; fi
}
# train.epochs from a resolved config.json as aetrain writes it (cJSON's
# layout: one key per line, tab-indented by depth).
config_epochs() {
    if [[ -f $1 ]]; then
        awk '/^\t"/ { t = ($0 ~ /^\t"train":/) } t && /^\t\t"epochs":/ { gsub(/[^0-9]/, ""); print; exit }' "$1"
    fi
}

# One stream for awk: R<TAB>name<TAB>complete, then P<TAB>key<TAB>value per
# parameter and M<TAB>line per line of metrics.csv.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ae-summarize.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
n=0
for d in "$dir"/*/; do
    d=${d%/}
    [[ -f $d/$METRICS ]] || continue
    name=${d##*/}
    if [[ $name == *[$'\t\n']* ]]; then
        ae_warn "skipping a folder whose name has a tab or newline"
        continue
    fi
    complete=no
    want=$(config_epochs "$d/$CONFIG")
    if [[ -f $d/$MODEL && -n $want && $(last_epoch "$d/$METRICS") == "$want" ]]; then
        complete=yes
    fi
    printf 'R\t%s\t%s\n' "$name" "$complete"
    if [[ -f $d/params.tsv ]]; then awk -F'\t' 'NF >= 1 && $1 != "" { print "P\t" $0 }' "$d/params.tsv"; fi
    tr -d '\r' <"$d/$METRICS" | awk '{ print "M\t" $0 }'
    n=$((n + 1))
done >"$tmp/runs.tsv"
((n > 0)) || ae_die "no runs in $dir (no subfolder has a $METRICS)"

title=$(cd -- "$dir" && pwd)
title=${title##*/}
awk -F'\t' -v csv="$tmp/summary.csv" -v md="$tmp/summary.md" -v svg="$tmp/test_loss.svg" \
    -v title="${title:-/}" -v shown="$shown" '
function isnum(s) { return s ~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/ }
function csvq(s) { if (s ~ /[",\r]/) { gsub(/"/, "\"\"", s); s = "\"" s "\"" } return s }
function mdq(s) { gsub(/\|/, "\\|", s); return s }
function xml(s) {
    gsub(/&/, "\\&amp;", s); gsub(/</, "\\&lt;", s); gsub(/>/, "\\&gt;", s); gsub(/"/, "\\&quot;", s)
    return s
}
function floor_(x,   i) { i = int(x); return i > x ? i - 1 : i }
function ceil_(x,   i) { i = int(x); return i < x ? i + 1 : i }
# 1, 2 or 5 times a power of ten, near x
function nice(x,   e, m, f) {
    e = floor_(log(x) / log(10)); m = 10 ^ e; f = x / m
    return (f <= 1.5 ? 1 : f <= 3.5 ? 2 : f <= 7.5 ? 5 : 10) * m
}
# run a sorts before run b: by the loss in column sk, runs without one last, then by name
function before(a, b) {
    if (has[a] != has[b]) return has[a]
    if (has[a] && last[a, sk] + 0 != last[b, sk] + 0) return last[a, sk] + 0 < last[b, sk] + 0
    return name[a] "" < name[b] ""
}
function px(x) { return sprintf("%.1f", L + (x - xlo) / (xhi - xlo) * PW) }
function py(y) { return sprintf("%.1f", T + PH - (y - ylo) / (yhi - ylo) * PH) }

BEGIN {
    nm = split(shown, mcol, " ")
    split("#1f77b4 #ff7f0e #2ca02c #d62728 #9467bd #8c564b #e377c2 #7f7f7f #bcbd22 #17becf", color, " ")
    split("none|7 4|2 3|9 3 2 3", dash, "|")
}
$1 == "R" { n++; name[n] = $2; comp[n] = $3; hdr = 0; next }
$1 == "P" {
    if (!($2 in kidx)) { nk++; keys[nk] = $2; kidx[$2] = nk }
    val[n, $2] = $3
    next
}
$1 == "M" {
    m = split(substr($0, 3), f, ",")
    if (!hdr) {
        for (c in col) delete col[c]
        for (i = 1; i <= m; i++) col[f[i]] = i
        hdr = 1
        next
    }
    if (!("epoch" in col) || f[col["epoch"]] == "") next
    ep[n] = f[col["epoch"]]
    for (j = 1; j <= nm; j++) last[n, j] = (mcol[j] in col) ? f[col[mcol[j]]] : ""
    if ("seconds" in col && isnum(f[col["seconds"]])) secs[n] += f[col["seconds"]]
    k = ++np[n]
    pe[n, k] = ep[n]
    for (j = 1; j <= 3; j++) pv[n, k, j] = (mcol[j] in col) ? f[col[mcol[j]]] : ""
    next
}
END {
    # order: final test loss ascending (else validation, else training loss
    # when no run has a test set), runs without one last, ties by name
    sk = 0
    for (j = 3; j >= 1 && !sk; j--)
        for (i = 1; i <= n; i++)
            if (isnum(last[i, j])) { sk = j; break }
    if (!sk) sk = 3
    for (i = 1; i <= n; i++) {
        has[i] = isnum(last[i, sk])
        ord[i] = i
    }
    for (i = 2; i <= n; i++) {
        x = ord[i]
        for (j = i - 1; j >= 1 && before(x, ord[j]); j--) ord[j + 1] = ord[j]
        ord[j + 1] = x
    }

    # summary.csv
    line = "run"
    for (k = 1; k <= nk; k++) line = line "," csvq(keys[k])
    line = line ",complete,epoch"
    for (j = 1; j <= nm; j++) line = line "," mcol[j]
    print line ",seconds" > csv
    for (r = 1; r <= n; r++) {
        i = ord[r]
        line = csvq(name[i])
        for (k = 1; k <= nk; k++) line = line "," csvq(val[i, keys[k]])
        line = line "," comp[i] "," ep[i]
        for (j = 1; j <= nm; j++) line = line "," last[i, j]
        print line "," (i in secs ? sprintf("%.3f", secs[i]) : "") > csv
    }
    close(csv)

    # summary.md: metric columns empty in every row are left out
    for (j = 1; j <= nm; j++)
        for (i = 1; i <= n; i++)
            if (last[i, j] != "") show[j] = 1
    print "# " title "\n" > md
    print n " run" (n == 1 ? "" : "s") ", sorted by " (sk == 3 ? "test" : sk == 2 ? "validation" : "training") \
        " loss (nats per example, at the last epoch)." > md
    print "" > md
    head = "| run"; rule = "| ---"
    for (k = 1; k <= nk; k++) { head = head " | " mdq(keys[k]); rule = rule " | ---" }
    head = head " | complete | epoch"; rule = rule " | --- | ---:"
    for (j = 1; j <= nm; j++) if (show[j]) { head = head " | " mcol[j]; rule = rule " | ---:" }
    print head " | seconds |" > md
    print rule " | ---: |" > md
    for (r = 1; r <= n; r++) {
        i = ord[r]
        line = "| " mdq(name[i])
        for (k = 1; k <= nk; k++) line = line " | " mdq(val[i, keys[k]])
        line = line " | " comp[i] " | " ep[i]
        for (j = 1; j <= nm; j++)
            if (show[j]) line = line " | " (isnum(last[i, j]) ? sprintf("%.2f", last[i, j]) : last[i, j])
        print line " | " (i in secs ? sprintf("%.1f", secs[i]) : "") " |" > md
    }
    print "\n![" title ": loss per epoch](test_loss.svg)" > md
    close(md)

    # test_loss.svg: the test loss, else validation, else training loss
    s = 0
    for (j = 3; j >= 1 && !s; j--)
        for (i = 1; i <= n && !s; i++)
            for (k = 1; k <= np[i]; k++)
                if (isnum(pv[i, k, j])) { s = j; break }
    what = s == 3 ? "test loss" : s == 2 ? "validation loss" : "training loss"
    have = 0; maxe = 1; nl = 0; lw = 0
    for (r = 1; r <= n; r++) {
        i = ord[r]
        pts = 0
        for (k = 1; k <= np[i]; k++) {
            v = pv[i, k, s]; e = pe[i, k]
            if (!isnum(v) || !isnum(e)) continue
            pts++
            if (!have) { ymin = ymax = v + 0; have = 1 }
            if (v + 0 < ymin) ymin = v + 0
            if (v + 0 > ymax) ymax = v + 0
            if (e + 0 > maxe) maxe = e + 0
            fin[i] = v
        }
        if (pts == 0) continue
        line_run[++nl] = i
        lab[nl] = name[i]
        w = length(lab[nl]) * 7 + length(sprintf("%.2f", fin[i])) * 7 + 50
        if (w > lw) lw = w
    }
    if (!have) { ymin = 0; ymax = 1 }
    if (ymax - ymin < 1e-9 * (ymax > 0 ? ymax : -ymax) + 1e-12) { ymin -= 1; ymax += 1 }
    ystep = nice((ymax - ymin) / 6)
    ylo = floor_(ymin / ystep) * ystep; yhi = ceil_(ymax / ystep) * ystep
    xlo = 1; xhi = maxe
    if (xhi == xlo) { xlo = 0; xhi = 2 }
    xpad = (xhi - xlo) * 0.025; xlo -= xpad; xhi += xpad # keep end points off the frame
    if (lw < 160) lw = 160
    L = 78; T = 52
    W = 900; if (W < L + 420 + lw + 40) W = L + 420 + lw + 40
    H = 600; if (H < T + 40 + 20 * nl + 40) H = T + 40 + 20 * nl + 40
    PW = W - L - lw - 40; PH = H - T - 62
    font = "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\""
    printf "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" > svg
    printf "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" %s font-size=\"12\">\n", W, H, W, H, font > svg
    printf "<title>%s per epoch: %s</title>\n", what, xml(title) > svg
    printf "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", W, H > svg
    printf "<text x=\"%.1f\" y=\"30\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">%s per epoch: %s</text>\n", L + PW / 2, toupper(substr(what, 1, 1)) substr(what, 2), xml(title) > svg
    # grid and y ticks
    printf "<g stroke=\"#e3e3e3\" stroke-width=\"1\">\n" > svg
    ny = int((yhi - ylo) / ystep + 0.5)
    for (t = 0; t <= ny; t++) printf "<line x1=\"%d\" x2=\"%d\" y1=\"%s\" y2=\"%s\"/>\n", L, L + PW, py(ylo + t * ystep), py(ylo + t * ystep) > svg
    xstep = maxe <= 12 ? 1 : nice((maxe - 1) / 8)
    if (xstep < 1) xstep = 1
    nx = 0
    for (t = xstep; t <= maxe + 1e-9; t += xstep) if (t >= 1) xt[++nx] = t
    if (xstep >= 5 || nx == 0) { for (t = nx; t >= 1; t--) xt[t + 1] = xt[t]; xt[1] = 1; nx++ }
    for (t = 1; t <= nx; t++) printf "<line x1=\"%s\" x2=\"%s\" y1=\"%d\" y2=\"%d\"/>\n", px(xt[t]), px(xt[t]), T, T + PH > svg
    printf "</g>\n<g fill=\"#333333\">\n" > svg
    dec = ystep >= 1 ? 0 : ceil_(-log(ystep) / log(10) - 1e-9)
    fmt = "<text x=\"%d\" y=\"%s\" dy=\"4\" text-anchor=\"end\">%." dec "f</text>\n"
    for (t = 0; t <= ny; t++) printf fmt, L - 8, py(ylo + t * ystep), ylo + t * ystep > svg
    for (t = 1; t <= nx; t++) printf "<text x=\"%s\" y=\"%d\" text-anchor=\"middle\">%d</text>\n", px(xt[t]), T + PH + 18, xt[t] > svg
    printf "</g>\n" > svg
    printf "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#555555\"/>\n", L, T, PW, PH > svg
    printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-size=\"13\">epoch</text>\n", L + PW / 2, T + PH + 42 > svg
    printf "<text transform=\"translate(20 %.1f) rotate(-90)\" text-anchor=\"middle\" font-size=\"13\">%s (nats per example)</text>\n", T + PH / 2, what > svg
    # one line per run, drawn worst first so the best lies on top
    for (l = nl; l >= 1; l--) {
        i = line_run[l]
        c = color[(l - 1) % 10 + 1]; d = dash[int((l - 1) / 10) % 4 + 1]
        pts = ""; marks = ""
        for (k = 1; k <= np[i]; k++) {
            v = pv[i, k, s]; e = pe[i, k]
            if (!isnum(v) || !isnum(e)) continue
            pts = pts (pts == "" ? "" : " ") px(e) "," py(v)
            if (np[i] <= 60) marks = marks sprintf("<circle cx=\"%s\" cy=\"%s\" r=\"3\"/>", px(e), py(v))
        }
        printf "<g stroke=\"%s\" fill=\"%s\"><title>%s</title>\n", c, c, xml(lab[l]) > svg
        printf "<polyline points=\"%s\" fill=\"none\" stroke-width=\"2\" stroke-linejoin=\"round\"%s/>\n", pts, d == "none" ? "" : " stroke-dasharray=\"" d "\"" > svg
        if (marks != "") printf "%s\n", marks > svg
        printf "</g>\n" > svg
    }
    # legend, best first
    lx = L + PW + 24
    printf "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">run (final %s)</text>\n", lx, T + 8, what > svg
    for (l = 1; l <= nl; l++) {
        i = line_run[l]
        c = color[(l - 1) % 10 + 1]; d = dash[int((l - 1) / 10) % 4 + 1]
        y = T + 8 + 20 * l
        printf "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"%s/>", lx, lx + 26, y - 4, y - 4, c, d == "none" ? "" : " stroke-dasharray=\"" d "\"" > svg
        printf "<circle cx=\"%d\" cy=\"%d\" r=\"3\" fill=\"%s\"/>", lx + 13, y - 4, c > svg
        printf "<text x=\"%d\" y=\"%d\">%s <tspan fill=\"#666666\">%.2f</tspan></text>\n", lx + 34, y, xml(lab[l]), fin[i] > svg
    }
    print "</svg>" > svg
    close(svg)
}' "$tmp/runs.tsv"

for f in summary.csv summary.md test_loss.svg; do
    if ! { cp -- "$tmp/$f" "$dir/.$f.tmp" && mv -f -- "$dir/.$f.tmp" "$dir/$f"; }; then
        rm -f -- "$dir/.$f.tmp"
        ae_die "cannot write $dir/$f"
    fi
done
ae_msg "$n run(s): wrote $dir/summary.csv, $dir/summary.md, $dir/test_loss.svg"
