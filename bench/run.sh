#!/usr/bin/env bash
# Measures ember with the shared harness exactly as the peers were measured.
#   bench/run.sh [WORKLOAD] [SIZE_MB] [REPEAT]     e.g. bench/run.sh w1 200 3
# Generated corpora and run folders go under $PEERS (default /tmp/ember-peers); every run's JSON
# line is appended to bench/results.jsonl.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
shared=${SHARED:-$repo/../shared}
workload=${1:-w1}
size=${2:-200}
repeat=${3:-3}
export PEERS=${PEERS:-/tmp/ember-peers}
mkdir -p "$PEERS"
parts=$([ "$size" -ge 100 ] && echo 20 || echo 10)
[ -f "$PEERS/data/corpus-${size}mb.txt" ] || python3 "$shared/bench/gen_corpus.py" --mb "$size" --parts "$parts"
cargo build --release -p ember-cli --manifest-path "$repo/Cargo.toml"
export EMBER_BIN="$repo/target/release/ember"
engine=ember
[ "$workload" = w2 ] && engine=ember-w2
[ "$workload" = w3 ] && engine=ember-w3
for _ in $(seq "$repeat"); do
  python3 "$shared/bench/run.py" --config "$here/engines.toml" --engine "$engine" --workload "$workload" \
    --size "$size" --timeout 300 --results "$here/results.jsonl" --quiet-wait 20 --quiet-thresh 0.5
done
