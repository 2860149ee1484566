"""The web UI in a real headless browser (Debian's Chromium driven by Playwright): a real
`ember wordcount` reads a real `ember feed` over 127.0.0.1, and the page it serves must load
without console errors, draw a point for every batch that ran (as the REST API lists them),
link each batch to its batch page with the batch's output operations, and, once the process is
gone, say so and keep the last figures.

Run by scripts/test.sh after the other suites, with the binary `cargo test` built:
    scripts/browser-env.sh          # Chromium (apt-get) and Playwright (venv), once
    EMBER_BIN=target/debug/ember target/browser-venv/bin/python -m pytest crates/ember-cli/tests/browser
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import sync_playwright

REPO = pathlib.Path(__file__).resolve().parents[4]
EMBER = pathlib.Path(os.environ.get("EMBER_BIN", REPO / "target" / "debug" / "ember"))
CHROMIUM = os.environ.get("EMBER_CHROMIUM") or shutil.which("chromium")
# How long anything that should be quick may take (a start, a few batches, a page load) on a
# loaded 2-core machine; every wait below fails with a message when it runs out.
QUICK = 60
BATCH_MS = 500
# Enough completed batches for charts and paging to mean something, few enough to stay quick.
MIN_BATCHES = 6


class Proc:
    """A child process whose stderr a thread collects, so that a wait can look for a line in it
    with a deadline; killed and reaped by `stop()` (the fixtures call it in any case)."""

    def __init__(self, name, args, stdout):
        self.name = name
        self.lines = []
        self.cond = threading.Condition()
        self.popen = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=stdout,
                                      stderr=subprocess.PIPE, text=True, errors="replace")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.popen.stderr:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def find(self, pattern, within):
        """The first match of `pattern` in a stderr line, waiting at most `within` seconds."""
        deadline = time.monotonic() + within
        seen = 0
        with self.cond:
            while True:
                for line in self.lines[seen:]:
                    m = re.search(pattern, line)
                    if m:
                        return m
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0 or self.popen.poll() is not None and seen == len(self.lines):
                    raise AssertionError(f"{self.name}: no line matching {pattern!r} within {within} s "
                                         f"(exit code {self.popen.poll()}); stderr:\n" + "\n".join(self.lines))
                self.cond.wait(min(left, 0.2))

    def stop(self):
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(timeout=QUICK)


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


def until(what, probe, within=QUICK, every=0.2):
    """Calls `probe` until it returns something truthy; fails naming `what` after `within` s."""
    deadline = time.monotonic() + within
    last = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except (urllib.error.URLError, ConnectionError, OSError) as e:
            last = e
        else:
            if last:
                return last
        time.sleep(every)
    raise AssertionError(f"not within {within} s: {what} (last: {last!r})")


@pytest.fixture
def stream(tmp_path):
    """A running `ember wordcount` on a rate-limited `ember feed`, with its UI on a free port:
    yields (ember process, UI base URL, REST base URL of its application)."""
    assert EMBER.is_file(), f"{EMBER} is missing: build it first (cargo build -p ember-cli) or set EMBER_BIN"
    corpus = tmp_path / "corpus.txt"
    words = [f"w{i}" for i in range(50)]
    corpus.write_text("".join(" ".join(words[(i + j) % 50] for j in range(8)) + "\n" for i in range(500)))
    procs = []
    try:
        feed = Proc("ember feed", [str(EMBER), "feed", str(corpus), "--port", "0", "--rate", "2000", "--loop"],
                    subprocess.DEVNULL)
        procs.append(feed)
        port = feed.find(r"listening on 127\.0\.0\.1:(\d+)", QUICK).group(1)
        with open(tmp_path / "wordcount.out", "w") as out:
            ember = Proc("ember wordcount",
                         [str(EMBER), "wordcount", "--socket", f"127.0.0.1:{port}",
                          "--batch", f"{BATCH_MS}ms", "--ui-port", "0"], out)
        procs.append(ember)
        ui = ember.find(r"Streaming UI at (http://127\.0\.0\.1:\d+)/streaming/", QUICK).group(1)
        apps = until("the REST API lists the application", lambda: get_json(f"{ui}/api/v1/applications"))
        rest = f"{ui}/api/v1/applications/{apps[0]['id']}/streaming"
        until(f"{MIN_BATCHES} completed batches with input",
              lambda: len([b for b in get_json(f"{rest}/batches?status=COMPLETED") if b["inputSize"] > 0])
              >= MIN_BATCHES)
        yield ember, ui, rest
    finally:
        for p in reversed(procs):
            p.stop()


@pytest.fixture
def browser():
    assert CHROMIUM, "chromium is missing: run scripts/browser-env.sh"
    with sync_playwright() as p:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def chart_points(page):
    """What each chart drew: its x (batch time, s) and y values, from the page's own charts."""
    return page.evaluate("""() => Object.fromEntries(Object.entries(window.EmberUi.charts).map(
        ([metric, c]) => [metric, {x: Array.from(c.timeline.data[0]), y: Array.from(c.timeline.data[1]),
                                    bars: Array.from(c.histogram.data[1])}]))""")


def line_pixels(page, metric):
    """How many pixels of the timeline's canvas have the series' colour: the line was drawn."""
    return page.evaluate("""(metric) => {
        const c = window.EmberUi.charts[metric].timeline.ctx.canvas;
        const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < px.length; i += 4)
            if (Math.abs(px[i] - 31) < 8 && Math.abs(px[i + 1] - 119) < 8 && Math.abs(px[i + 2] - 180) < 8) n++;
        return n;
    }""", metric)


