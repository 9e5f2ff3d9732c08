#!/usr/bin/env bash
# Train one aetrain run per combination of spec-key values (a grid), N at a
# time, then tabulate and plot them with scripts/summarize.sh.
#
# usage: scripts/sweep.sh [options] SPEC.json KEY=V1,V2,... [KEY=V1,V2,... ...]
#   scripts/sweep.sh configs/vae.json model.beta=0.5,1,2,4 model.latent=2,10,20 --epochs 5
#   scripts/sweep.sh configs/ae.json 'model.encoder=[512,256],[400]' --jobs 2
#
# KEY=V1,V2,... is one axis of the grid: KEY a spec key (docs/config.md), each
# value passed on as aetrain --set KEY=VALUE (JSON, else a plain string).
# Values split at commas outside [], {} and "...": [512,256] is one value.
#
# options:
#   --epochs N        train.epochs of every run (default: the spec's)
#   --out DIR         sweep folder (default: runs/sweep-<spec file name without .json>)
#   --jobs N          runs at a time (default 1)
#   --threads N       BLAS threads per run (default: max(1, cores / jobs))
#   --set KEY=VALUE   a fixed override for every run, repeatable
#   --config SPEC     the spec, instead of the first positional argument
#   --force           start every run afresh, complete ones included
#   --dry-run         print the aetrain commands that would run; change nothing
#   -h, --help        this text
#
# Runs go to DIR/<name>, named after the values: beta=0.5_latent=2 (the last
# part of each key, '=', the value without quotes or brackets and with other
# characters outside [A-Za-z0-9._+-] as '-', e.g. encoder=512-256; "" and []
# give "empty"; names that would clash get a ~checksum suffix). Each holds
# aetrain's files, train.log (the command, then aetrain's output), params.tsv
# (KEY<TAB>VALUE per axis) and sweep.id (the spec's checksum and overrides).
#
# A complete run (model.safetensors, metrics.csv at the requested epoch, and
# the same spec content and overrides as in sweep.id) is skipped. An
# incomplete run of the same spec resumes from its checkpoint if that is not
# past the requested epoch (so a larger --epochs continues runs); otherwise it
# starts afresh. A failed run does not stop the others: the end lists failures
# with their last log line, then runs summarize.sh. Ctrl-C stops the
# trainings; the same command resumes them.
#
# Environment: AETRAIN, the aetrain program (default $AE_BUILD/aetrain, with
# AE_BUILD defaulting to build/ in the repo).
# Exit status: 0 every run complete, 1 a run failed, 2 bad usage, 130 interrupted.
# Details: docs/sweeps.md.

set -euo pipefail
AE_PROG=sweep
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deps.sh
source "$here/deps.sh"

usage() { sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
bad_usage() {
    printf 'sweep: error: %s\n' "$*" >&2
    printf 'usage: scripts/sweep.sh [options] SPEC.json KEY=V1,V2,... [...] (see --help)\n' >&2
    exit 2
}
posint() {
    if ! [[ $2 =~ ^[0-9]{1,8}$ ]] || ((10#$2 < 1)); then
        bad_usage "$1: expected a positive integer, got '$2'"
    fi
    printf '%d' "$((10#$2))"
}

# --- command line ---
spec='' epochs='' out='' jobs=1 threads='' force=0 dry=0
fixed=() positional=()
while (($# > 0)); do
    opt=$1
    case $opt in
    -h | --help)
        usage
        exit 0
        ;;
    --force | --dry-run)
        if [[ $opt == --force ]]; then force=1; else dry=1; fi
        shift
        continue
        ;;
    --)
        shift
        positional+=("$@")
        break
        ;;
    --epochs=* | --out=* | --jobs=* | --threads=* | --set=* | --config=*)
        val=${opt#*=}
        opt=${opt%%=*}
        shift
        ;;
    --epochs | --out | --jobs | --threads | --set | --config)
        (($# >= 2)) || bad_usage "$opt needs a value"
        val=$2
        shift 2
        ;;
    -?*) bad_usage "unknown option '$opt' (aetrain options other than these are spec keys: use --set)" ;;
    *)
        positional+=("$opt")
        shift
        continue
        ;;
    esac
    case $opt in
    --epochs) epochs=$(posint "$opt" "$val") ;;
    --jobs) jobs=$(posint "$opt" "$val") ;;
    --threads) threads=$(posint "$opt" "$val") ;;
    --out) out=$val ;;
    --config) spec=$val ;;
    --set)
        [[ $val == ?*=* ]] || bad_usage "--set $val: expected KEY=VALUE"
        fixed+=("$val")
        ;;
    esac
