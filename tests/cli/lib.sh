# Shared by the CLI tests: where the programs and MNIST are, a scratch
# folder, and assertions.  Sourced, not run.
set -euo pipefail

AE_SOURCE=${AE_SOURCE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
AE_BUILD=${AE_BUILD:-$AE_SOURCE/build}
AETRAIN=$AE_BUILD/aetrain
AEENCODE=$AE_BUILD/aeencode
AESAMPLE=$AE_BUILD/aesample
PY=${AE_PYTHON:-/usr/bin/python3}
[ -x "$PY" ] || PY=python3

# MNIST: the repo's data/mnist (scripts/test.sh fetches it), else the shared copy.
MNIST=""
for d in "${AE_MNIST_DIR:-}" "$AE_SOURCE/data/mnist" "$AE_SOURCE/../shared/data/mnist"; do
    if [ -n "$d" ] && [ -f "$d/train-images-idx3-ubyte.gz" ]; then
        MNIST=$(cd "$d" && pwd)
        break
    fi
done

# --set options pointing a shipped config at this MNIST copy.
MNIST_SET=()
if [ -n "$MNIST" ]; then
    MNIST_SET=(--set "data.train=\"$MNIST/train-images-idx3-ubyte.gz\""
               --set "data.train_labels=\"$MNIST/train-labels-idx1-ubyte.gz\""
               --set "data.test=\"$MNIST/t10k-images-idx3-ubyte.gz\""
               --set "data.test_labels=\"$MNIST/t10k-labels-idx1-ubyte.gz\"")
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ae-cli.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

FAILS=0
CHECKS=0
fail() {
    echo "FAIL: $*" >&2
    FAILS=$((FAILS + 1))
}
ok() { CHECKS=$((CHECKS + 1)); }

need_mnist() {
    if [ -z "$MNIST" ]; then
        echo "MNIST not found: run scripts/get-mnist.sh (or set AE_MNIST_DIR)" >&2
        exit 1
    fi
}

# expect CODE PATTERN -- command...: exit code and a stderr pattern (grep -E).
expect() {
    local code=$1 pattern=$2
    shift 3
    local out rc=0
    out=$("$@" 2>&1 >/dev/null) || rc=$?
    if [ "$rc" -ne "$code" ]; then
        fail "expected exit $code, got $rc: $* :: $out"
        return 0
    fi
    if [ -n "$pattern" ] && ! grep -Eq -- "$pattern" <<<"$out"; then
        fail "stderr of '$*' lacks /$pattern/: $out"
        return 0
    fi
    [ -n "${AE_ERRORS_LOG:-}" ] && errors_log "$code" "$out" "$@"
    ok
}

# With AE_ERRORS_LOG set, each passing expect appends "code<TAB>command<TAB>
# message" (the last stderr line), paths made relative and the options named
# in ERRORS_ELIDE shown as "...": scripts/errors-doc.sh turns it into
# docs/errors.md, so the document lists exactly what the tests check.
ERRORS_ELIDE=""
errors_section() {
    if [ -n "${AE_ERRORS_LOG:-}" ]; then printf '#\t%s\n' "$1" >>"$AE_ERRORS_LOG"; fi
    return 0
}
errors_log() {
    local code=$1 out=$2
    shift 2
    local cmd="$*" msg
    msg=$(tail -n 1 <<<"$out")
    [ -n "$ERRORS_ELIDE" ] && cmd=${cmd//"$ERRORS_ELIDE"/...}
    local from to
    for from in "$AE_BUILD/" "$AE_SOURCE/" "$MNIST" "$WORK/"; do
        case $from in "$MNIST") to=data/mnist ;; *) to="" ;; esac
        cmd=${cmd//"$from"/$to}
        msg=${msg//"$from"/$to}
    done
    printf '%s\t%s\t%s\n' "$code" "$cmd" "$msg" >>"$AE_ERRORS_LOG"
}

assert_file() {
    if [ -s "$1" ]; then ok; else fail "missing or empty file $1"; fi
}

# png_size FILE -> "W H" after checking signature, chunk CRCs and the image data.
png_size() {
    "$PY" - "$1" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "bad PNG signature"
pos, idat, w = 8, b"", None
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    crc, = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
    assert zlib.crc32(kind + body) == crc, "bad CRC in chunk %r" % kind
    if kind == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
        assert depth == 8 and ctype in (0, 2)
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
chan = 1 if ctype == 0 else 3
assert len(zlib.decompress(idat)) == h * (1 + w * chan), "wrong image data size"
print(w, h)
PY
}

# Moments for signals and kill -9 come from the run's progress, never from a
# sleep: the tests start aetrain with AE_PAUSE_AT (include/ae/pause.h), which
# stops it with SIGSTOP at a named point, and wait for that.
# proc_state PID: the state letter in /proc/PID/stat (R, S, T, Z, ...), or
# nothing once the process is gone.
proc_state() {
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    s=${s##*) }   # after the command name, which may hold spaces or ')'
    echo "${s%% *}"
}

# wait_stopped PID: until PID is stopped (state T); fails if it ends instead.
# No time limit of its own: a hung run is ctest's TIMEOUT to catch.
wait_stopped() {
    local st
    while :; do
        st=$(proc_state "$1")
        case $st in
            T) return 0 ;;
            "" | Z | X) return 1 ;;
        esac
        sleep 0.01
    done
}

# running PID: the process has not ended (a zombie has)
running() {
    case $(proc_state "$1") in "" | Z | X) return 1 ;; *) return 0 ;; esac
}

finish() {
    echo "$CHECKS checks passed, $FAILS failed"
    [ "$FAILS" -eq 0 ]
}
