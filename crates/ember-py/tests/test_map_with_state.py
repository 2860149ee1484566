"""``mapWithState`` (an ember extension with Scala's meaning) on real batches."""

import datetime

import pytest

from ember.streaming import State, StateSpec


def running_count(word, one, state):
    total = (state.get() if state.exists() else 0) + one
    state.update(total)
    return (word, total)


def pairs(*words):
    return [(w, 1) for w in words]


def test_each_record_sees_the_state_the_previous_one_left(ssc, collect, tmp_path):
    s = ssc()
    s.checkpoint(str(tmp_path))
    counts = s.queueStream([pairs("a", "b", "a"), [], pairs("b")]).mapWithState(
        StateSpec.function(running_count))
    out = collect(counts, sort=False)
    snapshots = collect(counts.stateSnapshots())
    s.start()
    got = out.wait(3)
    # A key's records in arrival order; keys without records are not called.
    assert sorted(got[0]) == [("a", 1), ("a", 2), ("b", 1)]
    assert [x for x in got[0] if x[0] == "a"] == [("a", 1), ("a", 2)]
    assert got[1:] == [[], [("b", 2)]]
    assert snapshots.wait(3) == [[("a", 2), ("b", 1)], [("a", 2), ("b", 1)], [("a", 2), ("b", 2)]]


def test_idle_keys_time_out_once_and_lose_their_state(ssc, collect, tmp_path):
    s = ssc(0.2)
    s.checkpoint(str(tmp_path))

    def count_or_report(word, one, state):
        if state.isTimingOut():
            return "%s timed out with %d" % (word, state.get())
        state.update((state.getOption() or 0) + one)
        return None

    # "a" has records in batch 1 only; with a timeout of 2 batches it gets its last call in the
    # first batch more than 0.4 s after its last update: batch 4.
    spec = StateSpec.function(count_or_report).timeout(0.4)
    mapped = s.queueStream([pairs("a", "a"), [], [], [], []]).mapWithState(spec)
    out = collect(mapped)
    snapshots = collect(mapped.stateSnapshots())
    s.start()
    assert out.wait(5) == [[None, None], [], [], ["a timed out with 2"], []]
    assert snapshots.wait(5) == [[("a", 2)], [("a", 2)], [("a", 2)], [], []]


def test_the_timed_form_gets_the_batch_time_and_none_emits_nothing(ssc, collect, tmp_path):
    s = ssc()
    s.checkpoint(str(tmp_path))

    def first_seen(time, word, one, state):
        if state.exists():
            return None
        state.update(time)
        return (word, isinstance(time, datetime.datetime))

    out = collect(s.queueStream([pairs("a"), pairs("a", "b")])
                  .mapWithState(StateSpec.function(first_seen)))
    s.start()
    assert out.wait(2) == [[("a", True)], [("b", True)]]


def test_initial_state_numpartitions_and_remove(ssc, collect, tmp_path):
    s = ssc()
    s.checkpoint(str(tmp_path))

    def count_until_reset(word, n, state):
        if n == 0:
            state.remove()
            return (word, "reset")
        state.update((state.getOption() or 0) + n)
        return (word, state.get())

    spec = (StateSpec.function(count_until_reset)
            .initialState([("a", 10)]).numPartitions(3))
    mapped = s.queueStream([[("a", 1)], [("a", 0), ("b", 1)], [("a", 1)]]).mapWithState(spec)
    out = collect(mapped)
    state = collect(mapped.stateSnapshots())
    s.start()
    assert out.wait(3) == [[("a", 11)], [("a", "reset"), ("b", 1)], [("a", 1)]]
    assert state.wait(3) == [[("a", 11)], [("b", 1)], [("a", 1), ("b", 1)]]


def test_an_exception_fails_the_batch_keeps_the_state_and_is_raised(ssc, collect, tmp_path):
    s = ssc()
    s.checkpoint(str(tmp_path))

    def fussy(word, one, state):
        if word == "boom":
            raise KeyError("boom")
        return running_count(word, one, state)

    # One partition: one call holds every key of a batch.
    out = collect(s.queueStream([pairs("a"), pairs("boom", "a"), pairs("a"), []])
                  .mapWithState(StateSpec.function(fussy).numPartitions(1)))
    s.start()
    got = out.wait(3)
    with pytest.raises(KeyError, match="boom"):
        s.awaitTerminationOrTimeout(60)
    # The failed batch had no output, and "a" went on from the state it had before it.
    assert got[:2] == [[("a", 1)], [("a", 2)]]


def test_spark_rules_of_state():
    st = State(False, None, False)
    with pytest.raises(ValueError, match="State is not set"):
        st.get()
    st.update(1)
    assert st.exists() and st.get() == 1 and st.isUpdated()
    st.remove()
    assert not st.exists() and st.getOption() is None and repr(st) == "<state not set>"
    with pytest.raises(ValueError, match="Cannot update the state after it has been removed"):
        st.update(2)
    with pytest.raises(ValueError, match="Cannot remove the state that has already been removed"):
        st.remove()
    timing_out = State(True, 5, True)
    with pytest.raises(ValueError, match="Cannot update the state that is timing out"):
        timing_out.update(6)
    with pytest.raises(ValueError, match="Cannot remove the state that is timing out"):
        timing_out.remove()


def test_a_function_of_another_arity_is_refused_at_once():
    with pytest.raises(ValueError, match="takes \\(key, value, state\\)"):
        StateSpec.function(lambda k, v: v)
