#!/usr/bin/env bash
# Instructions per frame of the LPP and codecs bench paths, under valgrind's callgrind: each
# path runs N and N + 10 iterations of its 1,000 frames (`icount`, built with the bench
# profile, the code criterion times); the difference over 10,000 frames is one frame's cost,
# deterministic whatever the load. Not a time: a count, to compare two builds of one path.
#
#   benches/icount.sh                 every path
#   benches/icount.sh REGEX           the paths matching REGEX (grep -E)
#   benches/icount.sh --check [REGEX] the same, then each against benches/icounts.tsv: exits 1
#                                     when one runs more than ICOUNT_TOLERANCE (0.02) above it
#   benches/icount.sh --update        every path, written to benches/icounts.tsv
#
# Environment: CARGO_TARGET_DIR; ICOUNT_PROFILE (bench, the profile criterion uses); ICOUNT_BIN
# (an icount binary built before, e.g. of another commit: nothing is built); ICOUNT_TOLERANCE.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="$(realpath -m "${CARGO_TARGET_DIR:-$root/target}")"
cd "$root"
export CARGO_TARGET_DIR="$target"
command -v valgrind >/dev/null || { echo "icount.sh: needs valgrind (Debian: apt install valgrind)" >&2; exit 2; }
mode=count
case "${1:-}" in
    --check) mode=check; shift ;;
    --update) mode=update; shift; [ $# -eq 0 ] || { echo "icount.sh: --update counts every path" >&2; exit 2; } ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "icount.sh: unknown option: $1 (see --help)" >&2; exit 2 ;;
esac
profile="${ICOUNT_PROFILE:-bench}"
case "$profile" in
    bench | release) dir=release ;;
    *) dir="$profile" ;;
esac
[ -n "${ICOUNT_BIN:-}" ] || cargo build --quiet --profile "$profile" -p lorafield-benches --bin icount
[ "$mode" = count ] || [ "$profile" = bench ] || { echo "icount.sh: benches/icounts.tsv holds the bench profile's counts" >&2; exit 2; }
[ "$mode" = count ] || cargo build --quiet --release -p lorafield-benches --bin gate
bin="${ICOUNT_BIN:-$target/$dir/icount}"

count() {
    local out
    out="$(mktemp)"
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" >/dev/null 2>"$out"
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out"
    rm -f "$out"
}

# Each path's count, also as `path<TAB>count` lines for the check.
counted="$target/icount/counted.tsv"
mkdir -p "$target/icount"
: >"$counted"
printf '%-72s %12s\n' "path ($profile profile)" "instr/frame"
{ "$bin" list | grep -E -- "${1:-.}" || true; } | while IFS= read -r path; do
    a=$(count "$path" 1)
    b=$(count "$path" 11)
    per=$(printf '%.1f' "$(echo "($b - $a) / 10000" | bc -l)")
    printf '%-72s %12s\n' "$path" "$per"
    printf '%s\t%s\n' "$path" "$per" >>"$counted"
done
[ -s "$counted" ] || { echo "icount.sh: no path matches ${1:-.} (see: $bin list)" >&2; exit 2; }

baseline="$root/benches/icounts.tsv"
case "$mode" in
    check)
        echo
        "$target/release/gate" counts --baseline "$baseline" --tolerance "${ICOUNT_TOLERANCE:-0.02}" "$counted"
        ;;
    update)
        {
            echo "# Instructions a frame of each LPP and codecs bench path: benches/icount.sh --update"
            echo "# (benches/README.md, \"Instruction counts\"); --check compares with these."
            echo "# commit $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- . ':!benches/icounts.tsv' || echo ' with changes'), $(date -u +%Y-%m-%d), $(rustc --version | cut -d' ' -f1-2)"
            cat "$counted"
        } >"$baseline"
        echo "wrote benches/icounts.tsv"
        ;;
esac