done
if [[ -z $spec ]]; then
    ((${#positional[@]} > 0)) || bad_usage "no spec file given"
    spec=${positional[0]}
    positional=("${positional[@]:1}")
fi
[[ -f $spec && -r $spec ]] || bad_usage "$spec: no such readable file"
[[ -n $out ]] || {
    stem=${spec##*/}
    out=runs/sweep-${stem%.json}
}
out=${out%/}
[[ -n $out ]] || out=/

# --- the grid ---
# Splits $1 at the commas outside [], {} and JSON strings into SPLIT; fails
# on unbalanced brackets or quotes.
split_values() {
    local s=$1 cur='' c depth=0 instr=0 esc=0 i
    SPLIT=()
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        if ((instr)); then
            if ((esc)); then
                esc=0
            elif [[ $c == "\\" ]]; then
                esc=1
            elif [[ $c == '"' ]]; then
                instr=0
            fi
        else
            case $c in
            '"') instr=1 ;;
            '[' | '{') depth=$((depth + 1)) ;;
            ']' | '}')
                depth=$((depth - 1))
                ((depth >= 0)) || return 1
                ;;
            ,)
                if ((depth == 0)); then
                    SPLIT+=("$cur")
                    cur=''
                    continue
                fi
                ;;
            esac
        fi
        cur+=$c
    done
    ((depth == 0 && !instr)) || return 1
    SPLIT+=("$cur")
}

# The folder-name form of a value: quotes and brackets dropped, characters
# outside [A-Za-z0-9._+-] turned into '-', "empty" for nothing.
name_part() {
    local s=$1 r='' c i
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        case $c in
        '"' | '[' | ']' | '{' | '}' | ' ') ;;
        [A-Za-z0-9._+-]) r+=$c ;;
        *) r+=- ;;
        esac
    done
    printf '%s' "${r:-empty}"
}

# Keys the sweep sets itself, through --out, --threads and --epochs.
reserved() {
    case $1 in
    output.dir) bad_usage "$1 is set per run by the sweep (use --out for the sweep folder)" ;;
    train.threads) bad_usage "$1 is set by the sweep (use --threads)" ;;
    train.epochs) [[ -z $epochs ]] || bad_usage "$1 and --epochs both given" ;;
    esac
}
axis_key=() axis_label=() axis_first=() axis_len=() values=()
declare -A seen_key=()
for f in "${fixed[@]}"; do
    reserved "${f%%=*}"
    seen_key[${f%%=*}]=fixed
