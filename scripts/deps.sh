#!/usr/bin/env bash
# Build dependencies, checked (and installed on Debian as root) in one place.
#
# Run it:     scripts/deps.sh [-h|--help] [--test|--fuzz|--mpi]
# Source it:  source scripts/deps.sh; ae_deps [--test|--fuzz|--mpi]   (the other scripts do this)
#
# --test adds what only the tests need: chromium, to render the run report
# headless (scripts/test.sh asks for it; building and quickstart do not).
# --fuzz adds clang and its libFuzzer/sanitizer runtimes (scripts/fuzz.sh).
# --mpi adds Open MPI (libopenmpi-dev, openmpi-bin), for the data-parallel
# build (-DAE_MPI=ON; scripts/test.sh --mpi, scripts/quickstart.sh --mpi).
#
# Sourcing defines AE_ROOT (the repo root), ae_msg/ae_warn/ae_die and ae_deps.
# ae_deps exports AE_PYTHON: the python3 that can import numpy, for the tests.
#
# Environment:
#   AE_DEPS_INSTALL=0  never install, only report what is missing (exit 1)
#   AE_PYTHON          python interpreter to check (default: python3 on PATH)
#   CC                 C compiler to check (default: cc or gcc)

# shellcheck disable=SC2034 # used by the scripts that source this file
AE_ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)

ae_msg() { printf '%s: %s\n' "${AE_PROG:-ae}" "$*"; }
ae_warn() { printf '%s: warning: %s\n' "${AE_PROG:-ae}" "$*" >&2; }
ae_die() {
    printf '%s: error: %s\n' "${AE_PROG:-ae}" "$*" >&2
    exit 1
}

# Debian package names for everything missing, and what each one is for;
# problems no package fixes go to AE_DEPS_FIX.
AE_DEPS_PKGS=()
AE_DEPS_WHY=()
AE_DEPS_FIX=()

_ae_need() {
    local pkg=$1
    shift
    AE_DEPS_WHY+=("$* [$pkg]")
    [[ " ${AE_DEPS_PKGS[*]} " == *" $pkg "* ]] || AE_DEPS_PKGS+=("$pkg")
}

_ae_deb_installed() {
    command -v dpkg-query >/dev/null 2>&1 &&
        [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) == installed ]]
}

# A pkg-config module; without pkg-config (not installed yet) ask dpkg.
_ae_have_module() {
    if command -v pkg-config >/dev/null 2>&1; then
        pkg-config --exists "$1"
    else
        _ae_deb_installed "$2"
    fi
}

