"""The seed notebook on ember, run by a real Jupyter kernel: its cells unchanged except
``pyspark`` -> ``ember`` in the imports (and its PORT), against a real TCP server and the real
directory /tmp/add_books_here that the notebook hard-codes. Also: interrupting the kernel stops
a running stream, and the next cell can make a new StreamingContext.

Needs nbclient, ipykernel and nbformat in the Python that runs pytest (the kernel is that same
Python, with the same PYTHONPATH). The seed is read from $EMBER_SHARED/reference (default: the
``shared`` folder beside the repository).
"""

import importlib.util
import re
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _load(name):
    # By file path: a package named `notebook` on sys.path would shadow tests/notebook/.
    module_name = "ember_nbtest_" + name
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, HERE / "notebook" / (name + ".py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


seed = _load("seed_notebook")
harness = _load("harness")

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

# The notebook sleeps 10 + 5 + 30 + 30 s in its four programs; any cell taking longer than this
# is a hang, not slowness.
CELL_TIMEOUT_S = 180
# The notebook hard-codes this directory (cells 3 and 4).
BOOKS_DIR = Path("/tmp/add_books_here")
# Two cells' source fragments that tell the notebook's programs apart.
PROGRAMS = {
    1: ("socketTextStream", "reduceByKey"),
    2: ("socketTextStream", "initialRDD=initialStateRDD"),
    3: ("textFileStream", "updateStateByKey"),
    4: ("textFileStream", "foreachRDD(process)"),
}


def _program_cells(nb):
    found = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for program, needles in PROGRAMS.items():
            if all(n in cell.source for n in needles) and program not in found:
                found[program] = index
                break
    assert sorted(found) == [1, 2, 3, 4], "the seed's four programs not found: %s" % found
    return found


def _stdout(cell):
    return "".join(o.get("text", "") for o in cell.outputs
                   if o.output_type == "stream" and o.name == "stdout")


def _all_streams(cell):
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def _counts(block):
    return dict(r for r in block.records if isinstance(r, tuple) and len(r) == 2)


# -- the conversion ------------------------------------------------------------------------


def test_conversion_changes_only_imports_and_port():
    port = seed.free_port()
    original = seed.read_jupytext_markdown(seed.seed_path().read_text(encoding="utf-8"))
    original_code = [c.source for c in original.cells if c.cell_type == "code"]
    nb, changes = seed.build(port)
    nbformat.validate(nb)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert len(code) == len(original_code) == 9

    changed = set()
    for before_cell, after_cell in zip(original_code, code):
        for before, after in zip(before_cell.split("\n"), after_cell.split("\n"), strict=True):
            if before != after:
                changed.add((before, after))
    assert changed == {(c.before, c.after) for c in changes}
    for before, after in changed:
        if before.startswith("PORT"):
            assert after == "PORT=%d # Change this to a unique port before running individually" \
                % port
        else:
            assert re.match(r"\s*(from|import) pyspark\b", before), before
            assert after == before.replace("pyspark", "ember", 1)
    assert sum(1 for b, _ in changed if "pyspark" in b) == 5
    assert not any("pyspark" in c for c in code)


def test_reader_agrees_with_jupytext():
    jupytext = pytest.importorskip("jupytext")
    text = seed.seed_path().read_text(encoding="utf-8")
    theirs = [c.source for c in jupytext.reads(text, fmt="md").cells if c.cell_type == "code"]
    ours = [c.source for c in seed.read_jupytext_markdown(text).cells if c.cell_type == "code"]
    assert ours == theirs


# -- the notebook, end to end --------------------------------------------------------------


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The seed notebook executed once by a real kernel: (notebook, cell index of each program).

    Errors do not stop the run (``allow_errors``), so that each program's test below reports on
    its own cell; ``test_every_cell_runs_without_error`` fails on any cell's error.
    """
    tmp = tmp_path_factory.mktemp("seed-notebook")
    workdir = tmp / "work"
    workdir.mkdir()
    kernel_dirs = harness.write_kernel_spec(tmp)

    with harness.LineServer("hello world hello") as server, \
            harness.BookDropper(BOOKS_DIR, interval=1.0, active=False) as books:
        nb, _ = seed.build(server.port)
        programs = _program_cells(nb)
        nbformat.write(nb, str(workdir / "seed-ember.ipynb"))

        def on_cell_execute(cell, cell_index):
            # Files go into the directory only while programs 3 and 4 run, as a student would
            # add books: earlier files would be older than those streams' start, which Spark
            # (and ember) ignore anyway.
            books.active = cell_index in (programs[3], programs[4])

        client = nbclient.NotebookClient(
            nb,
            km=harness.kernel_manager(kernel_dirs),
            timeout=CELL_TIMEOUT_S,  # a cell over this raises CellTimeoutError: the test fails
            startup_timeout=60,
            allow_errors=True,
            on_cell_execute=on_cell_execute,
            resources={"metadata": {"path": str(workdir)}},
        )
        try:
            client.execute()
        finally:
            nbformat.write(nb, str(workdir / "seed-ember.executed.ipynb"))
    return nb, programs


def _errors(cell):
    """The tracebacks of a cell's error outputs, without terminal colours."""
    return "\n".join(re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(o.get("traceback", [])))
                     for o in cell.outputs if o.output_type == "error")


