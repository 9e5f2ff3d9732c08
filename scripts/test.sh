#!/usr/bin/env bash
# Build and run every test (Check suites and CLI tests) with CTest.
#
# usage: scripts/test.sh [-h|--help] [--sanitize | --mpi] [ctest options...]
#   --sanitize  Debug build with AddressSanitizer + UBSan in build-asan/
#               (default: the Release build in build/); skips the tests
#               labelled slow (full-size training runs)
#   --mpi       installs Open MPI if missing, builds with -DAE_MPI=ON into
#               build-mpi/ and runs the data-parallel tests (label mpi:
#               1 process against mpirun -np 2)
#   Other options go to ctest, e.g. scripts/test.sh -R data -V
#
# Sets OPENBLAS_NUM_THREADS=1; with --sanitize also CK_FORK=no and, unless
# already set, ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 and
# UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1.
# Environment for the steps: see scripts/deps.sh --help, scripts/get-mnist.sh --help.
# Exits with ctest's status.

set -euo pipefail
AE_PROG='test'
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deps.sh
source "$here/deps.sh"

mode=release
while (($# > 0)); do
    case $1 in
    -h | --help)
        sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
        exit 0
        ;;
    --sanitize) mode=sanitize ;;
    --mpi) mode=mpi ;;
    *) break ;;
    esac
    shift
done
cd "$AE_ROOT"

start=$SECONDS
elapsed() {
    local rc=$? t=$((SECONDS - start))
    ae_msg "finished in $((t / 60))m$((t % 60))s, exit status $rc"
}
trap elapsed EXIT

if [[ $mode == mpi ]]; then
    ae_deps --test --mpi
else
    ae_deps --test
fi
bash scripts/get-mnist.sh

if [[ $mode == mpi ]]; then
    dir=build-mpi
    ae_msg "building with Open MPI into $dir/"
    cmake -S . -B "$dir" -DAE_MPI=ON -DAE_BUILD_TESTS=ON
    set -- -L mpi "$@"
elif [[ $mode == sanitize ]]; then
    dir=build-asan
    ae_msg "building with sanitizers into $dir/"
    cmake -S . -B "$dir" -DAE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DAE_BUILD_TESTS=ON
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    # Check forks each test by default; without the fork a sanitizer report
    # stops the suite where it happens and leaks are seen in one process.
    export CK_FORK=no
    # Full-size training (label "slow") takes many minutes unoptimised; the
    # Release run covers it.
    set -- -LE slow "$@"
else
    dir=build
    ae_msg "building into $dir/"
    cmake -S . -B "$dir" -DAE_MPI=OFF -DAE_BUILD_TESTS=ON
fi
cmake --build "$dir" -j"$(nproc)"

export OPENBLAS_NUM_THREADS=1
ae_msg "running tests in $dir/"
ctest --test-dir "$dir" --output-on-failure --no-tests=error -j2 "$@"
