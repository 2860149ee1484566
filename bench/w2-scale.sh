#!/usr/bin/env bash
# W2 (the stateful running count, checkpointed every second) against the hand-written limit, in
# the same run, as the state grows (issue 12). Each corpus is generated once in its own $PEERS
# folder under $ROOT (the harness names corpora by size only):
#   1g    the 200 MB corpus five times over (100 k distinct words, Zipf s = 1.0), 135.9 M words
#   100k  100 MB, 100,000-word vocabulary, Zipf s = 0.6
#   1m    100 MB, 1,000,000-word vocabulary (997,465 distinct)
#   2m    100 MB, 2,000,000-word vocabulary (1,920,703 distinct: issue 12's large-state corpus)
#   10m   500 MB, 10,000,000-word vocabulary (9,548,919 distinct)
# Limit and ember run alternately, REPEAT times each; every run's JSON line is appended to
# bench/results.jsonl (tagged w2-scale-<corpus>).
#   bench/w2-scale.sh [REPEAT] [CORPUS...]       e.g. bench/w2-scale.sh 3 2m 1g
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
shared=${SHARED:-$repo/../shared}
root=${ROOT:-/tmp/ember-w2-scale}
repeat=${1:-3}
shift || true
corpora=("$@")
[ ${#corpora[@]} -gt 0 ] || corpora=(100k 1m 2m 10m 1g)
target=${CARGO_TARGET_DIR:-$repo/target}
cargo build --release -p ember-cli --manifest-path "$repo/Cargo.toml"
cargo build --release --quiet --manifest-path "$shared/bench/limit/Cargo.toml" --target-dir "$target/limit"
export EMBER_BIN=$target/release/ember EMBER_LIMIT=$target/limit/release/limit

# The corpus folder and size (MB) of each name, generating the corpus if needed.
prepare() {
  local name=$1 vocab mb
  case $name in
    1g)
      export PEERS=$root/1g
      [ -f "$PEERS/data/corpus-200mb.txt" ] || python3 "$shared/bench/gen_corpus.py" --mb 200 --parts 20
      [ -f "$PEERS/data/corpus-1000mb.txt" ] || python3 "$shared/bench/repeat_corpus.py" --mb 200 --times 5
      size=1000
      return ;;
    100k) vocab=100000 mb=100 ;;
    1m) vocab=1000000 mb=100 ;;
    2m) vocab=2000000 mb=100 ;;
    10m) vocab=10000000 mb=500 ;;
    *) echo "unknown corpus $name (1g, 100k, 1m, 2m, 10m)" >&2; exit 2 ;;
  esac
  export PEERS=$root/$name
  [ -f "$PEERS/data/corpus-${mb}mb.txt" ] ||
    python3 "$shared/bench/gen_corpus.py" --mb "$mb" --vocab "$vocab" --zipf-s 0.6
  size=$mb
}

for name in "${corpora[@]}"; do
  prepare "$name"
  for _ in $(seq "$repeat"); do
    for engine in limit ember-w2; do
      python3 "$shared/bench/run.py" --config "$here/engines.toml" --engine "$engine" --workload w2 \
        --size "$size" --timeout 600 --results "$here/results.jsonl" --tag "w2-scale-$name" \
        --quiet-wait 20 --quiet-thresh 0.5
    done
  done
done
