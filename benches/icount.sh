#!/usr/bin/env bash
# Instructions per frame of the LPP and codecs bench paths, under valgrind's callgrind: each
# path runs N and N + 10 iterations of its 1,000 frames (`icount`, built with the bench
# profile, the code criterion times); the difference over 10,000 frames is one frame's cost,
# deterministic whatever the load. Not a time: a count, to compare two builds of one path.
#
#   benches/icount.sh                 every path
#   benches/icount.sh REGEX           the paths matching REGEX (grep -E)
#
# Environment: CARGO_TARGET_DIR; ICOUNT_PROFILE (bench, the profile criterion uses); ICOUNT_BIN
# (an icount binary built before, e.g. of another commit: nothing is built).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="$(realpath -m "${CARGO_TARGET_DIR:-$root/target}")"
cd "$root"
export CARGO_TARGET_DIR="$target"
command -v valgrind >/dev/null || { echo "icount.sh: needs valgrind (Debian: apt install valgrind)" >&2; exit 2; }
profile="${ICOUNT_PROFILE:-bench}"
case "$profile" in
    bench | release) dir=release ;;
    *) dir="$profile" ;;
esac
[ -n "${ICOUNT_BIN:-}" ] || cargo build --quiet --profile "$profile" -p lorafield-benches --bin icount
bin="${ICOUNT_BIN:-$target/$dir/icount}"

count() {
    local out
    out="$(mktemp)"
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" >/dev/null 2>"$out"
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out"
    rm -f "$out"
}

printf '%-72s %12s\n' "path ($profile profile)" "instr/frame"
"$bin" list | grep -E -- "${1:-.}" | while IFS= read -r path; do
    a=$(count "$path" 1)
    b=$(count "$path" 11)
    printf '%-72s %12.1f\n' "$path" "$(echo "($b - $a) / 10000" | bc -l)"
done
