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


def _running_sum(new_values, last_sum):
    return sum(new_values) + (last_sum or 0)


def test_the_running_sum_update_is_recognised():
    # The seed notebook's updateFunc, under any parameter names, and with the terms swapped.
    assert _recognize.update(_running_sum) == "sum"
    assert _recognize.update(lambda vs, s: (s or 0) + sum(vs)) == "sum"


@pytest.mark.parametrize("f", [
    lambda vs, s: sum(vs) + (s or 1),
    lambda vs, s: sum(vs) - (s or 0),
    lambda vs, s: max(vs) + (s or 0),
    lambda vs, s: sum(vs) + (s or 0.0),    # a float zero: another result type
    lambda vs, s: sum(vs) + (s or False),
    lambda vs, s: sum(vs),
    lambda vs, s=0: sum(vs) + (s or 0),
])
def test_other_update_functions_stay_in_python(f):
    assert _recognize.update(f) is None


def test_a_running_sum_with_another_sum_stays_in_python():
    namespace = {"sum": lambda values: 42}
    exec("def update(vs, s):\n    return sum(vs) + (s or 0)\n", namespace)
    assert _recognize.update(namespace["update"]) is None


def test_the_native_running_sum_gives_pythons_results(ssc, collect, tmp_path):
    s = ssc()
    s.checkpoint(str(tmp_path / "checkpoint"))
    batches = [
        # ints, a sum beyond 64 bits, floats and bools: only the ints are the engine's to add.
        [("a", 1), ("b", 2**62), ("b", 2**62), ("c", 1.5), ("d", True)],
        [("a", 2), ("c", 1), ("e", 3)],
        [],
    ]
    out = collect(s.queueStream(batches).updateStateByKey(_running_sum))
    s.start()
    got = out.wait(3)
    assert got == [
        [("a", 1), ("b", 2**63), ("c", 1.5), ("d", 1)],
        [("a", 3), ("b", 2**63), ("c", 2.5), ("d", 1), ("e", 3)],
        [("a", 3), ("b", 2**63), ("c", 2.5), ("d", 1), ("e", 3)],
    ]
    # Python's types: True summed is the int 1, floats stay floats.
    assert [type(v) for _, v in got[0]] == [int, int, float, int]
