#!/usr/bin/env bash
# Measures ember's Python package with the shared harness: PySpark's own peer program
# (`peers/pyspark_dstream.py`) with only its imports changed, as engine `ember-py`
# (bench/engines.toml), in the same run as the hand-written limit.
#   bench/run-py.sh [WORKLOAD] [SIZE_MB] [REPEAT]      e.g. bench/run-py.sh w1 200 3
# The package is built in the `wheel` profile (the one `pip install ./crates/ember-py` uses)
# into target/bench-venv.
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
EMBER_VENV=$repo/target/bench-venv "$repo/scripts/python-env.sh" wheel
export EMBER_PYTHON=$repo/target/bench-venv/bin/python
cargo build --release --quiet --manifest-path "$shared/bench/limit/Cargo.toml" --target-dir "$repo/target/limit"
export EMBER_LIMIT=$repo/target/limit/release/limit
for _ in $(seq "$repeat"); do
  for engine in limit ember-py; do
    python3 "$shared/bench/run.py" --config "$repo/bench/engines.toml" --engine "$engine" --workload "$workload" \
      --size "$size" --timeout 600 --results "$here/results.jsonl" --quiet-wait 20 --quiet-thresh 0.5
  done
done
