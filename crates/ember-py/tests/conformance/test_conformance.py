"""pytest: every conformance case on ember against the PySpark 3.5.3 recording.

Skipped when the `ember` package is not importable. `runner.run_case` gives
the same JSON structure that record.py wrote from PySpark.
"""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import pprint_case  # noqa: E402
import runner  # noqa: E402
from cases import CASES  # noqa: E402

import ember  # noqa: E402,F401  (a missing package fails the suite, it is never skipped)

# Where ember deliberately differs from the recording, what it does instead. Each entry is listed
# in the README's "From PySpark" section.
RAISES_VALUE_ERROR = "ember raises ValueError with the JVM's message where PySpark wraps it in Py4JJavaError"
NO_SERIALIZER_QUIRK = ("PySpark's ssc.union refuses queue streams whose parallelize batch sizes differ "
                       "('same serializer'); ember has one value format and unions them")
BATCH_PARTITIONS = ("a stream has one partition count for all its batches (spark.default.parallelism "
                    "for a queueStream): glom/mapPartitions show empty partitions up to that count, "
                    "and the empty ones of a batch with more partitions are not shown")
DIFFERENCES = {
    "error_stateful_without_checkpoint": RAISES_VALUE_ERROR,
    "error_window_inv_without_checkpoint": RAISES_VALUE_ERROR,
    "error_ssc_union_different_serializer": NO_SERIALIZER_QUIRK,
    "error_ssc_union_queue_streams": NO_SERIALIZER_QUIRK,
    "glom_1_slice": BATCH_PARTITIONS,
    "mapPartitions_3_slices": BATCH_PARTITIONS,
    "queueStream_rdds": BATCH_PARTITIONS,
    "partitionBy_func": BATCH_PARTITIONS,
}


def _as_ember_does(case, expected):
    """The recording turned into what ember does instead, for the cases of DIFFERENCES."""
    reason = DIFFERENCES[case.name]
    if reason is RAISES_VALUE_ERROR:
        assert expected["error"] == "Py4JJavaError"
        return {"case": case.name, "error": "ValueError", "message": expected["message"],
                "phase": expected["phase"]}
    if reason is NO_SERIALIZER_QUIRK:
        return None  # checked by test_union_of_queue_streams_of_any_batch_size
    return None


@pytest.fixture(scope="module", autouse=True)
def _own_contexts():
    """The cases make and stop their own SparkContexts: one left active by another test module
    (only one may run at a time) is stopped first, and theirs is stopped after them."""
    from ember import SparkContext

    active = SparkContext._active_spark_context
    if active is not None:
        active.stop()
    yield
    runner.stop_shared_context(runner.ember_modules())


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_case_matches_pyspark(case):
    got = runner.run_case(runner.ember_modules(), case)
    expected = runner.load_expected(case.name)
    if case.name not in DIFFERENCES:
        assert got == expected
        return
    instead = _as_ember_does(case, expected)
    if instead is not None:
        assert got == instead
    elif DIFFERENCES[case.name] is NO_SERIALIZER_QUIRK:
        assert "error" not in got, got
        flat = sorted(x for b in got["batches"] for x in b["output"])
        assert flat, got
    else:
        # Same elements, batch by batch, in the same order; only empty partitions differ.
        def nonempty(result):
            return [[x for x in b["output"] if x != "[]"] for b in result["batches"]]
        assert nonempty(got) == nonempty(expected)


def test_pprint_matches_pyspark():
    with open(os.path.join(HERE, "expected", "pprint.txt"), "rb") as f:
        want = f.read()
    got = pprint_case.capture(sys.executable, "ember")
    assert pprint_case.normalise(got) == pprint_case.normalise(want)
