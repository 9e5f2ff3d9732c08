#!/usr/bin/env bash
# Build the libFuzzer harnesses (clang, ASan + UBSan) and fuzz one parser.
#
# usage: scripts/fuzz.sh [-h|--help] TARGET SECONDS
#   TARGET   idx | csv | spec | checkpoint | codes | all (each in turn)
#   SECONDS  how long to fuzz each target
#
# Builds build-fuzz/ with CC=clang and -DAE_FUZZ=ON, copies the seeds
# fuzz/corpus/TARGET/ into a scratch folder (the committed corpus never
# grows) and runs build-fuzz/fuzz_TARGET there with -timeout=10
# -rss_limit_mb=2048 and leak detection.  A crash, leak, timeout or
# sanitizer report fails the run: the input is copied to
# tests/fuzz-regressions/TARGET/ (tests/test_fuzz_regressions.c replays it in
# the normal suite) and the command that reproduces it is printed.
# Environment: AE_FUZZ_JOBS (build parallelism, default nproc); the packages
# come from scripts/deps.sh --fuzz.
# Exits 0 when every target ran clean, 1 otherwise, 2 for bad usage.

set -euo pipefail
AE_PROG='fuzz'
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deps.sh
source "$here/deps.sh"

targets=(idx csv spec checkpoint codes)
usage() {
    printf 'usage: scripts/fuzz.sh [-h|--help] TARGET SECONDS  (TARGET: %s | all)\n' "${targets[*]}" >&2
    exit 2
}
case ${1:-} in
-h | --help)
    sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
    exit 0
    ;;
esac
(($# == 2)) || usage
[[ $2 =~ ^[0-9]+$ && $2 -gt 0 ]] || usage
seconds=$2
if [[ $1 == all ]]; then
    run=("${targets[@]}")
elif [[ " ${targets[*]} " == *" $1 "* ]]; then
    run=("$1")
else
    usage
fi
cd "$AE_ROOT"

ae_deps --fuzz
dir=build-fuzz
ae_msg "building the harnesses into $dir/"
CC=clang cmake -S . -B "$dir" -DAE_FUZZ=ON -DAE_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$dir" -j"${AE_FUZZ_JOBS:-$(nproc)}" --target "${run[@]/#/fuzz_}"

work=$(mktemp -d "${TMPDIR:-/tmp}/ae-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
export OPENBLAS_NUM_THREADS=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
for t in "${run[@]}"; do
    mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
    cp fuzz/corpus/"$t"/* "$work/$t/corpus/"
    ae_msg "fuzzing $t for ${seconds}s"
    rc=0
    # -close_fd_mask=1: the library never writes to stdout; keep the log short.
    "$dir/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -detect_leaks=1 -print_final_stats=1 -close_fd_mask=1 \
        -artifact_prefix="$work/$t/artifacts/" "$work/$t/corpus" \
        >"$work/$t/log" 2>&1 || rc=$?
    grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)' \
        "$work/$t/log" | sed "s/^/  $t: /" || true
    shopt -s nullglob
    found=("$work/$t/artifacts"/*)
    shopt -u nullglob
    if ((rc != 0 || ${#found[@]} > 0)); then
        failed+=("$t")
        tail -n 60 "$work/$t/log" >&2
        mkdir -p "tests/fuzz-regressions/$t"
        for f in "${found[@]}"; do
            cp "$f" "tests/fuzz-regressions/$t/"
            ae_warn "$t: kept tests/fuzz-regressions/$t/$(basename -- "$f")"
            ae_warn "reproduce: $dir/fuzz_$t tests/fuzz-regressions/$t/$(basename -- "$f")"
        done
        ((${#found[@]} > 0)) || ae_warn "$t: fuzzer exited with status $rc and left no input"
    fi
done

if ((${#failed[@]} > 0)); then
    ae_die "failed: ${failed[*]} (the inputs now also run in tests/test_fuzz_regressions)"
fi
ae_msg "no crash, leak or sanitizer report in: ${run[*]}"
