"""Runs one conformance case on an engine and returns its result as JSON-ready data.

`modules` is any namespace with `SparkConf`, `SparkContext` and
`StreamingContext` (for example `pyspark_modules()` or the same names taken
from `ember`), so the identical case code runs on PySpark (to record) and on
ember (to compare).

A result is either
    {"case": name, "ordered": bool, "batches": [{"batch": k, "output": [repr, ...]}, ...]}
with `k` the 1-based index of the batch time (k = 1 is the first batch after
start, so a window sliding every 2 batches outputs at k = 2, 4, ...) and the
reprs sorted unless the case is ordered, or
    {"case": name, "error": type name, "message": str(exc), "phase": "build" | "start"}
when building the stream or starting the context raised.

The batch index comes from the batch times: the runner also registers a
foreachRDD on the first input stream that only records times (it never touches
the RDD), and numbers every output time from the first input time. Waits are
bounded; nothing asserts on wall-clock durations.
"""

import json
import os
import shutil
import sys
import tempfile
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
EXPECTED_DIR = os.path.join(HERE, "expected")

# The configuration every run uses (recorded with it; see README.md).
MASTER = "local[2]"
APP_NAME = "ember-conformance"
CONF = {
    "spark.default.parallelism": "2",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}

DEFAULT_TIMEOUT = 300.0  # seconds, per case; only a bound, never an assertion


def pyspark_modules():
    """The real PySpark classes, as a namespace run_case accepts."""
    from pyspark import SparkConf, SparkContext
    from pyspark.streaming import StreamingContext

    return types.SimpleNamespace(SparkConf=SparkConf, SparkContext=SparkContext, StreamingContext=StreamingContext)


def ember_modules():
    """ember's classes under PySpark's names, as a namespace run_case accepts."""
    from ember import SparkConf, SparkContext
    from ember.streaming import StreamingContext

    return types.SimpleNamespace(SparkConf=SparkConf, SparkContext=SparkContext, StreamingContext=StreamingContext)


def engine_modules(engine):
    """"pyspark" or "ember"."""
    return {"pyspark": pyspark_modules, "ember": ember_modules}[engine]()


def make_context(modules):
    """A SparkContext with MASTER, APP_NAME and CONF. Case lambdas live in cases.py, so Python
    workers (PySpark's are separate processes) must be able to import it."""
    paths = os.environ.get("PYTHONPATH", "")
    if HERE not in paths.split(os.pathsep):
        os.environ["PYTHONPATH"] = HERE + (os.pathsep + paths if paths else "")
    conf = modules.SparkConf().setMaster(MASTER).setAppName(APP_NAME)
    for key, value in CONF.items():
        conf.set(key, value)
    sc = modules.SparkContext(conf=conf)
    sc.setLogLevel("ERROR")
    return sc


def _input_stream(ssc, sc, case, index, batches):
    kwargs = dict(case.queue_kwargs[index]) if case.queue_kwargs else {}
    slices = case.partitions[index] if case.partitions else None
    if slices is not None:
        batches = [sc.parallelize(batch, slices) for batch in batches]
    return ssc.queueStream(batches, **kwargs)


def _error(case, exc, phase):
    result = {"case": case.name, "error": type(exc).__name__, "message": str(exc), "phase": phase}
    java = getattr(exc, "java_exception", None)
    if java is not None:
        # PySpark passes JVM errors through as Py4JJavaError, whose str() holds
        # a py4j object id and a stack trace; keep the Java class and message.
        java_class, _, java_message = str(java).partition(": ")
        result["java_exception"] = java_class
        result["message"] = java_message
    return result


