#!/usr/bin/env bash
# Builds the initial corpora fuzz/corpus/<target>/ from the project's fixtures: every "hex" value
# of fixtures/<codec>/*.jsonl, written as a binary file named by its SHA-1 (as libFuzzer names its
# own), into the targets of the case's codec; for envelope_redecode, every file of
# fixtures/envelopes and each of its lines. Milesight inputs start with a byte that picks the
# model: each payload is written once per model byte (0-60). For js_decode, every fPort/bytes
# pair of fixtures/device-repo's examples, once per codec byte (0-12). Extra directories of .jsonl vector
# files given as arguments (e.g. ../../shared/vectors/cayenne-lpp) are read too, routed by each
# case's "codec"; the corpus is local and never committed.
#
# Usage: ./seed.sh [DIR...]     (from anywhere; writes under this script's directory)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
dirs=("$root/fixtures")
for d in "$@"; do
    [ -d "$d" ] || { echo "seed.sh: not a directory: $d" >&2; exit 1; }
    dirs+=("$(cd "$d" && pwd)")
done

python3 - "$here/corpus" "${dirs[@]}" <<'PY'
import hashlib, json, pathlib, re, sys

corpus = pathlib.Path(sys.argv[1])
targets = {
    "cayenne-lpp": ["lpp_decode", "lpp_roundtrip"],
    "sodaq-tracker": ["sodaq_decode"],
    "elsys": ["elsys_decode"],
    "milesight": ["milesight_decode"],
}
MILESIGHT_MODELS = 61
inputs = {t: set() for ts in targets.values() for t in ts}
for d in sys.argv[2:]:
    files = sorted(
        f for f in pathlib.Path(d).rglob("*.jsonl") if "envelopes" not in f.parts
    )
    n = 0
    for f in files:
        for lineno, line in enumerate(f.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                case = json.loads(line)
                payload = bytes.fromhex(case["hex"])
                codec = case["codec"]
            except (ValueError, KeyError, TypeError) as e:
                sys.exit(f"seed.sh: {f}:{lineno}: {e}")
            for t in targets.get(codec, []):
                if codec == "milesight":
                    inputs[t].update(bytes([m]) + payload for m in range(MILESIGHT_MODELS))
                else:
                    inputs[t].add(payload)
            n += 1
    print(f"{d}: {len(files)} files, {n} cases")
# envelope_redecode: every file of fixtures/envelopes whole, and each of its lines.
envelopes = pathlib.Path(sys.argv[2]) / "envelopes"
inputs["envelope_redecode"] = set()
for f in sorted(envelopes.iterdir()):
    text = f.read_bytes()
    inputs["envelope_redecode"].add(text)
    inputs["envelope_redecode"].update(l + b"\n" for l in text.splitlines() if l.strip())
# js_decode: every fPort/bytes pair of the device repository tree's examples, once per codec
# byte (0-12, the target's codecs) with the port byte that gives that port.
JS_CODECS = 13
inputs["js_decode"] = set()
port = None
for f in sorted((pathlib.Path(sys.argv[2]) / "device-repo" / "vendor").rglob("*-codec.yaml")):
    for line in f.read_text().splitlines():
        m = re.match(r"\s*fPort:\s*(\d+)\s*$", line)
        if m:
            port = int(m.group(1))
            continue
        m = re.match(r"\s*bytes:\s*\[(.*)\]\s*$", line)
        if m and port is not None and 1 <= port <= 223:
            payload = bytes(int(x, 0) for x in m.group(1).split(",") if x.strip())
            inputs["js_decode"].update(
                bytes([c, port - 1]) + payload for c in range(JS_CODECS)
            )
            port = None
for t, payloads in inputs.items():
    (corpus / t).mkdir(parents=True, exist_ok=True)
    for p in payloads:
        (corpus / t / hashlib.sha1(p).hexdigest()).write_bytes(p)
    print(f"{t}: {len(payloads)} inputs")
PY
