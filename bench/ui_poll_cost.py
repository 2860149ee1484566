#!/usr/bin/env python3
"""What one poll of an open web UI costs the ember process, in CPU time: the figure behind the UI
cost benchmark (bench/run-ui.sh), measured where the harness's throughput is too noisy to show
a difference of a few per cent.

    python3 bench/ui_poll_cost.py target/release/ember [--polls 300] [--batch-ms 50]

Runs `ember feed` (a slow, steady feed) and `ember wordcount --ui-port 0` with short batches until
the UI retains its full 1000 completed batches (the largest answers a page gets), then reads the
process's CPU time (/proc/<pid>/stat, user + system) over two windows of equal length: one with
nobody polling, one in which the page's four requests (statistics, receivers, batches, ember's
figures) are made POLLS times back to back. The difference over POLLS is the CPU one poll costs;
a page polls once per batch interval (at least 500 ms apart), so at 1 s batches that figure per
second is the share of one core an open page takes. Prints one JSON line.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    """User + system CPU seconds of process `pid` (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read()


def first_match(proc, pattern, within, what):
    """The first match of `pattern` in `proc`'s stderr within `within` s (stderr is drained by
    a thread so the child never blocks on it)."""
    found, lines = [], []
    done = threading.Event()

    def read():
        for line in proc.stderr:
            lines.append(line)
            m = re.search(pattern, line)
            if m and not found:
                found.append(m)
                done.set()
        done.set()

    threading.Thread(target=read, daemon=True).start()
    if not done.wait(within) or not found:
        sys.exit(f"ui_poll_cost: {what} did not start within {within} s:\n{''.join(lines)}")
    return found[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ember")
    ap.add_argument("--polls", type=int, default=300)
    ap.add_argument("--batch-ms", type=int, default=50)
    ap.add_argument("--rate", type=int, default=2000, help="lines per second the feed sends")
    a = ap.parse_args()
    procs = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            text = os.path.join(tmp, "text.txt")
            with open(text, "w") as f:
                for i in range(1000):
                    f.write(" ".join(f"w{(i * 7 + j) % 500}" for j in range(10)) + "\n")
            feed = subprocess.Popen([a.ember, "feed", text, "--port", "0", "--rate", str(a.rate), "--loop"],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            procs.append(feed)
            port = first_match(feed, r"listening on 127\.0\.0\.1:(\d+)", 30, "ember feed").group(1)
            ember = subprocess.Popen([a.ember, "wordcount", "--socket", f"127.0.0.1:{port}", "--summary",
                                      "--batch", f"{a.batch_ms}ms", "--ui-port", "0"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            procs.append(ember)
            ui = first_match(ember, r"Streaming UI at (http://127\.0\.0\.1:\d+)", 30, "ember wordcount").group(1)
            app = json.loads(get(f"{ui}/api/v1/applications"))[0]["id"]
            base = f"{ui}/api/v1/applications/{app}/streaming"
            deadline = time.monotonic() + 300
            while json.loads(get(f"{base}/statistics"))["numRetainedCompletedBatches"] < 1000:
                if time.monotonic() > deadline:
                    sys.exit("ui_poll_cost: the UI did not retain 1000 batches within 300 s")
                time.sleep(1)

            fetched = 0
            start_cpu, start = cpu_s(ember.pid), time.monotonic()
            for _ in range(a.polls):
                for part in ["statistics", "receivers", "batches", "ember"]:
                    fetched += len(get(f"{base}/{part}"))
            polled_cpu, polled_s = cpu_s(ember.pid) - start_cpu, time.monotonic() - start
            start_cpu = cpu_s(ember.pid)
            time.sleep(polled_s)
            idle_cpu = cpu_s(ember.pid) - start_cpu
            per_poll_ms = (polled_cpu - idle_cpu) * 1000 / a.polls
            print(json.dumps({
                "polls": a.polls, "window_s": round(polled_s, 2), "cpu_polled_s": round(polled_cpu, 3),
                "cpu_idle_s": round(idle_cpu, 3), "cpu_per_poll_ms": round(per_poll_ms, 3),
                "bytes_per_poll": fetched // a.polls,
                # One poll a second (1 s batches): the share of one core and of the 2-core machine.
                "share_of_core_at_1s": round(per_poll_ms / 1000, 5),
            }))
    finally:
        for p in reversed(procs):
            p.kill()
            p.wait(timeout=30)


if __name__ == "__main__":
    main()