def run_case(modules, case, sc=None, timeout=DEFAULT_TIMEOUT):
    """Runs `case` and returns its result (see the module doc). `sc` is used if
    given, else `shared_context(modules)`. A case with `fresh_context` stops
    the shared context and runs on a new one (which becomes the shared one)."""
    if case.fresh_context:
        if sc is not None and sc is not _contexts.get(id(modules.SparkContext)):
            raise ValueError("case %s needs a fresh SparkContext: call run_case without sc" % case.name)
        stop_shared_context(modules)
        sc = None
    if sc is None:
        sc = shared_context(modules)
    ssc = modules.StreamingContext(sc, case.batch_duration)
    checkpoint_dir = None
    started = False
    try:
        if case.checkpoint:
            checkpoint_dir = tempfile.mkdtemp(prefix="ember-conformance-")
            ssc.checkpoint(checkpoint_dir)
        inputs = [_input_stream(ssc, sc, case, n, batches) for n, batches in enumerate(case.inputs)]
        try:
            stream = case.build(ssc, sc, inputs)
        except Exception as exc:  # the expected result of an error case
            return _error(case, exc, "build")

        input_times = []
        inputs[0].foreachRDD(lambda t, rdd: input_times.append(t))
        outputs = []
        if case.foreach_arity == 2:
            stream.foreachRDD(lambda t, rdd: outputs.append((t, rdd.collect())))
        else:
            stream.foreachRDD(lambda rdd: outputs.append((None, rdd.collect())))

        try:
            ssc.start()
            started = True
        except Exception as exc:
            return _error(case, exc, "start")

        deadline = time.monotonic() + timeout
        while len(outputs) < case.batches and time.monotonic() < deadline:
            time.sleep(0.01)
        collected = list(outputs[: case.batches])
        times = list(input_times)
    finally:
        ssc.stop(stopSparkContext=False)
        if checkpoint_dir:
            shutil.rmtree(checkpoint_dir, ignore_errors=True)

    if len(collected) < case.batches:
        return {
            "case": case.name,
            "error": "Timeout",
            "message": "%d of %d batches within %s s" % (len(collected), case.batches, timeout),
            "phase": "run",
        }
    first = min(times) if times else None
    batch_ms = round(case.batch_duration * 1000)
    batches = []
    for position, (t, elements) in enumerate(collected):
        if t is None or first is None:
            index = position + 1
        else:
            offset_ms = round((t - first).total_seconds() * 1000)
            index = offset_ms // batch_ms + 1
        reprs = [repr(e) for e in elements]
        if not case.ordered:
            reprs.sort()
        batches.append({"batch": index, "output": reprs})
    return {"case": case.name, "ordered": case.ordered, "batches": batches}


_contexts = {}


def shared_context(modules):
    """The SparkContext run_case uses when it is given none (made on first use)."""
    key = id(modules.SparkContext)
    if key not in _contexts:
        _contexts[key] = make_context(modules)
    return _contexts[key]


def stop_shared_context(modules):
    sc = _contexts.pop(id(modules.SparkContext), None)
    if sc is not None:
        sc.stop()


def expected_path(name):
    return os.path.join(EXPECTED_DIR, name + ".json")


def load_expected(name):
    with open(expected_path(name), encoding="utf-8") as f:
        return json.load(f)


def dump(result):
    """The exact text record.py writes (stable key order, one trailing newline)."""
    return json.dumps(result, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv):
    """python runner.py [--engine pyspark|ember] [--check] [CASE ...]

    Runs the named cases (all without names) and prints their results, or
    with --check compares each with expected/<case>.json and prints one line
    per case (exit status 1 if any differs)."""
    import argparse

    sys.path.insert(0, HERE)
    from cases import CASES, CASES_BY_NAME

    parser = argparse.ArgumentParser(description=main.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", default="pyspark", choices=["pyspark", "ember"])
    parser.add_argument("--check", action="store_true")
    parser.add_argument("cases", nargs="*")
    args = parser.parse_args(argv)
    mods = engine_modules(args.engine)
    selected = [CASES_BY_NAME[n] for n in args.cases] if args.cases else CASES
    failed = 0
    try:
        for case in selected:
            result = run_case(mods, case)
            if not args.check:
                sys.stdout.write(dump(result))
                continue
            expected = load_expected(case.name)
            ok = result == expected
            failed += not ok
            print("%-4s %s" % ("ok" if ok else "DIFF", case.name), flush=True)
            if not ok:
                print("  expected: " + json.dumps(expected, ensure_ascii=False))
                print("  got:      " + json.dumps(result, ensure_ascii=False))
    finally:
        stop_shared_context(mods)
    if args.check:
        print("%d of %d cases differ" % (failed, len(selected)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
