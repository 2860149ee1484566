#!/usr/bin/env python3
"""An open web UI, as the benchmark's load: fetches what the statistics page (app.js) fetches,
as often as it does, until the server goes away. Engine `ember-ui` of bench/engines.toml runs it
beside `ember wordcount` to measure what a watched UI costs the stream (bench/run-ui.sh).

    python3 bench/ui_poller.py http://127.0.0.1:4040
    python3 bench/ui_poller.py --free-port      # prints a free local port for the UI, and exits

The page loads its files once (/streaming/, /static/...), then every max(500 ms, batch interval)
asks for the streaming statistics, receivers, batches (all retained ones) and ember's own
figures; so does this (one after the other, where the page sends them together). Rendering is the browser's work, on the viewer's machine, and is left
out. Nothing is printed on stdout (the harness reads the engine's stdout); at the end one line on
stderr says how many polls were made and how many bytes they fetched.
"""

import json
import signal
import socket
import sys
import time
import urllib.error
import urllib.request

MIN_POLL_S = 0.5  # app.js's MIN_POLL_MS
START_TIMEOUT_S = 60  # the server must answer within this long after launch


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    if sys.argv[1] == "--free-port":
        print(free_port())
        return
    ui = sys.argv[1].rstrip("/")
    # The harness ends the engine's process group with SIGTERM: still say what was fetched.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            apps = json.loads(get(f"{ui}/api/v1/applications"))
            if apps:
                break
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            sys.exit(f"ui_poller: {ui} did not answer within {START_TIMEOUT_S} s")
        time.sleep(0.05)
    fetched = 0
    for path in ["/streaming/", "/static/app.js", "/static/style.css", "/static/uPlot.iife.min.js",
                 "/static/uPlot.min.css"]:
        fetched += len(get(ui + path))
    base = f"{ui}/api/v1/applications/{apps[0]['id']}/streaming"
    polls = 0
    try:
        while True:
            stats = get(f"{base}/statistics")
            fetched += len(stats)
            for part in ["receivers", "batches", "ember"]:
                fetched += len(get(f"{base}/{part}"))
            polls += 1
            # As the page: the next poll is planned when this one ends.
            time.sleep(max(MIN_POLL_S, json.loads(stats)["batchDuration"] / 1000))
    except (urllib.error.URLError, OSError, SystemExit):
        pass  # the stream has stopped: so does the viewer
    finally:
        print(f"ui_poller: {polls} polls, {fetched} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
