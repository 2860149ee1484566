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

pytest.importorskip("ember")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_case_matches_pyspark(case):
    assert runner.run_case(runner.ember_modules(), case) == runner.load_expected(case.name)


def test_pprint_matches_pyspark():
    with open(os.path.join(HERE, "expected", "pprint.txt"), "rb") as f:
        want = f.read()
    got = pprint_case.capture(sys.executable, "ember")
    assert pprint_case.normalise(got) == pprint_case.normalise(want)
