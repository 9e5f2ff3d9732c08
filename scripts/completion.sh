#!/usr/bin/env bash
# Writes the bash completion of one program from its --help text (the build
# runs it for every program, so completion cannot drift from the options):
#   usage: scripts/completion.sh PROGRAM OUT
# Options are the lines of --help that start with spaces and --name; an
# option followed by one space and a word takes a value, and a word of
# lower-case alternatives (csv|npy) is the list of values to offer; any
# other value completes as a file name.
set -euo pipefail
if (($# != 2)); then
    echo "usage: $0 PROGRAM OUT" >&2
    exit 2
fi
prog=$1
out=$2
name=$(basename -- "$prog")
help=$("$prog" --help)
opts=()
cases=""
while IFS= read -r line; do
    # "  --a, --b" lists flags; "  --opt VALUE  text" an option with a value
    [[ $line =~ ^\ +(--[a-z0-9-]+)(,\ *--[a-z0-9-]+)*(\ ([^ ]+))?(\ \ |$) ]] || continue
    for o in $(grep -o -- '--[a-z0-9-]*' <<<"${line%%  [^ -]*}"); do
        [[ " ${opts[*]} " == *" $o "* ]] || opts+=("$o")
    done
    first=${BASH_REMATCH[1]} value=${BASH_REMATCH[4]}
    if [[ $value =~ ^[a-z0-9_.-]+(\|[a-z0-9_.-]+)+$ ]]; then
        cases+="    $first) COMPREPLY=(\$(compgen -W '${value//|/ }' -- \"\$cur\")); return ;;"$'\n'
    elif [[ -n $value ]]; then
        cases+="    $first) return ;;"$'\n'
    fi
done <<<"$help"
if ((${#opts[@]} == 0)); then
    echo "$0: no options found in '$prog --help'" >&2
    exit 1
fi
fn="_${name//[^a-zA-Z0-9_]/_}"
tmp="$out.tmp.$$"
mkdir -p -- "$(dirname -- "$out")"
cat >"$tmp" <<COMP
# bash completion for $name, generated from \`$name --help\` by scripts/completion.sh
$fn() {
    local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}
    COMPREPLY=()
    # a value: its alternatives, or (empty reply) file names
    case \$prev in
$cases    esac
    if [[ \$cur == -* ]]; then
        COMPREPLY=(\$(compgen -W '${opts[*]}' -- "\$cur"))
    fi
}
complete -o bashdefault -o default -F $fn $name
COMP
mv -- "$tmp" "$out"
