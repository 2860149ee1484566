#!/usr/bin/env python3
"""Profiles one W1 run of an `ember` binary (or the hand-written limit) with `perf record`.

Feeds CORPUS over one loopback connection as fast as the binary reads it, waits until the
printed batch totals add up to the corpus's word count, stops the run, and prints the samples
per thread and the top symbols. CPU samples, unlike wall-clock spans, compare two binaries
fairly on a machine shared with other work (BENCHMARKS.md, "fused chains").

    bench/profile_w1.py target/release/ember /tmp/ember-peers/data/corpus-200mb.txt
    bench/profile_w1.py --limit target/limit/release/limit /tmp/ember-peers/data/corpus-200mb.txt
    bench/profile_w1.py --threads 4 target/release/ember /tmp/ember-peers/data/corpus-1000mb.txt
    bench/profile_w1.py --times 25 target/release/ember /tmp/ember-peers/data/corpus-200mb.txt
    bench/profile_w1.py --event page-faults target/release/ember /tmp/ember-peers/data/corpus-1000mb.txt

`--times K` sends the corpus K times over the connection (K times its words), so a long input needs
no file of its size; `--event page-faults` samples where memory is first touched instead of where
the CPU is.
"""
import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary")
    ap.add_argument("corpus")
    ap.add_argument("--limit", action="store_true", help="BINARY is the hand-written limit")
    ap.add_argument("--no-ui", action="store_true", help="pass --no-ui (ember builds that serve the web UI)")
    ap.add_argument("--threads", type=int, default=2,
                    help="worker threads: ember's local[N], the limit's --threads N (default 2)")
    ap.add_argument("--times", type=int, default=1, help="send the corpus this many times (default 1)")
    ap.add_argument("--event", help="perf event to sample (default: perf's own, the CPU's cycles or cpu-clock)")
    ap.add_argument("--out", default="w1.perf", help="perf data file (default w1.perf)")
    ap.add_argument("--timeout", type=float, default=300.0)
    args = ap.parse_args()
    meta = re.sub(r"\.txt$", ".meta.json", args.corpus)
    target = json.load(open(meta))["words"] * args.times

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(0.5)
    port = srv.getsockname()[1]
    if args.limit:
        cmd = [args.binary, "w1", "--host", "127.0.0.1", "--port", str(port), "--batch-ms", "1000", "--threads", str(args.threads)]
    else:
        cmd = [args.binary, "wordcount", "--socket", f"127.0.0.1:{port}", "--summary",
               "--master", f"local[{args.threads}]", "--batch", "1000ms"] + (["--no-ui"] if args.no_ui else [])
    event = ["-e", args.event] if args.event else []
    perf = ["perf", "record"] + event + ["-F", "2000", "-g", "-o", args.out, "--"]
    proc = subprocess.Popen(perf + cmd, stdout=subprocess.PIPE, text=True, start_new_session=True)
    total = 0
    try:
        start = time.monotonic()
        while True:  # until the binary connects, or fails to start
            try:
                conn, _ = srv.accept()
                break
            except TimeoutError:
                if proc.poll() is not None or time.monotonic() - start > args.timeout:
                    print(f"{args.binary} ended or never connected", file=sys.stderr)
                    return 1
        with conn:
            for _ in range(args.times):
                with open(args.corpus, "rb") as f:
                    while chunk := f.read(1 << 20):
                        conn.sendall(chunk)
            for line in proc.stdout:
                m = re.search(r"total=(\d+)", line)
                if m:
                    total += int(m.group(1))
                    if total >= target or time.monotonic() - start > args.timeout:
                        break
        print(f"words counted: {total} of {target}", file=sys.stderr)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        proc.communicate(timeout=60)
    for sort in ("comm", "symbol"):
        report = subprocess.run(["perf", "report", "-i", args.out, "--no-children", "--sort", sort,
                                 "--stdio", "-n", "-g", "none"], capture_output=True, text=True).stdout
        rows = [l for l in report.splitlines() if "%" in l and not l.startswith("#")]
        print("\n".join(rows[:15]))
    return 0 if total == target else 1


if __name__ == "__main__":
    sys.exit(main())