def _assert_ran(nb, index):
    errors = _errors(nb.cells[index])
    assert not errors, "cell %d raised:\n%s" % (index, errors)
    printed = _all_streams(nb.cells[index])
    # A failed batch prints its traceback; so does program 4's `except: print(traceback...)`.
    assert "Traceback" not in printed, "cell %d printed a traceback:\n%s" % (index, printed)


def test_every_cell_runs_without_error(executed):
    nb, _ = executed
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            _assert_ran(nb, index)


def test_program_1_pprints_batch_counts_in_its_own_cell(executed):
    nb, programs = executed
    _assert_ran(nb, programs[1])
    out = _stdout(nb.cells[programs[1]])
    blocks = harness.pprint_blocks(out)
    assert blocks, "program 1 printed no pprint block in its cell:\n%s" % out
    assert re.search(r"^Time: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", out, re.M), out
    times = [b.time for b in blocks]
    assert times == sorted(set(times)), "batch times not increasing: %s" % times
    counted = [_counts(b) for b in blocks if b.records]
    assert counted, "program 1 counted nothing:\n%s" % out
    for counts in counted:
        # Each line is "hello world hello", and a line never straddles two batches.
        assert set(counts) == {"hello", "world"}, counts
        assert counts["hello"] == 2 * counts["world"], counts
    assert re.search(r"^\('hello', \d+\)$", out, re.M), out


def test_program_2_running_counts_start_from_the_initial_rdd(executed):
    nb, programs = executed
    _assert_ran(nb, programs[2])
    out = _stdout(nb.cells[programs[2]])
    hellos = []
    for block in harness.pprint_blocks(out):
        counts = _counts(block)
        if not counts:
            continue
        assert set(counts) == {"hello", "world"}, counts
        # k lines give hello 2k + 1 and world k + 1 only if the initial state was counted.
        assert counts["hello"] == 2 * counts["world"] - 1, counts
        hellos.append(counts["hello"])
    assert hellos, "program 2 printed no counts:\n%s" % out
    assert hellos == sorted(hellos), "program 2's totals are not running totals: %s" % hellos
    assert hellos[-1] > 1, "program 2 never counted the server's lines: %s" % hellos


def test_program_3_counts_the_files_with_fresh_state(executed):
    nb, programs = executed
    _assert_ran(nb, programs[3])
    out = _stdout(nb.cells[programs[3]])
    totals = []
    for block in harness.pprint_blocks(out):
        counts = _counts(block)
        if not counts:
            continue
        # Only the files' words: program 2's state, left in the same `checkpoint` directory,
        # is not taken over by this new context.
        assert set(counts) == set(harness.BOOK_WORDS), counts
        assert len(set(counts.values())) == 1, "every file has each word once: %s" % counts
        totals.append(counts["times"])
    assert totals, "program 3 printed no counts:\n%s" % out
    assert totals == sorted(totals), "program 3's totals are not running totals: %s" % totals
    assert totals[-1] >= 2, "program 3 saw fewer than two files: %s" % totals


