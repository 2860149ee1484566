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
    --workloads w1 --sizes "$size" --repeat "$repeat" --timeout 300 --quiet-wait 60 --quiet-thresh 0.15 \
    --results "$here/results.jsonl" --tag "$tag" --median
# Each round's ember-ui over ember-noui: the two ran back to back, so slow drifts of the machine hit
# both. A difference of a few per cent is visible only in rounds where nothing else ran: rounds in
# which other processes took more than QUIET_CPU_S CPU seconds during either run are listed but
# left out of the quiet median. (A span is also a whole number of batches give or take the last
# one: at 1 s batches and 6 s spans one batch more or less moves a ratio by about 15 %.)
python3 - "$here/results.jsonl" "$tag" "${QUIET_CPU_S:-1}" <<'PY'
import json, statistics, sys
runs = [r for r in map(json.loads, open(sys.argv[1])) if r.get("tag") == sys.argv[2]]
quiet_cpu = float(sys.argv[3])
rounds, off = [], None
for r in runs:  # in run order: limit, ember-noui, ember-ui, round after round
    if r["engine"] == "ember-noui":
        off = r
    elif r["engine"] == "ember-ui" and off is not None:
        if r["status"] == off["status"] == "ok":
            rounds.append((r["words_per_s"] / off["words_per_s"], max(r["foreign_cpu_s"], off["foreign_cpu_s"]),
                           off["cpu_s"], r["cpu_s"]))
        off = None
for ratio, foreign, cpu_off, cpu_on in rounds:
    print(f"ember-ui / ember-noui {ratio:.3f}   CPU s {cpu_off:.2f} -> {cpu_on:.2f}   foreign CPU s {foreign:.2f}"
          + ("" if foreign <= quiet_cpu else "   (not quiet)"))
quiet = [x[0] for x in rounds if x[1] <= quiet_cpu]
if rounds:
    print(f"median of all {len(rounds)} rounds: {statistics.median(x[0] for x in rounds):.3f}")
if quiet:
    print(f"median of the {len(quiet)} quiet rounds: {statistics.median(quiet):.3f}")
PY
