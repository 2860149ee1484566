#!/usr/bin/env bash
# How W1's cost grows (issue 12, item 5): the socket word count (engine `ember` of
# bench/engines.toml, `ember wordcount --summary`) against the hand-written limit with the same
# number of threads, in the same run, as the worker threads and the input grow.
#
# Points (POINT arguments; default: all of them):
#   t1 t2 t4   the 1 GB corpus (the 200 MB corpus five times, 135,905,085 words) with
#              `--master local[N]` against `limit w1 --threads N`, N = 1, 2, 4
#   200mb 5gb  the 200 MB corpus and the 5 GB one (the 200 MB corpus 25 times, 679,525,425 words),
#              2 threads; t2 is the 1 GB point of this curve
# Each round runs every point, limit then ember, so the machine's load falls on both alike;
# REPEAT rounds (default 3). Every run's JSON line is appended to bench/results.jsonl (engines
# `limit-tN` / `ember-tN`, tag `scaling-<point>`), then the medians of this invocation's runs are
# printed as a Markdown table (ember / limit ratios of the medians).
#
#   bench/scaling.sh [REPEAT] [POINT...]        e.g. bench/scaling.sh 3 t1 t2 t4
#   bench/scaling.sh table [SINCE]              the table of every scaling run in results.jsonl
#                                               that ended at or after SINCE (e.g. 2026-12-03T13:50)
#
# The machine is shared: a run during which other work took more than FOREIGN_MAX of a core on
# average (default 0.1: the harness's `foreign_cpu_s` over the run's `wall_s`) is left out of the
# medians, and the table says how many runs each median is of. Run more rounds when too few are
# left.
#
# Corpora live in $PEERS/data (default /tmp/ember-peers). The 1 GB corpus is made if missing; the
# 5 GB one is made only for the 5gb point, only with at least 7 GB free, and deleted afterwards
# unless KEEP_5GB=1 (or it was there before). With little disk, give the 5gb point a PEERS folder
# on a tmpfs (it takes 5 GB of memory while it runs), e.g.
#   mkdir -p /dev/shm/ember-peers/data && ln -s /tmp/ember-peers/data/corpus-200mb.* /dev/shm/ember-peers/data/
#   PEERS=/dev/shm/ember-peers bench/scaling.sh 3 5gb
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
shared=${SHARED:-$repo/../shared}
results=$here/results.jsonl

# The Markdown table of the scaling runs in results.jsonl that ended at or after $1.
table() {
  FOREIGN_MAX=${FOREIGN_MAX:-0.1} python3 -c "$(cat <<'EOF'
import json, os, statistics, sys

since, path = sys.argv[1], sys.argv[2]
foreign_max = float(os.environ["FOREIGN_MAX"])
runs = [json.loads(l) for l in open(path) if l.strip()]
runs = [r for r in runs if r.get("tag", "").startswith("scaling-") and r["date"] >= since]


def med(rs, k):
    v = [r[k] for r in rs if r.get(k) is not None]
    return statistics.median(v) if v else None


def mw(x):
    return f"{x / 1e6:.2f} M" if x else "-"


def rng(rs):
    v = sorted(r["words_per_s"] for r in rs if r.get("words_per_s"))
    return f"{mw(statistics.median(v))} ({mw(v[0])}-{mw(v[-1])})" if v else "-"


def num(x, f):
    return "-" if x is None else format(x, f)


print("| point | threads | corpus | words | limit words/s (range) | ember words/s (range) | ember / limit"
      " | limit RSS MB | ember RSS MB | RSS ratio | CPU ns a word limit / ember | runs kept limit / ember"
      " | foreign cores max kept | load1 |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for p in ["t1", "t2", "t4", "200mb", "5gb"]:
    every = [r for r in runs if r["tag"] == "scaling-" + p]
    if not every:
        continue
    rs = [r for r in every if r["status"] == "ok" and r["foreign_cpu_s"] <= foreign_max * r["wall_s"]]
    lim = [r for r in rs if r["engine"].startswith("limit")]
    emb = [r for r in rs if r["engine"].startswith("ember")]
    n_all = lambda e: sum(r["engine"].startswith(e) for r in every)
    n = every[0]["engine"].split("-t")[1]
    lw, ew = med(lim, "words_per_s"), med(emb, "words_per_s")
    lr, er = med(lim, "peak_rss_mb"), med(emb, "peak_rss_mb")
    lc, ec = med(lim, "cpu_s"), med(emb, "cpu_s")
    words = every[0]["target"]
    lc, ec = (None if c is None else c * 1e9 / words for c in (lc, ec))
    loads = [r["load1_before"] for r in rs] or [0.0]
    print(f"| {p} | {n} | {every[0]['size_mb']} MB | {every[0]['target']:,} | {rng(lim)} | {rng(emb)}"
          f" | {ew / lw if lw and ew else float('nan'):.2f} | {num(lr, '.0f')} | {num(er, '.0f')}"
          f" | {er / lr if lr and er else float('nan'):.2f} | {num(lc, '.0f')} / {num(ec, '.0f')}"
          f" | {len(lim)} of {n_all('limit')} / {len(emb)} of {n_all('ember')}"
          f" | {max([r['foreign_cpu_s'] / r['wall_s'] for r in rs] or [0]):.2f} | {min(loads):.1f}-{max(loads):.1f} |")
EOF
)" "$1" "$results"
}
if [ "${1:-}" = table ]; then
  table "${2:-}"
  exit
