"""What DStream.pprint prints, byte for byte (expected/pprint.txt).

    python pprint_case.py --engine pyspark|ember      # prints the pprint output on stdout
    python pprint_case.py --engine ember --check      # compares with expected/pprint.txt

The child run registers `stream.pprint()` then `stream.pprint(3)` on one
queueStream of PPRINT_INPUT (batch duration 1 s) and stops after
len(PPRINT_INPUT) batches. Each batch therefore prints two blocks:

    -------------------------------------------
    Time: 2026-12-02 19:53:01
    -------------------------------------------
    <str(record) per record, at most num>
    ...                      (only when the batch has more than num records)
    <empty line>

The time is str(datetime): local time, and since a 1 s batch puts every time
on a whole second, no fraction (str(datetime) drops a zero microsecond part;
with a 0.5 s batch every other header would end in ".500000").

`capture` keeps the first EXPECTED_BLOCKS blocks (a batch after the last one
may print before stop() takes effect) and `normalise` replaces only the time
value, so the comparison is exact on every other byte.
"""

import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

PPRINT_BATCH_DURATION = 1
PPRINT_INPUT = [
    ["hello", "world", "", "it's \"quoted\"", "üñí"],
    [1, -2, 3000000000000000000000],
    [("hello", 2), ("a", ("b", 1.5)), (None, "it's"), ("x", ["list", 1]), ((1, 2), (3, (4, "5")))],
    [0.1, 1e20, 1e-7, -0.0, 2.0, float("inf"), float("nan"), None, True, False],
    list(range(15)),
    [],
    [("only", 1)],
]
BLOCKS_PER_BATCH = 2  # pprint() and pprint(3)
EXPECTED_BLOCKS = len(PPRINT_INPUT) * BLOCKS_PER_BATCH
SEPARATOR = b"-------------------------------------------\n"
TIME_LINE = re.compile(rb"^Time: \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$", re.M)


def build(ssc, sc, inputs):
    """Registers the two pprints; returns the stream to count batches on."""
    stream = inputs[0]
    stream.pprint()
    stream.pprint(3)
    return stream


def run(engine, timeout=120.0):
    """Runs the pprint program in this process (its stdout is the output)."""
    sys.path.insert(0, HERE)
    import runner

    modules = runner.engine_modules(engine)
    sc = runner.make_context(modules)
    ssc = modules.StreamingContext(sc, PPRINT_BATCH_DURATION)
    stream = build(ssc, sc, [ssc.queueStream(PPRINT_INPUT)])
    done = []
    stream.foreachRDD(lambda t, rdd: done.append(t))
    ssc.start()
    deadline = time.monotonic() + timeout
    while len(done) < len(PPRINT_INPUT) and time.monotonic() < deadline:
        time.sleep(0.01)
    ssc.stop(stopSparkContext=False)
    sys.stdout.flush()
    sc.stop()


def blocks(text):
    """Splits pprint output into blocks, each starting with the separator line
    that precedes "Time: "."""
    starts = [m.start() - len(SEPARATOR) for m in re.finditer(rb"^Time: ", text, re.M)]
    return [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)])] if starts else []


def truncate(text, n=EXPECTED_BLOCKS):
    """The first n blocks (anything before the first block is kept, so that
    stray output shows up in a comparison)."""
    found = blocks(text)
    head = text[: text.find(found[0])] if found else text
    return head + b"".join(found[:n])


def normalise(text):
    """Replaces the time value of every "Time: ..." line, nothing else."""
    return TIME_LINE.sub(b"Time: <TIME>", text)


def capture(python, engine):
    """Runs `python pprint_case.py --engine ENGINE --child` and returns its
    stdout bytes truncated to EXPECTED_BLOCKS blocks."""
    env = dict(os.environ, SPARK_LOCAL_IP="127.0.0.1", PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [python, os.path.abspath(__file__), "--engine", engine, "--child"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        timeout=300,
        check=True,
    )
    return truncate(proc.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", default="pyspark", choices=["pyspark", "ember"])
    parser.add_argument("--child", action="store_true", help="run the program itself (used by capture)")
    parser.add_argument("--check", action="store_true", help="compare with expected/pprint.txt")
    args = parser.parse_args()
    if args.child:
        run(args.engine)
        return
    got = capture(sys.executable, args.engine)
    if args.check:
        with open(os.path.join(HERE, "expected", "pprint.txt"), "rb") as f:
            want = f.read()
        if normalise(got) != normalise(want):
            sys.stdout.buffer.write(b"MISMATCH\n--- expected\n" + normalise(want) + b"--- got\n" + normalise(got))
            sys.exit(1)
        print("pprint output matches expected/pprint.txt")
    else:
        sys.stdout.buffer.write(got)


if __name__ == "__main__":
    main()
