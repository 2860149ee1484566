#!/usr/bin/env python3
"""Backpressure benchmark: a source faster than a state-heavy pipeline, with and without
`spark.streaming.backpressure.enabled`.

Runs `ember wordcount --socket ... --stateful --summary` (running totals of a corpus with about
two million distinct words, so every batch updates a large state) against `ember feed --loop`,
which sends as fast as ember reads, once per configuration, and records every batch's delay:
the time its BENCH line reached us minus its batch time (Spark's total delay: scheduling delay
plus processing time; the output job itself takes a few milliseconds). Without backpressure the
receiver takes whatever the workers can pull, batches grow and the delay grows with them; with
it, the rate follows what the pipeline processes and the delay stays flat.

In the same run, the hand-written limit (`../shared/bench/limit`, workload W2 on the same corpus,
through the shared harness) is measured as the machine's reference: the machine is shared and
noisy, only comparisons within one run hold.

Usage (bench/backpressure.sh builds everything and calls this):
  python3 bench/backpressure.py --ember target/release/ember --corpus $PEERS/data/corpus-100mb.txt \
      [--limit target/limit/release/limit] [--seconds 60] [--runs off,on]
Prints a Markdown table and each run's delays; appends one JSON line per run to
bench/backpressure.jsonl.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

CONFIGS = {
    "off": [],
    "on": ["--conf", "spark.streaming.backpressure.enabled=true"],
    # Spark's PID estimator alone, without ember's lag rule.
    "pid": [
        "--conf", "spark.streaming.backpressure.enabled=true",
        "--conf", "ember.streaming.backpressure.drainLag=false",
    ],
}

BENCH_LINE = re.compile(r"^BENCH batch=(\d+) total=(\d+) keys=(\d+)")


def start_feeder(ember, corpus):
    """`ember feed CORPUS --loop` on a free port; the process and its port."""
    feed = subprocess.Popen(
        [ember, "feed", corpus, "--port", "0", "--loop"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    for line in feed.stderr:
        m = re.search(r":(\d+)\s*$", line.strip())
        if m:
            # Keep draining stderr so that the feeder never blocks on it.
            threading.Thread(target=lambda: feed.stderr.read(), daemon=True).start()
            return feed, int(m.group(1))
        if time.monotonic() > deadline:
            break
    feed.kill()
    sys.exit("ember feed did not say its port")


def run_once(args, name):
    """One run of configuration `name`; its record."""
    feed, port = start_feeder(args.ember, args.corpus)
    work = tempfile.mkdtemp(prefix=f"ember-backpressure-{name}-")
    cmd = [args.ember, "wordcount", "--socket", f"127.0.0.1:{port}", "--stateful",
           "--checkpoint", os.path.join(work, "checkpoint"), "--summary",
           "--master", args.master, "--batch", "1s", "--duration", f"{args.seconds}s",
           *CONFIGS[name]]
    env = dict(os.environ, RUST_LOG="warn,ember::scheduler::rate=debug")
    log_path = os.path.join(work, "stderr.log")
    batches = []
    t0 = time.time()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
        try:
            for line in proc.stdout:
                arrived = time.time()
                m = BENCH_LINE.match(line)
                if m:
                    batch_ms, total, keys = (int(g) for g in m.groups())
                    batches.append({"batch_ms": batch_ms, "arrived": arrived, "total": total,
                                    "keys": keys})
            code = proc.wait(timeout=args.seconds + 120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            feed.kill()
            feed.wait()
    if code != 0:
        sys.exit(f"{name}: ember wordcount exited with {code}; see {log_path}")
    # Batches due while the run lasted (the graceful stop's last batch is left out).
    end_ms = (t0 + args.seconds) * 1000
    series = []
    previous = 0
    for b in batches:
        words = b["total"] - previous
        previous = b["total"]
        if b["batch_ms"] <= end_ms:
            series.append({"t": round(b["batch_ms"] / 1000 - t0, 2),
                           "delay": round(b["arrived"] - b["batch_ms"] / 1000, 3),
                           "words": words, "keys": b["keys"]})
    rates = [l for l in open(log_path) if "backpressure: rate limit" in l]
    shutil.rmtree(work, ignore_errors=True)
    return {"config": name, "command": " ".join(cmd[:1] + ["wordcount"] + cmd[2:]),
            "seconds": args.seconds, "batches": series, "rate_updates": len(rates),
            "words": previous, "words_per_s": round(previous / args.seconds)}


def window(delays, at, n=5):
    """Mean of `n` delays around index `at` (clamped to the series)."""
    lo = max(0, min(at - n // 2, len(delays) - n))
    part = delays[lo:lo + n]
    return statistics.mean(part) if part else float("nan")


def summary(run):
    delays = [b["delay"] for b in run["batches"]]
    half = delays[len(delays) // 2:]
    ordered = sorted(delays)
    return {
        "batches": len(delays),
        "median": statistics.median(delays),
        "p90": ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))],
        "start": window(delays, 2),
        "middle": window(delays, len(delays) // 2),
        "end": window(delays, len(delays) - 3),
        "max": max(delays),
        "max_2nd_half": max(half),
        "words_per_s": run["words_per_s"],
    }


def run_limit(args):
    """The hand-written limit on W2 with the same corpus, through the shared harness."""
    if not args.limit:
        return None
    size = re.search(r"corpus-(\d+)mb\.txt$", args.corpus)
    if not size:
        return None
    results = tempfile.mktemp(suffix=".jsonl")
    env = dict(os.environ, EMBER_LIMIT=args.limit,
               PEERS=os.path.dirname(os.path.dirname(args.corpus)))
    subprocess.run([sys.executable, os.path.join(args.shared, "bench", "run.py"),
                    "--config", os.path.join(HERE, "engines.toml"), "--engine", "limit",
                    "--workload", "w2", "--size", size.group(1), "--timeout", "300",
                    "--results", results, "--quiet-wait", "20", "--quiet-thresh", "0.5"],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    with open(results) as f:
        record = json.loads(f.readlines()[-1])
    os.unlink(results)
    return record


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ember", default=os.environ.get("EMBER_BIN",
                    os.path.join(REPO, "target", "release", "ember")))
    ap.add_argument("--corpus", default=os.path.join(
        os.environ.get("PEERS", "/tmp/ember-peers"), "data", "corpus-100mb.txt"))
    ap.add_argument("--limit", default=os.environ.get("EMBER_LIMIT"))
    ap.add_argument("--shared", default=os.path.join(REPO, "..", "shared"))
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--runs", default="off,on")
    ap.add_argument("--results", default=os.path.join(HERE, "backpressure.jsonl"))
    args = ap.parse_args()
    for name in args.runs.split(","):
        if name not in CONFIGS:
            sys.exit(f"unknown run {name} (one of {', '.join(CONFIGS)})")

    started = time.strftime("%Y-%m-%d %H:%M:%S")
    limit = run_limit(args)
    runs = [run_once(args, name) for name in args.runs.split(",")]

    print(f"\nmeasured {started}, {args.seconds} s per run, corpus {args.corpus}")
    if limit:
        print(f"limit (W2, same corpus): {limit.get('words_per_s', 0):,.0f} words/s, "
              f"max lag {limit.get('max_lag_s')} s")
    print("\n| backpressure | batches | delay start s | middle s | end s | median s | p90 s | "
          "max s | max in 2nd half s | words/s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for run in runs:
        s = summary(run)
        print(f"| {run['config']} | {s['batches']} | {s['start']:.2f} | {s['middle']:.2f} | "
              f"{s['end']:.2f} | {s['median']:.2f} | {s['p90']:.2f} | {s['max']:.2f} | "
              f"{s['max_2nd_half']:.2f} | {s['words_per_s']:,} |")
    for run in runs:
        print(f"\n{run['config']}: delays per batch (s): "
              + " ".join(f"{b['delay']:.1f}" for b in run["batches"]))
        print(f"{run['config']}: command: {run['command']}")
    with open(args.results, "a") as f:
        for run in runs:
            f.write(json.dumps({"measured": started, **run, "summary": summary(run),
                                "limit": limit and {k: limit.get(k) for k in
                                                    ("words_per_s", "max_lag_s", "span_s")}})
                    + "\n")


if __name__ == "__main__":
    main()