fi

repeat=${1:-3}
[[ $repeat =~ ^[1-9][0-9]*$ ]] || { echo "REPEAT must be a positive number, not '$repeat'" >&2; exit 2; }
shift || true
points=("$@")
[ ${#points[@]} -gt 0 ] || points=(t1 t2 t4 200mb 5gb)
for p in "${points[@]}"; do
  case $p in t1 | t2 | t4 | 200mb | 5gb) ;; *) echo "unknown point $p (t1 t2 t4 200mb 5gb)" >&2; exit 2 ;; esac
done
export PEERS=${PEERS:-/tmp/ember-peers}
data=$PEERS/data
mkdir -p "$data"
target=${CARGO_TARGET_DIR:-$repo/target}
cargo build --release -p ember-cli --manifest-path "$repo/Cargo.toml"
cargo build --release --quiet --manifest-path "$shared/bench/limit/Cargo.toml" --target-dir "$target/limit"
export EMBER_BIN=$target/release/ember EMBER_LIMIT=$target/limit/release/limit

# Corpora: only those the points ask for.
want() { [[ " ${points[*]} " == *" $1 "* ]]; }
[ -f "$data/corpus-200mb.txt" ] || python3 "$shared/bench/gen_corpus.py" --mb 200 --parts 20
if want t1 || want t2 || want t4; then
  [ -f "$data/corpus-1000mb.txt" ] || python3 "$shared/bench/repeat_corpus.py" --mb 200 --times 5 --parts 20
fi
made_5gb=0
if want 5gb && [ ! -f "$data/corpus-5000mb.txt" ]; then
  free_kb=$(df -Pk "$data" | awk 'NR == 2 { print $4 }')
  if [ "$free_kb" -lt $((7 * 1024 * 1024)) ]; then
    echo "less than 7 GB free under $data: not making the 5 GB corpus (a PEERS folder on a" \
      "tmpfs such as /dev/shm, holding the 200 MB corpus or links to it, will do)" >&2
    exit 1
  fi
  python3 "$shared/bench/repeat_corpus.py" --mb 200 --times 25 >/dev/null
  made_5gb=1
fi
cleanup() {
  if [ "$made_5gb" = 1 ] && [ "${KEEP_5GB:-0}" != 1 ]; then
    rm -f "$data/corpus-5000mb.txt" "$data/corpus-5000mb.meta.json"
  fi
  rm -f "${config:-}"
}
trap cleanup EXIT

# The engines at each thread count: `ember` and `limit` of bench/engines.toml with N threads.
config=$(mktemp "${TMPDIR:-/tmp}/ember-scaling-XXXXXX.toml")
{
  echo "[engines]"
  for n in 1 2 4; do
    echo "ember-t$n = { workloads = [\"w1\"], shell = true, cmd = \"exec \\\"\$EMBER_BIN\\\" wordcount --socket {host}:{port} --summary --master local[$n] --batch {batch_ms}ms\" }"
    echo "limit-t$n = { workloads = [\"w1\"], shell = true, cmd = \"exec \\\"\$EMBER_LIMIT\\\" w1 --host {host} --port {port} --batch-ms 1000 --threads $n\" }"
  done
} >"$config"

since=$(date -u +%Y-%m-%dT%H:%M:%S)
failed=0
echo "load before: $(uptime)"
for round in $(seq "$repeat"); do
  for p in "${points[@]}"; do
    case $p in
      t1) n=1 size=1000 ;; t2) n=2 size=1000 ;; t4) n=4 size=1000 ;;
      200mb) n=2 size=200 ;; 5gb) n=2 size=5000 ;;
    esac
    for engine in limit-t$n ember-t$n; do
      echo "round $round, $p: $engine" >&2
      python3 "$shared/bench/run.py" --config "$config" --engine "$engine" --workload w1 --size "$size" \
        --timeout 600 --results "$results" --tag "scaling-$p" --quiet-wait 20 --quiet-thresh 0.5 >/dev/null ||
        { echo "run failed: $engine on $p (see its line in $results)" >&2; failed=$((failed + 1)); }
    done
  done
done
echo "load after: $(uptime)"

# Medians of this invocation's runs.
table "$since"
if [ "$failed" -gt 0 ]; then
  echo "$failed runs failed" >&2
  exit 1
fi
