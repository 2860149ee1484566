#!/usr/bin/env bash
# Backpressure benchmark (BENCHMARKS.md, "Backpressure"): a state-heavy `ember wordcount
# --stateful` fed faster than it processes, with and without spark.streaming.backpressure.enabled,
# recording every batch's delay; the hand-written limit runs in the same run as the reference.
#   bench/backpressure.sh [SECONDS] [RUNS]       e.g. bench/backpressure.sh 60 off,on,pid
# The corpus (100 MB, about 1.92 M distinct words) is generated under $PEERS if missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
shared=${SHARED:-$repo/../shared}
seconds=${1:-60}
runs=${2:-off,on}
export PEERS=${PEERS:-/tmp/ember-peers}
corpus=$PEERS/data/corpus-100mb.txt
if [ ! -f "$corpus" ] || ! grep -q '"vocab": 2000000' "$PEERS/data/corpus-100mb.meta.json"; then
  python3 "$shared/bench/gen_corpus.py" --mb 100 --vocab 2000000 --zipf-s 0.6
fi
target=${CARGO_TARGET_DIR:-$repo/target}
cargo build --release -p ember-cli --manifest-path "$repo/Cargo.toml"
cargo build --release --quiet --manifest-path "$shared/bench/limit/Cargo.toml" --target-dir "$repo/target/limit"
python3 "$here/backpressure.py" --ember "$target/release/ember" --corpus "$corpus" \
  --limit "$repo/target/limit/release/limit" --shared "$shared" --seconds "$seconds" --runs "$runs"