done
for g in "${positional[@]}"; do
    [[ $g == ?*=* ]] || bad_usage "'$g': expected KEY=V1,V2,... (the spec file comes first)"
    key=${g%%=*}
    [[ $key =~ ^[A-Za-z_][A-Za-z0-9_]*(\[[0-9]+\])*(\.[A-Za-z_][A-Za-z0-9_]*(\[[0-9]+\])*)*$ ]] ||
        bad_usage "'$key': not a spec key (like model.latent or model.encoder[0])"
    case ${seen_key[$key]:-} in
    fixed) bad_usage "$key is both a --set and a grid axis" ;;
    grid) bad_usage "$key is given twice as a grid axis" ;;
    esac
    reserved "$key"
    seen_key[$key]=grid
    [[ $g != *[$'\t\n']* ]] || bad_usage "$key: values may not contain tabs or newlines"
    split_values "${g#*=}" || bad_usage "$key: unbalanced brackets or quotes in '${g#*=}'"
    declare -A seen_val=()
    for v in "${SPLIT[@]}"; do
        [[ -z ${seen_val["x$v"]:-} ]] || bad_usage "$key: value '$v' given twice"
        seen_val["x$v"]=1
    done
    unset seen_val
    axis_key+=("$key")
    axis_first+=("${#values[@]}")
    axis_len+=("${#SPLIT[@]}")
    values+=("${SPLIT[@]}")
    label=${key##*.}
    label=${label//[/.}
    axis_label+=("${label//]/}")
done
naxes=${#axis_key[@]}
# Labels shared by two keys (model.beta, train.beta) use the whole key.
for ((a = 0; a < naxes; a++)); do
    for ((b = 0; b < naxes; b++)); do
        if ((a != b)) && [[ ${axis_key[a]##*.} == "${axis_key[b]##*.}" ]]; then
            label=${axis_key[a]//[/.}
            axis_label[a]=${label//]/}
        fi
    done
done

# One run per combination, the last axis varying fastest.
total=1
for n in "${axis_len[@]}"; do total=$((total * n)); done
((total <= 10000)) || bad_usage "the grid has $total combinations (at most 10000)"
run_name=() run_sets=() run_params=()
declare -A name_count=()
for ((r = 0; r < total; r++)); do
    rem=$r name='' sets='' params=''
    parts=()
    for ((a = naxes - 1; a >= 0; a--)); do
        i=$((rem % axis_len[a]))
        rem=$((rem / axis_len[a]))
        v=${values[axis_first[a] + i]}
        parts=("${axis_label[a]}=$(name_part "$v")" "${parts[@]}")
        sets="${axis_key[a]}=$v"$'\n'$sets
        params="${axis_key[a]}"$'\t'"$v"$'\n'$params
    done
    if ((naxes == 0)); then
        name=run
    else
        name=$(IFS=_ && printf '%s' "${parts[*]}")
    fi
    if ((${#name} > 200)); then name=${name:0:200}; fi
    run_name+=("$name")
    run_sets+=("$sets")
    run_params+=("$params")
    name_count[$name]=$((${name_count[$name]:-0} + 1))
done
for ((r = 0; r < total; r++)); do
    if ((${name_count[${run_name[r]}]} > 1)); then
        crc=$(printf '%s' "${run_params[r]}" | cksum)
        run_name[r]+=$(printf '~%08x' "${crc%% *}")
    fi
done

# --- the runs ---
# The words as a shell would need them: plain when safe, else in single quotes.
shell_words() {
    local w out=''
    for w in "$@"; do
        if [[ $w =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
            out+=" $w"
        else
            out+=" '${w//\'/\'\\\'\'}'"
        fi
    done
    printf '%s' "${out# }"
}

aetrain=${AETRAIN:-${AE_BUILD:-$AE_ROOT/build}/aetrain}
[[ -x $aetrain ]] || ae_die "$aetrain not found: build it (cmake -S . -B build && cmake --build build) or set AETRAIN"
cores=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
if [[ -z $threads ]]; then
    threads=$((cores / jobs))
    ((threads >= 1)) || threads=1
fi

spec_sum=$(cksum <"$spec")
spec_sum=${spec_sum// /:}

# The last epoch in a metrics.csv (nothing when there is none).
last_epoch() {
    if [[ -f $1 ]]; then awk -F, 'NR > 1 && $1 != "" { e = $1 } END { print e }' "$1"; fi
}
# train.epochs from a run's resolved config.json, as aetrain writes it
# (cJSON's layout: one key per line, tab-indented by depth).
config_epochs() {
    if [[ -f $1 ]]; then
        awk '/^\t"/ { t = ($0 ~ /^\t"train":/) } t && /^\t\t"epochs":/ { gsub(/[^0-9]/, ""); print; exit }' "$1"
    fi
}
# The epoch a checkpoint was saved after, from its safetensors header
# (8-byte little-endian length, then JSON with "__metadata__": {"epoch": "N"}).
checkpoint_epoch() {
    [[ -f $1 ]] || return 0
    local b n=0 i
    read -r -a b < <(od -An -tu1 -N8 "$1") || return 0
    ((${#b[@]} == 8)) || return 0
    for ((i = 7; i >= 0; i--)); do n=$((n * 256 + b[i])); done
    ((n > 0 && n < 100000000)) || return 0
    head -c $((n + 8)) "$1" | tail -c +9 | grep -Eo '"epoch"[[:space:]]*:[[:space:]]*"[0-9]+"' |
        head -1 | tr -cd '0-9' || true
}
# The requested epochs of the run in folder $1 (set once its identity matches).
wanted_epochs() { if [[ -n $epochs ]]; then printf '%s' "$epochs"; else config_epochs "$1/config.json"; fi; }
is_complete() {
    local want
    want=$(wanted_epochs "$1")
    [[ -n $want && -f $1/model.safetensors && $(last_epoch "$1/metrics.csv") == "$want" ]]
}
last_line() { if [[ -f $1 ]]; then awk 'NF { l = $0 } END { print l }' "$1"; fi; }

# A run in the background: aetrain's output appended to train.log, then one
# line on how it went. SIGINT or SIGTERM stops aetrain too: aetrain, started
# asynchronously, ignores SIGINT, so this shell passes it on as SIGTERM (the
# main shell also sends SIGTERM to every job on Ctrl-C).
run_job() {
    local name=$1 dir=$2 rc=0 t0=$SECONDS loss
    shift 2
    trap job_stop INT TERM
    "$@" >>"$dir/train.log" 2>&1 </dev/null &
    wait "$!" || rc=$?
    if ((rc == 0)) && is_complete "$dir"; then
        loss=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "test_loss") c = i }
            NR > 1 && c && $c != "" { l = $c } END { if (l != "") printf ", test loss %.2f", l }' "$dir/metrics.csv")
        ae_msg "$name: done in $((SECONDS - t0))s$loss"
    else
        ae_warn "$name: failed (exit status $rc): $(last_line "$dir/train.log")"
    fi
}

# shellcheck disable=SC2317 # reached through trap
job_stop() { # run_job's trap: stop aetrain (this subshell's job) and wait for it
    local p
    p=$(jobs -p)
    # shellcheck disable=SC2086 # one pid per word
    [[ -z $p ]] || kill -TERM $p 2>/dev/null || true
    wait || true
    exit 143
}
# shellcheck disable=SC2317 # reached through trap
stop() {
    trap - INT TERM
    local p
    p=$(jobs -p)
    if [[ -n $p ]]; then
        ae_warn "interrupted: stopping the running trainings"
        # shellcheck disable=SC2086 # one pid per word
        kill -TERM $p 2>/dev/null || true
        wait || true
    fi
    ae_warn "interrupted; the same command resumes the sweep"
    exit 130
}
trap stop INT TERM

((dry)) || mkdir -p -- "$out"
# progress; on stderr for a dry run, whose stdout is the commands
note() { if ((dry)); then ae_msg "$@" >&2; else ae_msg "$@"; fi; }
note "$total run(s) in $out/, $jobs at a time, $threads thread(s) each"
skipped=0 started=()
for ((r = 0; r < total; r++)); do
    name=${run_name[r]}
    dir=$out/$name
    mapfile -t sets <<<"${run_sets[r]%$'\n'}"
    setargs=()
    for s in "${sets[@]}"; do [[ -z $s ]] || setargs+=(--set "$s"); done
    id="spec-cksum $spec_sum"
    [[ -n $epochs ]] || id+=$'\n'"epochs from the spec"
    for s in "${fixed[@]}" "${sets[@]}"; do [[ -z $s ]] || id+=$'\n'"set $s"; done

    state=fresh
    if ((!force)) && [[ -f $dir/sweep.id && $(<"$dir/sweep.id") == "$id" ]]; then
        want=$(wanted_epochs "$dir")
        ck=$(checkpoint_epoch "$dir/checkpoint.safetensors")
        if is_complete "$dir"; then
            state=complete
        elif [[ -n $want && -n $ck ]] && ((ck >= 1 && ck <= want)); then
            state=resume
        fi
    fi
    epochs_arg=()
    [[ -z $epochs ]] || epochs_arg=(--epochs "$epochs")
    if [[ $state == complete ]]; then
        note "$name: complete, skipped"
        skipped=$((skipped + 1))
        continue
    elif [[ $state == resume ]]; then
        cmd=("$aetrain" --resume "$dir/checkpoint.safetensors" "${epochs_arg[@]}" --out "$dir" --threads "$threads")
    else
        cmd=("$aetrain" --config "$spec")
        for s in "${fixed[@]}"; do cmd+=(--set "$s"); done
        cmd+=("${setargs[@]}" "${epochs_arg[@]}" --out "$dir" --threads "$threads")
    fi
    shown=$(shell_words "${cmd[@]}")
    if ((dry)); then
        printf '%s\n' "$shown"
        continue
    fi

    while (($(jobs -pr | wc -l) >= jobs)); do wait -n || true; done # a free slot
    mkdir -p -- "$dir"
    if [[ $state == fresh ]]; then
        # nothing of an earlier spec may pass for this run's output
        rm -f -- "$dir/model.safetensors" "$dir/checkpoint.safetensors" "$dir/metrics.csv" "$dir/config.json"
        : >"$dir/train.log"
        ae_msg "$name: starting ($((r + 1))/$total)"
    else
        ae_msg "$name: resuming after epoch $ck ($((r + 1))/$total)"
    fi
    printf '%s' "${run_params[r]}" >"$dir/params.tsv"
    printf '%s\n' "$id" >"$dir/sweep.id"
    printf 'sweep: %s\n' "$shown" >>"$dir/train.log"

    run_job "$name" "$dir" "${cmd[@]}" &
    started+=("$r")
done
wait || true
((!dry)) || exit 0

# --- the outcome ---
failed=()
for r in "${started[@]}"; do
    is_complete "$out/${run_name[r]}" || failed+=("$r")
done
ae_msg "$total run(s): $((total - ${#failed[@]})) complete ($skipped skipped as already complete), ${#failed[@]} failed"
for r in "${failed[@]}"; do
    ae_warn "failed: $out/${run_name[r]}: $(last_line "$out/${run_name[r]}/train.log")"
done

rc=0
((${#failed[@]} == 0)) || rc=1
if compgen -G "$out/*/metrics.csv" >/dev/null; then
    bash "$here/summarize.sh" "$out" || rc=1
else
    ae_warn "no run wrote metrics.csv: nothing to summarize"
fi
exit "$rc"
