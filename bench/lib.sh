# Shared by the MNIST benchmarks (bench/*.sh), sourced after their option
# parsing: bench_setup NAME OUT PROG... checks that build/PROG exists for
# each PROG, fetches MNIST (scripts/get-mnist.sh) and sets
#   root  the repository,  M  the MNIST folder,  out  the runs' folder
# (OUT, or a temporary folder removed on exit when OUT is empty).
bench_setup() {
    local name=$1 p
    out=$2
    shift 2
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    for p in "$@"; do
        [ -x "$root/build/$p" ] || { echo "bench/$name.sh: build first (build/$p)" >&2; exit 2; }
    done
    bash "$root/scripts/get-mnist.sh" >&2
    M=$root/data/mnist
    if [ -z "$out" ]; then
        out=$(mktemp -d)
        # shellcheck disable=SC2064
        trap "rm -rf '$out'" EXIT
    fi
    mkdir -p "$out"
}
