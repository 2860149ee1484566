#!/usr/bin/env bash
# W3 on the 1 GB corpus, as 20 files and as one file, ember against the hand-written limit in
# the same run: ROUNDS rounds, each running limit and ember alternately on both inputs, then the
# median words/s, span, peak RSS and CPU of each and ember / limit. The 20 files go through the
# shared harness (../shared/bench/run.py, engines `limit` and `ember-w3` of engines.toml); the
# one file through bench/w3.py, which feeds it the same way (the harness only feeds W3 parts).
# Every run's JSON line is appended to bench/results.jsonl with the tag "w3-rounds <date> <commit>".
#
#   EMBER_BIN=target/release/ember EMBER_LIMIT=target/limit/release/limit bench/w3-rounds.sh [ROUNDS]
#
# Needs $PEERS/data/corpus-1000mb.txt and its parts folder (../shared/bench/repeat_corpus.py
# --mb 200 --times 5 --parts 20) and the builds: `cargo build --release -p ember-cli`, and the
# limit as bench/run-py.sh builds it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
shared=${SHARED:-$repo/../shared}
rounds=${1:-3}
# Each run first waits up to this many seconds for the machine to be at most half busy.
quiet=${QUIET_WAIT:-20}
export PEERS=${PEERS:-/tmp/ember-peers}
: "${EMBER_BIN:?set EMBER_BIN to a release build of ember}"
: "${EMBER_LIMIT:?set EMBER_LIMIT to the limit binary}"
export EMBER_BIN EMBER_LIMIT
one="$PEERS/data/corpus-1000mb.txt"
[ -f "$one" ] && [ -d "$PEERS/data/corpus-1000mb.parts20" ] || {
  echo "missing $one or its parts20 folder: python3 $shared/bench/repeat_corpus.py --mb 200 --times 5 --parts 20" >&2
  exit 1
}
tag="w3-rounds $(date -u +%Y-%m-%dT%H:%M) $(git -C "$repo" rev-parse --short HEAD)"
results="$here/results.jsonl"
for r in $(seq "$rounds"); do
  for engine in limit ember-w3; do
    python3 "$shared/bench/run.py" --config "$here/engines.toml" --engine "$engine" --workload w3 \
      --size 1000 --timeout 300 --results "$results" --tag "$tag parts20 round $r" \
      --quiet-wait "$quiet" --quiet-thresh 0.5 >/dev/null
  done
  for engine in limit ember; do
    bin=$EMBER_BIN
    [ "$engine" = limit ] && bin=$EMBER_LIMIT
    python3 "$here/w3.py" --engine "$engine" "$bin" "$one" --jsonl "$results" \
      --tag "$tag one-file round $r" --quiet-wait "$quiet" --quiet-thresh 0.5 >/dev/null
  done
done
python3 - "$results" "$tag" <<'PY'
import json, statistics, sys
path, tag = sys.argv[1], sys.argv[2]
runs = [json.loads(l) for l in open(path) if tag in l]
for inp in ("parts20", "one-file"):
    sel = [r for r in runs if f"{tag} {inp} " in r.get("tag", "")]
    print(f"## {inp}")
    print("| engine | words/s (median) | span s | peak RSS MB | CPU s | foreign CPU s | runs ok |")
    print("|---|---|---|---|---|---|---|")
    med = {}
    for eng in ("limit", "ember-w3"):
        ok = [r for r in sel if r["engine"] == eng and r["status"] == "ok"]
        if not ok:
            print(f"| {eng} | no run ok | | | | | 0/{sum(r['engine'] == eng for r in sel)} |")
            continue
        m = lambda k: statistics.median(r[k] for r in ok)
        med[eng] = m("words_per_s")
        print(f"| {eng} | {m('words_per_s'):,.0f} | {m('span_s'):.2f} | {max(r['peak_rss_mb'] for r in ok):.1f} (max) | {m('cpu_s'):.1f} | {m('foreign_cpu_s'):.1f} | {len(ok)}/{sum(r['engine'] == eng for r in sel)} |")
    rounds = sorted({r["tag"].rsplit(" ", 1)[1] for r in sel})
    ratios = []
    for rd in rounds:
        pair = {r["engine"]: r for r in sel if r["tag"].endswith(f" round {rd}") and r["status"] == "ok"}
        if "limit" in pair and "ember-w3" in pair:
            ratios.append(pair["ember-w3"]["words_per_s"] / pair["limit"]["words_per_s"])
    if len(med) == 2:
        print(f"\nember / limit: median of medians {med['ember-w3'] / med['limit']:.2f}; per round "
              + ", ".join(f"{x:.2f}" for x in ratios) + f" (median {statistics.median(ratios):.2f})\n")
PY
