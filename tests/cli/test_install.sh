#!/usr/bin/env bash
# cmake --install into a scratch prefix: the programs, libae with its
# headers, libae.pc and the CMake package, a man page and a bash completion
# file for every installed program.  A C program built with
# `pkg-config --cflags --libs libae` (and again with find_package(ae))
# loads a trained model, encodes one example and prints the code aeencode
# prints for it; a man page renders; the completion completes options and
# their values.
source "$(dirname "$0")/lib.sh"
need_mnist
P=$WORK/prefix
cmake --install "$AE_BUILD" --prefix "$P" >install.log 2>&1 || { fail "cmake --install: $(tail -5 install.log)"; finish; }

# --- what is installed ---
progs=()
for f in "$P"/bin/*; do progs+=("$(basename "$f")"); done
[ "${#progs[@]}" -ge 9 ] && ok || fail "installed programs: ${progs[*]}"
for p in "${progs[@]}"; do
    [ -x "$P/bin/$p" ] && [ -x "$AE_BUILD/$p" ] && ok || fail "$p: not a program of the build"
    [ -s "$P/share/man/man1/$p.1" ] && ok || fail "$p: no man page"
    [ -s "$P/share/bash-completion/completions/$p" ] && ok || fail "$p: no bash completion"
    "$P/bin/$p" --version >/dev/null && ok || fail "$p --version"
    # each page renders with its NAME line; each completion file registers
    groff -man -Tutf8 "$P/share/man/man1/$p.1" 2>/dev/null | sed 's/.\x08//g' | grep -Eq "^ *$p +- +[a-z]" \
        && ok || fail "$p.1 does not render with a NAME line"
    [ "$(bash -c 'source "$1" && complete -p "$2"' _ "$P/share/bash-completion/completions/$p" "$p" 2>&1)" = \
        "complete -o bashdefault -o default -F _$p $p" ] && ok || fail "$p: completion does not register"
done
[ -f "$P/lib/libae.a" ] && [ -f "$P/include/ae/model.h" ] && [ -f "$P/include/ae/onnx.h" ] && ok \
    || fail "libae.a or the headers missing: $(find "$P" -name 'libae*' -o -name model.h)"

# --- a man page renders: NAME from the program's source, OPTIONS from --help ---
groff -man -Tutf8 "$P/share/man/man1/aeencode.1" 2>/dev/null | sed 's/.\x08//g' >aeencode.txt || fail "groff"
grep -Eq "aeencode +- +write +the +latent +codes" aeencode.txt && grep -q -- "--logvar" aeencode.txt \
    && ok || fail "aeencode.1 rendered: $(head -20 aeencode.txt)"
if command -v man >/dev/null 2>&1; then
    MANWIDTH=80 man -l "$P/share/man/man1/aeexport.1" 2>/dev/null | sed 's/.\x08//g' | grep -q -- "--decoder FILE" \
        && ok || fail "man -l aeexport.1"
fi

# --- bash completion: options, and the alternatives of an option's value ---
complete_words() { # complete_words PROG WORD... : what completing the last word offers
    local prog=$1
    shift
    bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); "_$1"; echo "${COMPREPLY[*]}"' \
        _ "$P/share/bash-completion/completions/$prog" "$prog" "$@"
}
[ "$(complete_words aeencode --for)" = "--format" ] && ok || fail "aeencode --for<TAB>: $(complete_words aeencode --for)"
[ "$(complete_words aeencode --format "")" = "csv npy" ] && ok || fail "aeencode --format <TAB>: $(complete_words aeencode --format "")"
[ "$(complete_words aeexport --model m --de)" = "--decoder" ] && ok || fail "aeexport --de<TAB>"
[ -z "$(complete_words aeexport --model "")" ] && ok || fail "aeexport --model <TAB> should offer files (empty reply)"

# --- the library from a user's program ---
T10K=$MNIST/t10k-images-idx3-ubyte.gz
"$P/bin/aetrain" --config "$AE_SOURCE/configs/vae.json" "${MNIST_SET[@]}" --set data.train_limit=1000 \
    --set data.test_limit=100 --set output.images=false --threads 1 --quiet --epochs 1 --out vae || fail "train"
"$P/bin/aeencode" --model vae/model.safetensors --data "$T10K" --out codes.csv || fail "aeencode"
export PKG_CONFIG_PATH=$P/lib/pkgconfig
# shellcheck disable=SC2046 # the flags are words
cc -std=c11 -Wall -Wextra -Wpedantic -Werror -o encode_one "$AE_SOURCE/tests/cli/install/encode_one.c" \
    $(pkg-config --cflags --libs libae) 2>cc.log && ok || fail "cc with pkg-config libae: $(cat cc.log)"
# codes of examples 0 and 7: the library's, as aeencode's (to float rounding:
# one example is a batch of one, aeencode's a batch of a thousand)
same_code() { # same_code PROGRAM I
    "$PY" - "$("$1" vae/model.safetensors "$T10K" "$2")" "$(sed -n "$(($2 + 2))p" codes.csv)" <<'PY'
import sys
a = [float(v) for v in sys.argv[1].split(",")]
b = [float(v) for v in sys.argv[2].split(",")[1:]]  # index, z0, ...
assert len(a) == len(b) == 20, (len(a), len(b))
d = max(abs(x - y) / max(1.0, abs(y)) for x, y in zip(a, b))
print(f"largest difference {d:.1e}")
sys.exit(0 if d <= 1e-5 else 1)
PY
}
for i in 0 7; do
    same_code ./encode_one $i && ok || fail "encode_one $i differs from aeencode"
done

# --- find_package(ae) in a CMake project ---
if cmake -S "$AE_SOURCE/tests/cli/install" -B consumer -DCMAKE_PREFIX_PATH="$P" >consumer.log 2>&1 &&
    cmake --build consumer >>consumer.log 2>&1; then
    ok
    same_code consumer/encode_one 3 && ok || fail "find_package build: encode_one 3 differs from aeencode"
else
    fail "find_package(ae) consumer: $(tail -20 consumer.log)"
fi
finish
