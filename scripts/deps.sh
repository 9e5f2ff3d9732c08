#!/usr/bin/env bash
# Build dependencies, checked (and installed on Debian as root) in one place.
#
# Run it:     scripts/deps.sh [-h|--help] [--test] [--fuzz] [--mpi]
# Source it:  source scripts/deps.sh; ae_deps [--test] [--fuzz] [--mpi]   (the other scripts do this)
#
# Without options: what building and training need (cmake, a C compiler,
# make, pkg-config, OpenBLAS, oneDNN, cJSON, zlib, protobuf-c with protoc-c
# for ONNX export, help2man for the man pages); scripts/quickstart.sh asks
# for just this.
# --test adds what only the tests need: Check, python3 with numpy, chromium
# (to render the run report headless), /usr/bin/time, valgrind and procps
# (pgrep), node and npm (ONNX Runtime), python3-onnx and groff
# (scripts/test.sh).
# --fuzz adds clang and its libFuzzer/sanitizer runtimes (scripts/fuzz.sh).
# --mpi adds Open MPI (libopenmpi-dev, openmpi-bin), for the data-parallel
# build (-DAE_MPI=ON; scripts/test.sh --mpi, scripts/quickstart.sh --mpi).
#
# Sourcing defines AE_ROOT (the repo root), ae_msg/ae_warn/ae_die and ae_deps.
# ae_deps --test exports AE_PYTHON: the python3 that can import numpy.
#
# Environment:
#   AE_DEPS_INSTALL=0  never install, only report what is missing (exit 1)
#   AE_PYTHON          python interpreter for the tests (default: python3 on
#                      PATH if it imports numpy, else /usr/bin/python3)
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

# OpenBLAS without an openblas.pc: a cblas.h and a libopenblas.so that exist
# where the linker looks (what CMake's fallback, FindBLAS with BLA_VENDOR
# OpenBLAS, will find).  A reference BLAS's cblas.h alone does not count.
_ae_have_cblas_files() {
    local f h=0 l=0
    for f in /usr/include/cblas.h /usr/include/*/cblas.h /usr/include/*/*/cblas.h \
        /usr/local/include/cblas.h /usr/local/include/*/cblas.h /opt/OpenBLAS/include/cblas.h; do
        [[ -f $f ]] && h=1
    done
    for f in /usr/lib/libopenblas.so /usr/lib/*/libopenblas.so /usr/lib64/libopenblas.so \
        /usr/local/lib/libopenblas.so /usr/local/lib64/libopenblas.so /opt/OpenBLAS/lib/libopenblas.so; do
        [[ -e $f ]] && l=1
    done
    ((h && l))
}