def test_page_draws_the_batches_that_ran_and_links_to_them(stream, browser):
    ember, ui, rest = stream
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    console = []
    page.on("console", lambda m: console.append((m.type, m.text)))
    page.on("pageerror", lambda e: console.append(("pageerror", str(e))))

    page.goto(f"{ui}/")
    assert page.url == f"{ui}/streaming/", "/ redirects to the streaming page"
    page.wait_for_function("() => window.EmberUi && window.EmberUi.charts.totalDelay", timeout=QUICK * 1000)
    assert page.locator("h1").inner_text() == "Streaming Statistics"
    summary = page.locator("#summary").inner_text()
    assert re.fullmatch(r"Running batches of 500 ms for .+ since \d{4}/\d\d/\d\d \d\d:\d\d:\d\d "
                        r"\([\d,]+ completed batches, [\d,]+ records\)", summary), summary

    # The charts follow the stream: wait until they show a batch that completed after the page
    # opened, then compare every point with what the REST API says about that batch.
    newest = max(b["batchId"] for b in get_json(f"{rest}/batches?status=COMPLETED"))
    page.wait_for_function(f"() => Math.max(...window.EmberUi.charts.totalDelay.timeline.data[0]) * 1000 > {newest}",
                           timeout=QUICK * 1000)
    points = chart_points(page)
    completed = {b["batchId"]: b for b in get_json(f"{rest}/batches?status=COMPLETED")}
    drawn = [round(x * 1000) for x in points["totalDelay"]["x"]]
    assert len(drawn) >= MIN_BATCHES
    assert len(set(drawn)) == len(drawn) and drawn == sorted(drawn), "one point per batch, in time order"
    missing = [t for t in drawn if t not in completed]
    assert not missing, f"points for batches the REST API does not list as completed: {missing}"
    # Every completed batch from the first drawn one up to the last drawn one has its point.
    assert drawn == sorted(t for t in completed if drawn[0] <= t <= drawn[-1])
    for metric, field in [("schedulingDelay", "schedulingDelay"), ("processingTime", "processingTime"),
                          ("totalDelay", "totalDelay")]:
        assert points[metric]["y"] == [completed[t][field] for t in drawn], metric
        assert sum(points[metric]["bars"]) == len(drawn), f"{metric}: the histogram counts every batch"
    rates = [completed[t]["inputSize"] * 1000 / completed[t]["batchDuration"] for t in drawn]
    assert points["inputRate"]["y"] == pytest.approx(rates)
    assert sum(rates) > 0, "the feed's records arrived"
    for metric in points:
        assert line_pixels(page, metric) > 50, f"the {metric} timeline has no line drawn"

    # Receivers and ember's extras come from the same stream.
    assert "ACTIVE" in page.locator("#receivers tbody").inner_text()
    assert "receiver" in page.locator("#sources tbody").inner_text()

    # The completed table links each batch to its page, which lists the batch's output ops. (The
    # link is found again by its address: the table moves down as new batches arrive.)
    href = page.locator("#completed tbody a").first.get_attribute("href")
    batch_id = int(re.fullmatch(r"/streaming/batch/\?id=(\d+)", href).group(1))
    page.locator(f'#completed tbody a[href="{href}"]').click()
    page.wait_for_url(f"{ui}/streaming/batch/?id={batch_id}", timeout=QUICK * 1000)
    page.wait_for_selector("#operations tbody tr[data-op]", timeout=QUICK * 1000)
    ops = get_json(f"{rest}/batches/{batch_id}/operations")
    assert ops, "the REST API lists the batch's output operations"
    rows = page.locator("#operations tbody tr[data-op]")
    assert rows.count() == len(ops)
    for i, op in enumerate(sorted(ops, key=lambda o: o["outputOpId"])):
        cells = rows.nth(i).locator("td").all_inner_texts()
        assert cells[0] == str(op["outputOpId"])
        assert cells[1].startswith(op["name"])
        assert cells[2] != "-", "a completed operation has a duration"
        assert cells[3] == ("Failed" if op.get("failureReason") else "Succeeded")
    assert page.locator("[data-fact=status]").inner_text() == "COMPLETED"
    assert page.locator("#title").inner_text().startswith("Details of batch at ")

    assert not [m for m in console if m[0] in ("error", "warning", "pageerror")], console

    # The stream goes away: the page says so, keeps its figures, and logs it once.
    page.goto(f"{ui}/streaming/")
    page.wait_for_function("() => window.EmberUi.charts.totalDelay", timeout=QUICK * 1000)
    before = len(chart_points(page)["totalDelay"]["x"])
    console.clear()
    ember.stop()
    page.wait_for_function("() => document.getElementById('connection').textContent.includes('stream stopped / unreachable')",
                           timeout=QUICK * 1000)
    page.wait_for_timeout(3000)  # a few retries
    assert len(chart_points(page)["totalDelay"]["x"]) == before, "the last figures stay"
    assert page.locator("#completed tbody a").count() > 0
    own = [m for m in console if m[1].startswith("ember ui:")]
    assert len(own) == 1, console
    # The only other lines are the browser's own for the refused connections.
    assert all("ERR_CONNECTION_REFUSED" in text or text.startswith("ember ui:") for _, text in console), console
