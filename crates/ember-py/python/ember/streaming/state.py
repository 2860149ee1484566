"""``mapWithState`` for Python: an ember extension, as Spark's Scala/Java ``mapWithState``.

PySpark has no ``mapWithState``; Scala's is the stateful operation Spark recommends over
``updateStateByKey``, because a batch costs in proportion to its records, not to the whole
state. ember's Python package offers it with Scala's names::

    from ember.streaming import State, StateSpec

    def running_count(word, one, state):
        total = (state.get() if state.exists() else 0) + one
        state.update(total)
        return (word, total)

    counts = pairs.mapWithState(StateSpec.function(running_count).timeout(3600))
    counts.pprint()                      # (word, count so far) for every record
    counts.stateSnapshots().pprint()     # every key's state after each batch

The engine hands Python each worker's batch in one call (every key with records, and every key
timing out), and the loop below runs the user's function record by record with Scala's
meaning: a key's records in arrival order, each seeing the state the previous one left.
"""

from __future__ import annotations

import datetime

__all__ = ["State", "StateSpec"]


class State:
    """A key's state during one call of a ``mapWithState`` function (Scala's ``State``)."""

    __slots__ = ("_exists", "_value", "_timing_out", "_removed", "_updated")

    def __init__(self, exists, value, timing_out):
        self._exists = exists
        self._value = value
        self._timing_out = timing_out
        self._removed = False
        self._updated = False

    def exists(self):
        """Whether the key has a state."""
        return self._exists

    def get(self):
        """The state; raises ``ValueError("State is not set")`` when there is none (Scala's
        ``NoSuchElementException``)."""
        if not self._exists:
            raise ValueError("State is not set")
        return self._value

    def getOption(self):
        """The state, or ``None`` when there is none."""
        return self._value if self._exists else None

    def update(self, newState):
        """Sets the state."""
        if self._removed:
            raise ValueError("requirement failed: Cannot update the state after it has been removed")
        if self._timing_out:
            raise ValueError("requirement failed: Cannot update the state that is timing out")
        self._exists, self._value, self._updated = True, newState, True

    def remove(self):
        """Removes the key's state."""
        if self._timing_out:
            raise ValueError("requirement failed: Cannot remove the state that is timing out")
        if self._removed:
            raise ValueError(
                "requirement failed: Cannot remove the state that has already been removed")
        self._exists, self._value, self._removed = False, None, True

    def isTimingOut(self):
        """Whether this is the key's last call: it had no records for the spec's timeout, and
        its state is dropped after the call."""
        return self._timing_out

    def isUpdated(self):
        """Whether this call updated the state."""
        return self._updated

    def isRemoved(self):
        """Whether this call removed the state."""
        return self._removed

    def __repr__(self):
        return repr(self._value) if self._exists else "<state not set>"


class StateSpec:
    """What ``mapWithState`` does: the function, and optionally an initial state, a partition
    count and an idle timeout (Scala's ``StateSpec``)."""

    def __init__(self, func, with_time):
        self._func = func
        self._with_time = with_time
        self._initial = None
        self._partitions = None
        self._timeout_s = None

    @staticmethod
    def function(mappingFunction):
        """``mappingFunction(key, value, state)`` returns what to emit for the record (always
        emitted); or ``mappingFunction(time, key, value, state)``, chosen by its number of
        parameters, returns what to emit or ``None`` for nothing. ``value`` is ``None`` in the
        call of a key that is timing out."""
        from ember.streaming.dstream import _arity

        arity = _arity(mappingFunction)
        if arity not in (3, 4):
            raise ValueError(
                "a mapWithState function takes (key, value, state) or (time, key, value, state), "
                "got %d parameters" % arity)
        return StateSpec(mappingFunction, arity == 4)

    def initialState(self, rdd):
        """``(key, state)`` pairs the keys start with (an RDD or a list)."""
        self._initial = rdd
        return self

    def numPartitions(self, numPartitions):
        """The number of partitions of the state."""
        self._partitions = max(int(numPartitions), 1)
        return self

    def partitioner(self, partitioner):  # pragma: no cover - Scala's name, not PySpark's
        raise NotImplementedError("use numPartitions: ember's Python state is hash partitioned")

    def timeout(self, idleDuration):
        """Keys without records for ``idleDuration`` seconds get a last call
        (``state.isTimingOut()``) and lose their state."""
        self._timeout_s = idleDuration
        return self

    def _batch_function(self):
        """The function the engine calls once per worker per batch (see the module doc)."""
        func, with_time = self._func, self._with_time

        def run(time_ms, calls):
            when = datetime.datetime.fromtimestamp(time_ms / 1000.0) if with_time else None
            outcomes = []
            for key, values, has_state, value, timing_out in calls:
                exists, emitted = has_state, []
                if timing_out:
                    state = State(True, value, True)
                    out = func(when, key, None, state) if with_time else func(key, None, state)
                    if not with_time or out is not None:
                        emitted.append(out)
                    outcomes.append((False, None, emitted))
                    continue
                for v in values:
                    state = State(exists, value, False)
                    out = func(when, key, v, state) if with_time else func(key, v, state)
                    if not with_time or out is not None:
                        emitted.append(out)
                    exists, value = state._exists, state._value
                outcomes.append((exists, value, emitted))
            return outcomes

        return run
