#!/usr/bin/env bash
# The bench gate (benches/README.md, "The bench gate"): runs the LPP, codecs and redecode
# benches with a short measurement, takes each ratio to its peer (or to Cayenne LPP) from each
# bench's fastest sample over the runs, and compares it with benches/baseline.json. Exits 1
# when a ratio fell more than GATE_TOLERANCE (default 0.10) below its baseline, 2 on an error
# (a bench with no result included), 0 otherwise. Runs from any directory; not in CI.
#
#   benches/check.sh              check: 3 runs against the baseline
#   benches/check.sh --runs 1     one run (quicker, less sure)
#   benches/check.sh --update     rewrite benches/baseline.json from 3 runs
#
# Environment: GATE_TOLERANCE (0.10), GATE_RUNS (3), GATE_MACHINE (words for the baseline's
# note, e.g. "2 vCPUs, shared with other builds"), GATE_CRITERION_ARGS (the criterion options,
# default below), CARGO_TARGET_DIR.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="$(realpath -m "${CARGO_TARGET_DIR:-$root/target}")"
cd "$root"
export CARGO_TARGET_DIR="$target"

update=0
runs="${GATE_RUNS:-3}"
while [ $# -gt 0 ]; do
    case "$1" in
        --update) update=1 ;;
        --runs) runs="${2:?--runs needs a number}"; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "check.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "check.sh: --runs takes a positive number" >&2; exit 2; }
tolerance="${GATE_TOLERANCE:-0.10}"
# Many short samples (criterion's defaults are 3 s warm-up, 5 s, 100 samples): the gate reads
# each bench's fastest sample, and short samples are the ones that escape other jobs. The
# redecode groups keep their own sample counts and times.
read -r -a criterion_args <<<"${GATE_CRITERION_ARGS:---warm-up-time 1 --measurement-time 2 --sample-size 300}"

# The baseline was measured on the shared TTS vectors; generated frames would not compare.
vectors="$root/../shared/vectors/cayenne-lpp/tts-v1.jsonl"
[ -f "$vectors" ] || { echo "check.sh: the LPP benches need ../shared/vectors/cayenne-lpp/tts-v1.jsonl" >&2; exit 2; }
command -v jq >/dev/null || { echo "check.sh: redecode/command needs jq on the PATH" >&2; exit 2; }

echo "== building (release): the lorafield binary, the gate, the benches"
cargo build --quiet --release -p lorafield-cli --bin lorafield
cargo build --quiet --release -p lorafield-benches --bin gate
cargo bench --quiet -p lorafield-benches --bench lpp --bench codecs --bench redecode --no-run
export LORAFIELD_BIN="$target/release/lorafield"

# What the gate reads: redecode/run (a scaling figure, not a ratio to a peer) is left out.
filter='^(lpp|codecs|redecode/(core|command))/'
out="$target/bench-gate"
dirs=()
loads=()
for i in $(seq 1 "$runs"); do
    dir="$out/run-$i"
    log="$out/run-$i.log"
    mkdir -p "$dir"
    # A result left from an earlier run must not stand in for a bench that did not run.
    find "$dir" -type d -name new -prune -exec rm -rf {} +
    echo "== run $i of $runs (criterion ${criterion_args[*]}; log: $log)"
    start=$SECONDS
    load_before=$(cut -d' ' -f1 /proc/loadavg)
    if ! CRITERION_HOME="$dir" cargo bench --quiet -p lorafield-benches --bench lpp \
        --bench codecs --bench redecode -- "$filter" --noplot "${criterion_args[@]}" >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        echo "check.sh: the benches failed (log: $log)" >&2
        exit 2
    fi
    load_after=$(cut -d' ' -f1 /proc/loadavg)
    echo "   $((SECONDS - start)) s; load average $load_before before, $load_after after"
    loads+=("$load_before" "$load_after")
    dirs+=("$dir")
done

min_load=$(printf '%s\n' "${loads[@]}" | sort -g | head -n 1)
max_load=$(printf '%s\n' "${loads[@]}" | sort -g | tail -n 1)
cpus=$(nproc)
if awk -v l="$max_load" -v c="$cpus" 'BEGIN { exit !(l > c) }'; then
    echo "note: the machine was busy (load average up to $max_load on $cpus CPUs). The LPP and"
    echo "      codecs ratios hold at such loads; the redecode ones (long, memory-bound, every core"
    echo "      against jq's one) do not: confirm a redecode failure on a quieter machine."
fi

gate="$target/release/gate"
if [ "$update" = 1 ]; then
    commit="$(git rev-parse --short HEAD)"
    git diff --quiet HEAD -- . ':!benches/baseline.json' || commit="$commit with uncommitted changes"
    cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
    machine="$cpus CPUs (${cpu:-unknown CPU}), $(uname -s) $(uname -m), $(rustc --version | cut -d' ' -f1-2)"
    [ -z "${GATE_MACHINE:-}" ] || machine="$machine; $GATE_MACHINE"
    machine="$machine; load average $min_load-$max_load during the runs"
    how="benches/check.sh --update: $runs runs of cargo bench -- ${criterion_args[*]}; each bench's fastest sample over the runs"
    "$gate" update --baseline "$root/benches/baseline.json" --commit "$commit" \
        --date "$(date -u +%Y-%m-%d)" --machine "$machine" --how "$how" "${dirs[@]}"
else
    "$gate" check --baseline "$root/benches/baseline.json" --tolerance "$tolerance" "${dirs[@]}"
fi