def test_program_4_prints_spark_tables_of_sql_counts(executed):
    nb, programs = executed
    _assert_ran(nb, programs[4])
    out = _stdout(nb.cells[programs[4]])
    headers = re.findall(r"^========= (.+) =========$", out, re.M)
    assert len(headers) >= 5, out
    for stamp in headers:
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?", stamp), stamp
    tables = harness.spark_tables(out)
    assert tables, "program 4 printed no table:\n%s" % out
    assert re.search(r"^\| *word\|total\|$", out, re.M), out
    for head, rows in tables:
        assert head == ["word", "total"], head
        assert sorted(r[0] for r in rows) == sorted(harness.BOOK_WORDS), rows
        assert len({r[1] for r in rows}) == 1, "every file has each word once: %s" % rows
    # The notebook prints show()'s return value.
    assert "\nNone\n" in out


# -- interrupting the kernel ---------------------------------------------------------------

SETUP = """\
from ember import SparkConf
from ember.context import SparkContext
from ember.streaming import StreamingContext

sc = SparkContext.getOrCreate(SparkConf().setMaster("local[*]"))
ssc = StreamingContext(sc, 1)
lines = ssc.socketTextStream("localhost", {port})
lines.flatMap(lambda line: line.split(" ")).map(lambda w: (w, 1)) \\
     .reduceByKey(lambda a, b: a + b).pprint()
"""

AGAIN = """\
ssc = StreamingContext(sc, 1)
ssc.socketTextStream("localhost", {port}).map(lambda line: ("line", 1)) \\
   .reduceByKey(lambda a, b: a + b).pprint()
ssc.start()
ssc.awaitTerminationOrTimeout(4)
ssc.stop(stopSparkContext=False)
print("active after stop:", StreamingContext.getActive())
"""


def test_interrupting_the_kernel_stops_the_stream(tmp_path):
    from jupyter_client import KernelManager

    kernel_dirs = harness.write_kernel_spec(tmp_path)
    with harness.LineServer("hello world hello") as server:
        session = harness.KernelSession(harness.kernel_manager(kernel_dirs, KernelManager),
                                        cwd=tmp_path)
        try:
            setup = session.run(SETUP.format(port=server.port))
            assert setup.error is None, setup.traceback()

            running = session.submit("ssc.start()\nimport time; time.sleep(120)")
            # Interrupt once the stream has printed counts of the server's lines.
            finished = running.wait(CELL_TIMEOUT_S, until=lambda c: "('hello', " in c.stdout)
            assert not finished, "the cell ended before it was interrupted:\n%s\n%s" % (
                running.stdout, running.traceback())
            session.km.interrupt_kernel()
            running.wait(60)
            assert running.error is not None, "the interrupt raised nothing"
            assert running.error["ename"] == "KeyboardInterrupt", running.traceback()

            check = session.run("print(StreamingContext.getActive() is None)")
            assert check.error is None, check.traceback()
            assert check.stdout.strip() == "True", check.stdout

            # A stopped stream prints no more batches, here or anywhere.
            quiet = session.run("import time; time.sleep(3)")
            assert quiet.error is None, quiet.traceback()
            assert "Time: " not in quiet.stdout, quiet.stdout

            again = session.run(AGAIN.format(port=server.port), timeout=CELL_TIMEOUT_S)
            assert again.error is None, again.traceback()
            assert harness.pprint_blocks(again.stdout), again.stdout
            assert re.search(r"^\('line', \d+\)$", again.stdout, re.M), again.stdout
            assert "active after stop: None" in again.stdout
            assert "Traceback" not in again.stdout + again.stderr, again.stdout + again.stderr
        finally:
            session.close()
