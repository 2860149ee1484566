#!/usr/bin/env bash
# What the web UI costs: W1 with the UI off (`--no-ui`, engine ember-noui) against W1 with the UI
# on and watched (engine ember-ui: bench/ui_poller.py fetches what an open statistics page
# fetches, as often), in the same run as the hand-written limit, interleaved round by round.
#   bench/run-ui.sh [SIZE_MB] [REPEAT]      e.g. bench/run-ui.sh 1000 5
# The 1 GB corpus is 5 copies of the 200 MB one (../shared/bench/repeat_corpus.py); every run's
# JSON line goes to bench/results.jsonl with the tag this run prints, then the medians are shown.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
shared=${SHARED:-$repo/../shared}
size=${1:-1000}
repeat=${2:-5}
export PEERS=${PEERS:-/tmp/ember-peers}
mkdir -p "$PEERS"
if [ ! -f "$PEERS/data/corpus-${size}mb.txt" ]; then
    [ -f "$PEERS/data/corpus-200mb.txt" ] || python3 "$shared/bench/gen_corpus.py" --mb 200 --parts 20
    [ "$size" = 200 ] || python3 "$shared/bench/repeat_corpus.py" --mb 200 --times $((size / 200)) --parts 20
fi
target=${CARGO_TARGET_DIR:-$repo/target}
cargo build --release -p ember-cli --manifest-path "$repo/Cargo.toml"
cargo build --release --quiet --manifest-path "$shared/bench/limit/Cargo.toml" --target-dir "$repo/target/limit"
export EMBER_BIN=$target/release/ember EMBER_LIMIT=$repo/target/limit/release/limit
export EMBER_UI_POLLER=$here/ui_poller.py
tag="ui-cost $(date -u +%Y-%m-%dT%H:%M:%SZ) $(git -C "$repo" rev-parse --short HEAD)"
echo "tag: $tag" >&2
python3 "$shared/bench/compare.py" --config "$here/engines.toml" --engines limit,ember-noui,ember-ui \
    --workloads w1 --sizes "$size" --repeat "$repeat" --timeout 300 --quiet-wait 20 --quiet-thresh 0.5 \
    --results "$here/results.jsonl" --tag "$tag" --median
# Each round's ember-ui over ember-noui: the two ran back to back, so machine noise hits both.
python3 - "$here/results.jsonl" "$tag" <<'PY'
import json, statistics, sys
runs = [r for r in map(json.loads, open(sys.argv[1])) if r.get("tag") == sys.argv[2]]
off, on, ratios, last_off = [], [], [], None
for r in runs:  # in run order: limit, ember-noui, ember-ui, round after round
    rate = r.get("words_per_s") if r["status"] == "ok" else None
    if r["engine"] == "ember-noui":
        last_off = rate
        off += [rate] if rate else []
    elif r["engine"] == "ember-ui":
        on += [rate] if rate else []
        if rate and last_off:
            ratios.append(rate / last_off)
        last_off = None
print("ember-ui / ember-noui per round:", " ".join(f"{x:.3f}" for x in ratios))
if ratios:
    print(f"median {statistics.median(ratios):.3f}; medians' ratio {statistics.median(on) / statistics.median(off):.3f}")
PY
