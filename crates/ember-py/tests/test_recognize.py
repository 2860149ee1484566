"""The one-line functions the engine runs itself (ember._recognize): recognised exactly, and
with Python's results and errors wherever the native operation does not apply."""

import operator

import pytest

from ember import _recognize


def test_the_word_count_lambdas_are_recognised():
    assert _recognize.unary(lambda line: line.split(" ")) == ("split", " ")
    assert _recognize.unary(lambda w: (w, 1)) == ("pair_with", 1)
    assert _recognize.unary(lambda w: (w, "x")) == ("pair_with", "x")
    assert _recognize.binary(lambda a, b: a + b) == "add"
    assert _recognize.binary(lambda a, b: a - b) == "sub"
    assert _recognize.binary(operator.add) == "add"


@pytest.mark.parametrize("f", [
    lambda w: (1, w),              # constant first
    lambda w: w.split(),           # whitespace split: Python's own rules
    lambda w: w.split(""),         # an error in Python
    lambda w: w.split(" ", 1),     # maxsplit
    lambda w: w.rsplit(" "),
    lambda w: (w, [1]),            # a mutable constant is not a constant here
    lambda w, sep=" ": w.split(sep),
])
def test_other_unary_functions_stay_in_python(f):
    assert _recognize.unary(f) is None


def test_closures_and_other_binary_functions_stay_in_python():
    one = 1
    assert _recognize.unary(lambda w: (w, one)) is None
    assert _recognize.binary(lambda a, b: a * b) is None
    assert _recognize.binary(lambda a, b: b + a) is None
    assert _recognize.binary(max) is None


def test_native_steps_give_pythons_results(ssc, collect):
    s = ssc()
    lines = s.queueStream([["a b  a", "", "c"]])
    words = lines.flatMap(lambda line: line.split(" "))
    counts = words.map(lambda w: (w, 1)).reduceByKey(lambda a, b: a + b)
    out = collect(counts)
    big = collect(s.queueStream([[("k", 2**62), ("k", 2**62), ("s", "x"), ("s", "y")]])
                  .reduceByKey(lambda a, b: a + b))
    s.start()
    # Python's split(" ") keeps the empty strings between two spaces and of an empty line.
    assert out.wait(1) == [[("", 2), ("a", 2), ("b", 1), ("c", 1)]]
    # An int sum beyond 64 bits is computed by Python, not wrapped.
    assert big.wait(1) == [[("k", 2**63), ("s", "xy")]]


def test_a_value_split_cannot_take_fails_as_python_does(ssc, collect):
    s = ssc()
    out = collect(s.queueStream([[1]]).flatMap(lambda line: line.split(" ")))
    s.start()
    with pytest.raises(AttributeError, match="'int' object has no attribute 'split'"):
        s.awaitTerminationOrTimeout(60)
