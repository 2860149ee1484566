"""examples/python: the seed notebook's four programs as scripts, each run as its own process
(`python examples/python/0N_....py`) against a real TCP server or a real directory, with a short
--duration; their standard output is checked."""

import importlib.util
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent.parent.parent / "examples" / "python"

# A run of a few seconds; more than this is a hang.
PROCESS_TIMEOUT_S = 120


def _load_harness():
    # By file path, as test_notebook.py does (a package named `notebook` may exist elsewhere).
    name = "ember_nbtest_harness"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE / "notebook" / "harness.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


harness = _load_harness()


def _run(script, args, cwd):
    env = dict(os.environ, PYTHONPATH=harness.ember_python_path())
    done = subprocess.run([sys.executable, str(EXAMPLES / script), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=PROCESS_TIMEOUT_S)
    assert done.returncode == 0, "%s exited %d:\n%s\n%s" % (script, done.returncode,
                                                             done.stdout, done.stderr)
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    return done.stdout


def _counts(block):
    return dict(r for r in block.records if isinstance(r, tuple) and len(r) == 2)


def test_socket_wordcount_counts_each_batch(tmp_path):
    with harness.LineServer("hello world hello") as server:
        out = _run("01_socket_wordcount.py",
                   ["--host", "127.0.0.1", "--port", str(server.port), "--duration", "4"],
                   tmp_path)
    counted = [_counts(b) for b in harness.pprint_blocks(out) if b.records]
    assert counted, out
    for counts in counted:
        assert counts["hello"] == 2 * counts["world"], counts


def test_stateful_wordcount_keeps_running_totals_from_the_initial_state(tmp_path):
    with harness.LineServer("hello world hello") as server:
        out = _run("02_stateful_wordcount.py",
                   ["--host", "localhost", "--port", str(server.port), "--duration", "4"],
                   tmp_path)
    hellos = []
    for block in harness.pprint_blocks(out):
        counts = _counts(block)
        if counts:
            assert counts["hello"] == 2 * counts["world"] - 1, counts
            hellos.append(counts["hello"])
    assert hellos and hellos == sorted(hellos) and hellos[-1] > 1, out
    assert (tmp_path / "checkpoint").is_dir()


def _run_with_books(script, tmp_path, duration=6):
    watched = tmp_path / "books"
    with harness.BookDropper(watched, interval=0.5):
        return _run(script, ["--dir", str(watched), "--duration", str(duration)], tmp_path)


def test_directory_wordcount_counts_new_files(tmp_path):
    out = _run_with_books("03_directory_wordcount.py", tmp_path)
    totals = []
    for block in harness.pprint_blocks(out):
        counts = _counts(block)
        if counts:
            assert set(counts) == set(harness.BOOK_WORDS), counts
            assert len(set(counts.values())) == 1, counts
            totals.append(counts["it"])
    assert totals and totals == sorted(totals) and totals[-1] >= 2, out


def test_sql_over_stream_prints_spark_tables(tmp_path):
    out = _run_with_books("04_sql_over_stream.py", tmp_path)
    assert re.search(r"^========= \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? =========$", out, re.M)
    tables = harness.spark_tables(out)
    assert tables, out
    for head, rows in tables:
        assert head == ["word", "total"], head
        assert sorted(r[0] for r in rows) == sorted(harness.BOOK_WORDS), rows