# OpenBLAS without an openblas.pc: a cblas.h and a libopenblas the linker finds.
_ae_have_cblas_files() {
    (
        shopt -s nullglob
        local h=(/usr/include/cblas.h /usr/include/*/cblas.h /usr/include/*/*/cblas.h
            /usr/local/include/cblas.h /usr/local/include/*/cblas.h /opt/OpenBLAS/include/cblas.h)
        local l=(/usr/lib/libopenblas.so /usr/lib/*/libopenblas.so /usr/lib64/libopenblas.so
            /usr/local/lib/libopenblas.so /usr/local/lib64/libopenblas.so /opt/OpenBLAS/lib/libopenblas.so)
        ((${#h[@]} > 0 && ${#l[@]} > 0))
    )
}

# clang that can link -fsanitize=fuzzer (Debian: clang + libclang-rt-N-dev).
_ae_deps_scan_fuzz() {
    if ! command -v clang >/dev/null 2>&1; then
        _ae_need clang "clang, to build the fuzz harnesses"
        return
    fi
    local rt major
    rt=$(clang -print-file-name=libclang_rt.fuzzer-x86_64.a 2>/dev/null || true)
    if [[ $rt != /* || ! -f $rt ]]; then
        major=$(clang -dumpversion 2>/dev/null || true)
        major=${major%%.*}
        _ae_need "libclang-rt-${major:-14}-dev" "clang's libFuzzer runtime (libclang_rt.fuzzer)"
    fi
}

_ae_deps_scan() {
    local for_tests=${1:-0}
    AE_DEPS_PKGS=()
    AE_DEPS_WHY=()
    AE_DEPS_FIX=()

    local v
    if ! command -v cmake >/dev/null 2>&1; then
        _ae_need cmake "cmake >= 3.18"
    elif [[ $(cmake --version 2>/dev/null) =~ ([0-9]+)\.([0-9]+) ]]; then
        if ((BASH_REMATCH[1] < 3 || (BASH_REMATCH[1] == 3 && BASH_REMATCH[2] < 18))); then
            v="${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"
            _ae_need cmake "cmake >= 3.18 (found $v)"
        fi
    else
        _ae_need cmake "cmake >= 3.18 (cmake --version failed)"
    fi

    if [[ -n ${CC:-} ]]; then
        command -v "${CC%% *}" >/dev/null 2>&1 || _ae_need gcc "the C compiler CC=$CC"
    elif ! command -v cc >/dev/null 2>&1 && ! command -v gcc >/dev/null 2>&1; then
        _ae_need gcc "a C compiler (cc or gcc)"
    fi
    command -v make >/dev/null 2>&1 || _ae_need make "make"
    command -v pkg-config >/dev/null 2>&1 || _ae_need pkg-config "pkg-config"

    _ae_have_module openblas libopenblas-dev || _ae_have_cblas_files ||
        _ae_need libopenblas-dev "OpenBLAS (pkg-config module openblas)"
    _ae_have_module libcjson libcjson-dev || _ae_need libcjson-dev "cJSON (pkg-config module libcjson)"
    _ae_have_module zlib zlib1g-dev || _ae_need zlib1g-dev "zlib (pkg-config module zlib)"
    _ae_have_module check check || _ae_need check "Check (pkg-config module check)"

    local py=${AE_PYTHON:-python3}
    if ! command -v "$py" >/dev/null 2>&1; then
        _ae_need python3 "$py"
        _ae_need python3-numpy "numpy for $py"
    elif ! "$py" -c 'import numpy' >/dev/null 2>&1; then
        # A python3 from pyenv/conda may shadow Debian's, which has numpy.
        if [[ -z ${AE_PYTHON:-} && $(command -v "$py") != /usr/bin/python3 ]] &&
            /usr/bin/python3 -c 'import numpy' >/dev/null 2>&1; then
            ae_msg "note: $(command -v "$py") has no numpy; the tests will use AE_PYTHON=/usr/bin/python3"
            AE_PYTHON=/usr/bin/python3
        elif _ae_deb_installed python3-numpy; then
            AE_DEPS_FIX+=("$(command -v "$py") cannot import numpy (Debian's python3-numpy is for /usr/bin/python3): pip install numpy, or set AE_PYTHON=/usr/bin/python3")
        else
            _ae_need python3-numpy "numpy for $(command -v "$py")"
        fi
    fi
    export AE_PYTHON=${AE_PYTHON:-python3}

    if [[ $for_tests == fuzz ]]; then
        _ae_deps_scan_fuzz
    elif [[ $for_tests == mpi ]]; then
        pkg-config --exists ompi-c 2>/dev/null || _ae_need libopenmpi-dev "Open MPI's headers and libraries (pkg-config module ompi-c)"
        command -v mpirun >/dev/null 2>&1 || _ae_need openmpi-bin "mpirun, to start the MPI ranks"
    elif ((for_tests)); then
        command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 ||
            _ae_need chromium "chromium, to render the run report in the tests"
        [[ -x /usr/bin/time ]] || _ae_need time "/usr/bin/time, to measure peak memory in the tests"
    fi
}

_ae_deps_report() {
    local w
    if ((${#AE_DEPS_WHY[@]} > 0)); then
        ae_msg "missing:"
        for w in "${AE_DEPS_WHY[@]}"; do
            printf '  %s\n' "$w"
        done
    fi
    for w in "${AE_DEPS_FIX[@]}"; do
        ae_msg "problem: $w"
    done
}

ae_deps() {
    local for_tests=0
    [[ ${1:-} == --test ]] && for_tests=1
    [[ ${1:-} == --fuzz ]] && for_tests=fuzz
    [[ ${1:-} == --mpi ]] && for_tests=mpi
    _ae_deps_scan "$for_tests"
    if ((${#AE_DEPS_PKGS[@]} == 0 && ${#AE_DEPS_FIX[@]} == 0)); then
        ae_msg "build dependencies present"
        return 0
    fi
    _ae_deps_report
    ((${#AE_DEPS_PKGS[@]} > 0)) || exit 1

    if [[ $(id -u) -ne 0 || ${AE_DEPS_INSTALL:-1} == 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        ae_msg "install them as root (e.g. with sudo) on Debian/Ubuntu:"
        printf '  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends %s\n' \
            "${AE_DEPS_PKGS[*]}"
        exit 1
    fi

    ae_msg "installing: ${AE_DEPS_PKGS[*]}"
    apt-get -q update </dev/null || ae_die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get -q install -y --no-install-recommends "${AE_DEPS_PKGS[@]}" </dev/null ||
        ae_die "apt-get install failed"

    _ae_deps_scan "$for_tests"
    if ((${#AE_DEPS_PKGS[@]} > 0 || ${#AE_DEPS_FIX[@]} > 0)); then
        _ae_deps_report
        ae_die "still missing after apt-get install (see above)"
    fi
    ae_msg "build dependencies installed"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -euo pipefail
    AE_PROG=deps
    case ${1:-} in
    -h | --help)
        sed -n '2,/^$/s/^# \{0,1\}//p' "$0"
        exit 0
        ;;
    "" | --test | --fuzz | --mpi) ;;
    *)
        printf 'usage: %s [-h|--help] [--test|--fuzz|--mpi]\n' "$0" >&2
        exit 2
        ;;
    esac
    ae_deps "$@"
fi