# The python3 for the tests, chosen the same way before and after installing:
# AE_PYTHON if the caller set it, else python3 on PATH if it imports numpy,
# else Debian's /usr/bin/python3 (a pyenv or conda python3 may shadow it).
AE_PYTHON_GIVEN=${AE_PYTHON:-}
_ae_pick_python() {
    local py
    if [[ -n $AE_PYTHON_GIVEN ]]; then
        AE_PYTHON=$AE_PYTHON_GIVEN
        return
    fi
    py=$(command -v python3 2>/dev/null || true)
    if [[ -n $py ]] && "$py" -c 'import numpy' >/dev/null 2>&1; then
        AE_PYTHON=$py
    else
        AE_PYTHON=/usr/bin/python3
    fi
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

# _ae_deps_scan TEST FUZZ MPI (each 0 or 1): fills AE_DEPS_PKGS/WHY/FIX.
_ae_deps_scan() {
    local for_tests=$1 for_fuzz=$2 for_mpi=$3
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
        _ae_need libopenblas-dev "OpenBLAS with its LAPACK (pkg-config module openblas)"
    _ae_have_module libcjson libcjson-dev || _ae_need libcjson-dev "cJSON (pkg-config module libcjson)"
    _ae_have_module zlib zlib1g-dev || _ae_need zlib1g-dev "zlib (pkg-config module zlib)"
    # oneDNN, the default GEMM backend (CMake finds its header and library)
    [[ -f /usr/include/oneapi/dnnl/dnnl.h ]] || _ae_need libdnnl-dev "oneDNN (the dense layers' default backend)"
    # ONNX export (aeexport) and the installed man pages
    _ae_have_module libprotobuf-c libprotobuf-c-dev || _ae_need libprotobuf-c-dev "protobuf-c (pkg-config module libprotobuf-c), for ONNX export"
    command -v protoc-c >/dev/null 2>&1 || _ae_need protobuf-c-compiler "protoc-c, to compile onnx.proto"
    command -v help2man >/dev/null 2>&1 || _ae_need help2man "help2man, to make the man pages from --help"

    if ((for_tests)); then
        _ae_have_module check check || _ae_need check "Check (pkg-config module check), for the test suites"
        _ae_pick_python
        if ! command -v "$AE_PYTHON" >/dev/null 2>&1; then
            _ae_need python3-numpy "python3 with numpy ($AE_PYTHON), for the tests"
        elif ! "$AE_PYTHON" -c 'import numpy' >/dev/null 2>&1; then
            if [[ $AE_PYTHON == /usr/bin/python3 ]] && ! _ae_deb_installed python3-numpy; then
                _ae_need python3-numpy "numpy for /usr/bin/python3, for the tests"
            else
                AE_DEPS_FIX+=("$AE_PYTHON cannot import numpy: pip install numpy for it, or set AE_PYTHON to a python3 that has numpy (Debian's python3-numpy is for /usr/bin/python3)")
            fi
        fi
        export AE_PYTHON
        command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 ||
            _ae_need chromium "chromium, to render the run report in the tests"
        [[ -x /usr/bin/time ]] || _ae_need time "/usr/bin/time, to measure peak memory in the tests"
        command -v valgrind >/dev/null 2>&1 || _ae_need valgrind "valgrind, for the memory-check test"
        command -v pgrep >/dev/null 2>&1 || _ae_need procps "pgrep (procps), to look for leftover processes in the tests"
        # the export test runs the graphs in ONNX Runtime (npm package
        # onnxruntime-node) and checks them with Debian's python3-onnx
        command -v node >/dev/null 2>&1 || _ae_need nodejs "node, to run exported ONNX graphs"
        command -v npm >/dev/null 2>&1 || _ae_need npm "npm, to install onnxruntime-node for the export test"
        [[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c 'import onnx' >/dev/null 2>&1 ||
            _ae_need python3-onnx "the ONNX checker for /usr/bin/python3 (import onnx), for the export test"
        command -v groff >/dev/null 2>&1 || _ae_need groff-base "groff, to render a man page in the install test"
    fi
    ((for_fuzz)) && _ae_deps_scan_fuzz
    if ((for_mpi)); then
        _ae_have_module ompi-c libopenmpi-dev || _ae_need libopenmpi-dev "Open MPI's headers and libraries (pkg-config module ompi-c)"
        command -v mpirun >/dev/null 2>&1 || _ae_need openmpi-bin "mpirun, to start the MPI ranks"
    fi
    return 0
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
    local t=0 f=0 m=0 a
    for a in "$@"; do
        case $a in
        --test) t=1 ;;
        --fuzz) f=1 ;;
        --mpi) m=1 ;;
        *) ae_die "ae_deps: unknown option '$a'" ;;
        esac
    done
    _ae_deps_scan $t $f $m
    if ((${#AE_DEPS_PKGS[@]} == 0 && ${#AE_DEPS_FIX[@]} == 0)); then
        ae_msg "dependencies present"
        return 0
    fi
    _ae_deps_report
    ((${#AE_DEPS_PKGS[@]} > 0)) || exit 1

    local why=
    if [[ $(id -u) -ne 0 ]]; then
        why="not root"
    elif [[ ${AE_DEPS_INSTALL:-1} == 0 ]]; then
        why="AE_DEPS_INSTALL=0"
    elif ! command -v apt-get >/dev/null 2>&1; then
        why="no apt-get on this machine"
    fi
    if [[ -z $why ]]; then
        ae_msg "installing: ${AE_DEPS_PKGS[*]}"
        if ! apt-get -q update </dev/null; then
            why="apt-get update failed"
        elif ! DEBIAN_FRONTEND=noninteractive apt-get -q install -y --no-install-recommends \
            "${AE_DEPS_PKGS[@]}" </dev/null; then
            why="apt-get install failed"
        fi
    fi
    if [[ -n $why ]]; then
        ae_msg "cannot install ($why): ${AE_DEPS_PKGS[*]}" >&2
        ae_msg "install them as root (e.g. with sudo) on Debian/Ubuntu, then run this again:" >&2
        printf '  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends %s\n' \
            "${AE_DEPS_PKGS[*]}" >&2
        exit 1
    fi

    _ae_deps_scan $t $f $m
    if ((${#AE_DEPS_PKGS[@]} > 0 || ${#AE_DEPS_FIX[@]} > 0)); then
        _ae_deps_report
        ae_die "still missing after apt-get install (see above)"
    fi
    ae_msg "dependencies installed"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -euo pipefail
    AE_PROG=deps
    for a in "$@"; do
        case $a in
        -h | --help)
            sed -n '2,/^$/s/^# \{0,1\}//p' "$0"
            exit 0
            ;;
        --test | --fuzz | --mpi) ;;
        *)
            printf 'usage: %s [-h|--help] [--test] [--fuzz] [--mpi]\n' "$0" >&2
            exit 2
            ;;
        esac
    done
    ae_deps "$@"
fi
